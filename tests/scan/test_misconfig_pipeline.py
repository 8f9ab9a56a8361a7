"""Misconfigurations through `stackwarden scan`: layers, deletions, Terraform modules,
inline suppression, the image config, config:PATH and pre-commit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import shutil
from pathlib import Path

from stackwarden.artifact.build import ImageSpec, LayerFile, layer_tar, write_oci_layout
from stackwarden.core.findings import FindingKind
from stackwarden.scan import ScanOptions, scan

ROOT_DOCKERFILE = b"FROM python:latest\nUSER root\nRUN curl -fsSL https://x.example/i.sh | sh\n"
PRIVILEGED = b"""apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers:
    - name: c
      image: nginx:1.25
      securityContext: {privileged: true}
"""
SUPPRESSED = b"""# stackwarden:ignore all reviewed: debug pod in the test namespace
apiVersion: v1
kind: Pod
metadata: {name: q}
spec:
  containers:
    - name: c
      image: nginx:1.25
      securityContext: {privileged: true}
"""


def _misconfigs(result: object) -> list[object]:
    return [f for f in result.findings  # type: ignore[attr-defined]
            if f.kind is FindingKind.MISCONFIGURATION]


def test_only_what_the_image_ships_is_misconfigured(tmp_path: Path) -> None:
    base = layer_tar([LayerFile("app/Dockerfile", ROOT_DOCKERFILE),
                      LayerFile("app/pod.yaml", PRIVILEGED)])
    top = layer_tar([LayerFile("app/Dockerfile", type="whiteout")])
    write_oci_layout(tmp_path / "img", ImageSpec([base, top], config={"User": "root"}))
    result = scan(f"oci-dir:{tmp_path / 'img'}", scanners=("misconfig",),
                  scan_options=ScanOptions(cache_dir=tmp_path / "cache"))
    paths = {f.location.path for f in _misconfigs(result)}
    assert "/app/pod.yaml" in paths
    assert "/app/Dockerfile" not in paths  # deleted by the top layer: not run by the image
    assert "image-config/config.json" in paths  # the image config (User root)
    # The same image under another name, answered from the whole-image cache: same locations.
    shutil.copytree(tmp_path / "img", tmp_path / "renamed")
    again = scan(f"oci-dir:{tmp_path / 'renamed'}", scanners=("misconfig",),
                 scan_options=ScanOptions(cache_dir=tmp_path / "cache"))
    assert again.timings.get("cached_image") == 1.0
    assert {f.fingerprint for f in _misconfigs(again)} == {
        f.fingerprint for f in _misconfigs(result)}


def test_terraform_module_and_suppression_in_a_directory(tmp_path: Path) -> None:
    infra = tmp_path / "infra"
    infra.mkdir()
    (infra / "bucket.tf").write_text('resource "aws_s3_bucket" "logs" {\n  bucket = "logs"\n}\n')
    (infra / "versioning.tf").write_text(
        'resource "aws_s3_bucket_versioning" "logs" {\n  bucket = aws_s3_bucket.logs.id\n'
        '  versioning_configuration {\n    status = "Enabled"\n  }\n}\n')
    (tmp_path / "debug.yaml").write_bytes(SUPPRESSED)
    result = scan(f"dir:{tmp_path}", scanners=("misconfig",),
                  scan_options=ScanOptions(use_cache=False))
    titles = " ".join(f.title.lower() for f in _misconfigs(result)
                      if f.location.path.endswith("bucket.tf"))
    assert "versioning" not in titles  # the companion resource in another file counts
    assert not [f for f in _misconfigs(result) if f.location.path.endswith("debug.yaml")]
    reasons = {s.reason for s in result.suppressed if s.finding.location.path.endswith(
        "debug.yaml")}
    assert reasons and all("reviewed" in r for r in reasons)


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.run([sys.executable, "-m", "stackwarden", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=180)


def test_config_target(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_bytes(ROOT_DOCKERFILE)
    done = _run("scan", f"config:{tmp_path}", "-q", "-f", "json", "--no-cache", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["scanners"] == ["misconfig"]
    first = doc["findings"][0]
    assert first["kind"] == "misconfiguration" and first["location"]["line"]
    assert {"id", "severity", "remediation", "controls", "message"} <= set(first)


def test_the_pre_commit_hook_entry(tmp_path: Path) -> None:
    import shlex

    import yaml

    hook = yaml.safe_load((Path(__file__).parents[2] / ".pre-commit-hooks.yaml").read_text())[0]
    (tmp_path / "Dockerfile").write_bytes(ROOT_DOCKERFILE)
    (tmp_path / "ok.py").write_text("print('fine')\n")
    entry = shlex.split(hook["entry"])[1:]  # drop the console-script name: run as a module
    done = _run(*entry, "Dockerfile", "ok.py", cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr  # a finding blocks the commit
    assert "Dockerfile" in done.stdout
    clean = _run(*entry, "ok.py", cwd=tmp_path)
    assert clean.returncode == 0, clean.stdout + clean.stderr
