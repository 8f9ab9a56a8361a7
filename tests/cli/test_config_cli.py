"""`stackwarden scan-config` as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

CLI = [sys.executable, "-m", "stackwarden"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120,
                          check=False)


def _tree(root: Path) -> Path:
    (root / "Dockerfile").write_text("FROM alpine:3.20\n# stackwarden:ignore SW-DF-002 builder\n"
                                     "USER root\n")
    (root / "bad.yaml").write_text("apiVersion: v1\nkind: Pod\nmetadata: [\n")
    return root


def test_json_report(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    done = run("scan-config", str(root), "--format", "json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["schema_version"] == "1.0" and report["scanners"] == ["misconfig"]
    assert {f["id"] for f in report["findings"]} == {"SW-DF-005", "SW-DF-012"}
    assert report["findings"][0]["kind"] == "misconfiguration"
    assert report["suppressed"][0]["reason"] == "builder"
    assert report["skipped"][0]["path"] == "bad.yaml"
    assert report["summary"]["by_file_type"] == {"dockerfile": 2}


def test_table_report(tmp_path: Path) -> None:
    done = run("scan-config", str(_tree(tmp_path)))
    assert done.returncode == 0
    assert "SW-DF-012" in done.stdout and "1 suppressed" in done.stdout
    assert "bad.yaml: invalid YAML at line" in done.stdout


def test_policy_error_is_one_line_exit_2(tmp_path: Path) -> None:
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies/p.yaml").write_text("id: X-1\ntitle: t\nseverity: low\n"
                                              "expression: 'object.a =='\n")
    done = run("scan-config", str(_tree(tmp_path)), "--policy-dir", str(tmp_path / "policies"))
    assert done.returncode == 2
    assert "p.yaml: policy X-1: CEL expression `object.a ==` does not compile" in done.stderr


def test_missing_path_and_bad_format(tmp_path: Path) -> None:
    assert run("scan-config", str(tmp_path / "nope")).returncode == 2
    assert run("scan-config", str(tmp_path), "-f", "sarif").returncode == 2
