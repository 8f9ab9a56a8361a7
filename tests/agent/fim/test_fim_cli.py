"""`stackwarden fim` as a user runs it: JSON and table output, exit codes, errors."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from stackwarden.agent.fim.store import BaselineStore
from tests.helpers.cli import run_cli
from tests.helpers.fimtree import OLD_TIME


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return run_cli("fim", *args)


def test_baseline_then_check_json(tmp_path: Path) -> None:
    root = tmp_path / "etc"
    root.mkdir()
    conf = root / "app.conf"
    conf.write_text('user = "deploy"\npassword = "Zq7vX2mK9pLw4RtY"\n')
    os.utime(root, (OLD_TIME, OLD_TIME))
    db = tmp_path / "fim.db"
    done = run("baseline", str(root), "--db", str(db), "--diff", f"{root}/*")
    assert done.returncode == 0, done.stderr
    assert "baseline of 2 paths" in done.stderr
    assert os.stat(db).st_mode & 0o777 == 0o600
    assert run("check", "--db", str(db)).returncode == 0
    conf.write_text('user = "deploy"\npassword = "Hn3bT8wQ5sJd6FgA"\nport = 8080\n')
    done = run("check", "--db", str(db), "--format", "json")
    assert done.returncode == 1, done.stderr  # something changed
    doc = json.loads(done.stdout)
    assert doc["schema_version"] == "1.0" and doc["summary"]["modified"] == 1
    change = next(c for c in doc["changes"] if c["path"] == str(conf))
    assert change["change"] == "modified" and change["before"]["size"] != change["after"]["size"]
    assert set(change) >= {"path", "change", "before", "after"}
    diff = change["diff"]
    assert "+port = 8080" in diff
    assert "Zq7vX2mK9pLw4RtY" not in diff and "Hn3bT8wQ5sJd6FgA" not in diff  # redacted
    assert '-password = "Zq7v' in diff and '+password = "Hn3b' in diff
    with BaselineStore(db) as store:  # the kept copy is redacted too
        kept = store.content(str(conf))
    assert kept is not None and b'password = "Zq7v' in kept and b"Zq7vX2mK9pLw4RtY" not in kept


def test_check_table_and_update(tmp_path: Path) -> None:
    (tmp_path / "t").mkdir()
    target = tmp_path / "t" / "f"
    target.write_text("x\n")
    db = tmp_path / "fim.db"
    assert run("baseline", str(tmp_path / "t"), "--db", str(db)).returncode == 0
    target.chmod(0o600)
    done = run("check", "--db", str(db), "--update")
    assert done.returncode == 1
    assert f"metadata  {target}  mode 0644→0600" in done.stdout
    assert "(accepted into the baseline)" in done.stderr
    done = run("check", "--db", str(db))
    assert (done.returncode, done.stdout) == (0, "no changes\n")


def test_errors_are_one_line(tmp_path: Path) -> None:
    done = run("check", "--db", str(tmp_path / "missing.db"))
    assert done.returncode == 3
    assert done.stderr.strip().splitlines() == [
        f"error: {tmp_path}/missing.db: no baseline database here (run `stackwarden fim "
        "baseline` first)"]
    done = run("baseline", str(tmp_path / "nothing"), "--db", str(tmp_path / "x.db"))
    assert done.returncode == 3 and "Traceback" not in done.stderr
    assert "none of the paths could be read" in done.stderr
    done = run("check", "--db", str(tmp_path / "x.db"), "--format", "xml")
    assert done.returncode == 2 and "--format must be json or table" in done.stderr
