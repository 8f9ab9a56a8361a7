"""`stackwarden inventory` as a user runs it: snapshot of a root, diff, errors."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.helpers.cli import run_cli


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return run_cli("inventory", *args)


def test_snapshot_and_diff(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    (root / "etc/group").write_text("root:x:0:\n")
    (root / "etc/sudoers").write_text("root ALL=(ALL) ALL\n")
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    done = run("snapshot", "--root", str(root), "-o", str(first))
    assert done.returncode == 0, done.stderr
    doc = json.loads(first.read_text())
    assert doc["schema_version"] == "1.0" and doc["counts"]["users"] == 1
    assert f"note: processes: only on the running host (root /), not on {root}" in done.stderr
    (root / "etc/sudoers").write_text("root ALL=(ALL) ALL\nbackup ALL=(ALL) NOPASSWD: ALL\n")
    assert run("snapshot", "--root", str(root), "-o", str(second), "-q").returncode == 0
    done = run("diff", str(first), str(second))
    assert done.returncode == 1
    assert "sudoers  added   /etc/sudoers backup ALL=(ALL) NOPASSWD: ALL" in done.stdout
    done = run("diff", str(first), str(first), "--format", "json")
    assert done.returncode == 0 and json.loads(done.stdout)["sections"] == {}


def test_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"hello": 1}')
    done = run("diff", str(bad), str(bad))
    assert done.returncode == 3
    assert done.stderr.strip() == (f"error: {bad}: not a StackWarden inventory snapshot "
                                   "(no schema_version or sections)")
    done = run("snapshot", "--section", "kittens", "--root", str(tmp_path))
    assert done.returncode == 2 and "unknown inventory section(s) kittens" in done.stderr
    done = run("snapshot", "--root", str(tmp_path / "nope"))
    assert done.returncode == 3 and "not a directory" in done.stderr
