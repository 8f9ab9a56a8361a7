"""`stackwarden scan` output and gate: several reports from one scan, atomic files, exit codes.

The pipeline itself (stackwarden.scan.scan) is replaced by the fixed sample result: these tests
are about what the command does with a result (reports, policy, gate, exit codes).
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from stackwarden.cli.main import app
from stackwarden.scan import ScanResult
from tests.report.sample import sample_result

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "policy"


@pytest.fixture()
def scanned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []

    def fake_scan(target: str, **kwargs: Any) -> ScanResult:
        calls.append({"target": target, **kwargs})
        return sample_result(tmp_path)

    monkeypatch.setattr("stackwarden.scan.scan", fake_scan)
    monkeypatch.chdir(tmp_path)
    return calls


def run(*args: str) -> Any:
    return CliRunner().invoke(app, ["scan", *args], catch_exceptions=False)


def test_several_reports_from_one_scan(tmp_path: Path, scanned: list[dict[str, Any]]) -> None:
    done = run("dir:.", "-q", "-f", "table", "-f", "json:out/report.json", "-f",
               f"sarif:{tmp_path}/report.sarif", "--format", "junit:junit.xml", "-f",
               "html:report.html", "-f", "markdown:comment.md", "-f", "cyclonedx:bom.json",
               "-f", "gitlab:gl-container-scanning-report.json")
    # out/ does not exist: a usage error before scanning (the directory is not created for you)
    assert done.exit_code == 2 and "no such directory 'out'" in done.output
    assert scanned == []
    (tmp_path / "out").mkdir()
    done = run("dir:.", "-q", "-f", "table", "-f", "json:out/report.json", "-f",
               f"sarif:{tmp_path}/report.sarif", "--format", "junit:junit.xml", "-f",
               "html:report.html", "-f", "markdown:comment.md", "-f", "cyclonedx:bom.json",
               "-f", "gitlab:gl-container-scanning-report.json")
    assert done.exit_code == 0, done.output
    assert len(scanned) == 1
    assert "8 findings" in done.stdout  # the table on stdout
    assert json.loads((tmp_path / "out" / "report.json").read_text())["summary"]["findings"] == 8
    assert json.loads((tmp_path / "report.sarif").read_text())["version"] == "2.1.0"
    assert ET.parse(tmp_path / "junit.xml").getroot().get("failures") == "8"
    assert (tmp_path / "report.html").read_text().startswith("<!DOCTYPE html>")
    assert (tmp_path / "comment.md").read_text().startswith("## StackWarden scan")
    assert json.loads((tmp_path / "bom.json").read_text())["bomFormat"] == "CycloneDX"
    assert (tmp_path / "gl-container-scanning-report.json").exists()
    assert not [p for p in tmp_path.rglob(".*") if p.name.startswith((".report", ".junit"))]


def test_output_flag_and_default(tmp_path: Path, scanned: list[dict[str, Any]]) -> None:
    done = run("dir:.", "-q", "-f", "json", "-o", "r.json")
    assert done.exit_code == 0 and done.stdout == ""
    assert json.loads((tmp_path / "r.json").read_text())["schema_version"] == "1.1"
    done = run("dir:.", "-q")
    assert done.exit_code == 0 and "CVE-2023-0286" in done.stdout


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["-f", "pdf"], "unknown format 'pdf'"),
        (["-f", "json", "-f", "sarif"], "only one report can go to standard output"),
        (["-f", "json:a", "-f", "sarif:a"], "is named by two reports"),
        (["-f", "json:"], "no file after ':'"),
        (["-f", "json:a", "-o", "b"], "--output names one file"),
        (["--fail-on", "severe"], "unknown severity 'severe'"),
        (["--exit-code", "300"], "between 0 and 255"),
        (["--policy", "missing.yaml"], "no such policy file"),
        (["--vex", "missing.json"], "no such VEX document"),
    ],
)
def test_usage_errors_exit_2_before_scanning(scanned: list[dict[str, Any]], args: list[str],
                                             needle: str) -> None:
    done = run("dir:.", "-q", *args)
    assert done.exit_code == 2, done.output
    assert needle in done.output
    assert scanned == []  # a bad configuration fails fast, before the (long) scan


def test_bad_policy_ignore_and_vex_files_name_file_and_line(
        tmp_path: Path, scanned: list[dict[str, Any]]) -> None:
    (tmp_path / "stackwarden.yaml").write_text("gate:\n  rules:\n    - name: x\n      when:\n"
                                               "        kind: secrets\n")
    done = run("dir:.", "-q")
    assert done.exit_code == 2 and f"{tmp_path}/stackwarden.yaml:5" in done.output
    (tmp_path / "stackwarden.yaml").unlink()
    (tmp_path / ".stackwardenignore").write_text("ids:\n  - id: CVE-1\n")
    done = run("dir:.", "-q")
    assert done.exit_code == 2 and f"{tmp_path}/.stackwardenignore:2" in done.output
    (tmp_path / ".stackwardenignore").unlink()
    (tmp_path / "bad.json").write_text('{"bomFormat": "CycloneDX",\n "vulnerabilities": [\n'
                                       ' {"id": "CVE-1", "analysis": {"state": "ok"}}]}')
    done = run("dir:.", "-q", "--vex", "bad.json")
    assert done.exit_code == 2 and "bad.json:3" in done.output
    assert scanned == []


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        ([], 0, None),
        (["--fail-on", "critical"], 1, "gate failed: fail-on-critical (--fail-on): 2 findings"),
        (["--fail-on", "critical", "--exit-code", "13"], 13, "gate failed: fail-on-critical"),
        (["--fail-on", "critical", "--exit-code", "0"], 0, "gate failed: fail-on-critical"),
        (["--exit-code", "4"], 4, "gate failed: fail-on-unknown (--exit-code): 8 findings"),
    ],
)
def test_gate_exit_codes(scanned: list[dict[str, Any]], args: list[str], code: int,
                         needle: str | None) -> None:
    done = run("dir:.", "-q", "-f", "json:r.json", *args)
    assert done.exit_code == code, done.output
    if needle:
        assert needle in done.output
    assert Path("r.json").exists()  # reports are written whatever the gate decides


def test_policy_file_in_working_directory(tmp_path: Path,
                                          scanned: list[dict[str, Any]]) -> None:
    (tmp_path / "stackwarden.yaml").write_text(
        "gate:\n  exit_code: 6\n  rules:\n    - name: no-malware\n      when: {kind: malware}\n")
    (tmp_path / ".stackwardenignore").write_text(
        "paths:\n  - path: tmp/**\n    reason: scratch space\n    kinds: [malware]\n")
    done = run("dir:.", "-q", "-f", "json:r.json")
    assert done.exit_code == 0, done.output  # the only malware finding is ignored
    doc = json.loads((tmp_path / "r.json").read_text())
    assert any(s["reason"] == "ignored: scratch space" for s in doc["suppressed"])
    (tmp_path / ".stackwardenignore").unlink()
    done = run("dir:.", "-q", "-f", "json:r.json")
    assert done.exit_code == 6 and "gate failed: no-malware" in done.output


def test_vex_flag(tmp_path: Path, scanned: list[dict[str, Any]]) -> None:
    done = run("dir:.", "-q", "-f", "json:r.json", "--vex", str(FIXTURES / "openvex.json"),
               "--fail-on", "high")
    assert done.exit_code == 1
    doc = json.loads((tmp_path / "r.json").read_text())
    vex = [s for s in doc["suppressed"] if s["source"] == "vex"]
    assert {s["finding"]["id"] for s in vex} == {"CVE-2023-32681", "CVE-2023-4863"}


def test_report_that_cannot_be_written_is_exit_3_with_nothing_partial(
        tmp_path: Path, scanned: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch) -> None:
    """The disk fills up while the second report is written: no report is left at all."""
    from stackwarden.cli import common

    real_fdopen = os.fdopen
    opened: list[int] = []

    class FullDisk:
        def __init__(self, handle: Any) -> None:
            self.handle = handle

        def __enter__(self) -> FullDisk:  # noqa: PYI034
            return self

        def __exit__(self, *exc: object) -> None:
            self.handle.close()

        def write(self, data: bytes) -> int:
            raise OSError(28, "No space left on device")

    def fdopen(fd: int, mode: str) -> Any:
        opened.append(fd)
        handle = real_fdopen(fd, mode)
        return handle if len(opened) == 1 else FullDisk(handle)

    monkeypatch.setattr(common.os, "fdopen", fdopen)
    (tmp_path / "old.sarif").write_text("previous report")
    done = run("dir:.", "-q", "-f", "json:ok.json", "-f", "sarif:old.sarif")
    assert done.exit_code == 3, done.output
    assert "old.sarif: cannot write the report: No space left on device" in done.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.sarif"]
    assert (tmp_path / "old.sarif").read_text() == "previous report"


@pytest.mark.parametrize("target", ["adir", "nodir/r.json"])
def test_report_paths_checked_before_scanning(tmp_path: Path, scanned: list[dict[str, Any]],
                                              target: str) -> None:
    (tmp_path / "adir").mkdir()
    done = run("dir:.", "-q", "-f", f"json:{target}")
    assert done.exit_code == 2 and scanned == []
