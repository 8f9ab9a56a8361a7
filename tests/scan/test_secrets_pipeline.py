"""Secrets through `stackwarden scan`: every layer, deleted copies, the image config, git history."""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

from stackwarden.artifact.build import ImageSpec, LayerFile, layer_tar, write_oci_layout
from stackwarden.core.findings import FindingKind
from stackwarden.scan import ScanOptions, scan
from tests.helpers.fake_secrets import GENERATORS

TOKEN = GENERATORS["github-pat"](random.Random(3)).secret
STRIPE = GENERATORS["stripe-live"](random.Random(4)).secret


def _image(path: Path, *, delete: bool) -> str:
    base = layer_tar([LayerFile("app/settings.py", f'GITHUB_TOKEN = "{TOKEN}"\n'.encode()),
                      LayerFile("app/readme.txt", b"nothing here\n")])
    top = [LayerFile("app/main.py", b"print('hi')\n")]
    if delete:
        top.append(LayerFile("app/settings.py", type="whiteout"))
    config = {"Env": [f"STRIPE_KEY={STRIPE}", "PATH=/usr/bin"]}
    write_oci_layout(path, ImageSpec([base, layer_tar(top)], config=config, compress=False))
    return f"oci-dir:{path}"


def _secrets(result: object) -> list[object]:
    return [f for f in result.findings if f.kind is FindingKind.SECRET]  # type: ignore[attr-defined]


def test_deleted_secret_and_image_config(tmp_path: Path) -> None:
    opts = ScanOptions(cache_dir=tmp_path / "cache")
    result = scan(_image(tmp_path / "img", delete=True), scanners=("secret",), scan_options=opts)
    layers = [layer.diff_id for layer in result.sbom.artifact.layers]
    found = {(f.id, f.location.path, layers.index(f.location.layer) if f.location.layer in
              layers else None, f.evidence.get("deleted_in_later_layer", False))
             for f in _secrets(result)}
    assert ("github-pat", "/app/settings.py", 0, True) in found
    config_hits = [f for f in _secrets(result) if "stripe" in f.id]
    assert config_hits, found
    assert all(TOKEN not in str(f.evidence) for f in _secrets(result))  # redacted


def test_deleted_flag_follows_the_rebuild_not_the_cache(tmp_path: Path) -> None:
    opts = ScanOptions(cache_dir=tmp_path / "cache")
    kept = scan(_image(tmp_path / "a", delete=False), scanners=("secret",), scan_options=opts)
    gone = scan(_image(tmp_path / "b", delete=True), scanners=("secret",), scan_options=opts)
    assert gone.timings["cached_layers:secret"] == 1  # the base layer came from the cache
    flag = {r: next(f.evidence.get("deleted_in_later_layer", False) for f in _secrets(res)
                    if f.location.path == "/app/settings.py")
            for r, res in (("kept", kept), ("gone", gone))}
    assert flag == {"kept": False, "gone": True}


def test_repo_history(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    (repo / "config.py").write_text(f'TOKEN = "{TOKEN}"\n')
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "add token"], check=True)
    (repo / "config.py").write_text("TOKEN = None\n")
    subprocess.run([*git, "commit", "-qam", "remove token"], check=True)
    result = scan(f"repo:{repo}", scanners=("secret",), scan_options=ScanOptions(
        cache_dir=tmp_path / "cache"))
    (finding,) = _secrets(result)
    assert finding.id == "github-pat" and finding.location.path == "config.py"
    assert finding.location.commit and finding.location.line == 1


def test_several_files_like_pre_commit(tmp_path: Path, monkeypatch: object) -> None:
    import os
    import sys

    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "settings.py").write_text(f'TOKEN = "{TOKEN}"\n')
    (tmp_path / "app" / "clean.py").write_text("print('hello')\n")
    (tmp_path / "unstaged.py").write_text(f'OTHER = "{TOKEN}"\n')
    done = subprocess.run([sys.executable, "-m", "stackwarden", "scan", "--scanners", "secret",
                           "--fail-on", "unknown", "-q", "-f", "json", "--no-cache",
                           "app/settings.py", "app/clean.py"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert done.returncode == 1, done.stderr
    import json

    doc = json.loads(done.stdout)
    assert [(f["id"], f["location"]["path"]) for f in doc["findings"]] == [
        ("github-pat", "/app/settings.py")]  # the unstaged file is not read
