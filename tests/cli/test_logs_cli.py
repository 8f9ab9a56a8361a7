"""`stackwarden logs check` as a user runs it: JSON and table output, options, bad rules."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

CLI = [sys.executable, "-m", "stackwarden", "logs", "check"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120,
                          check=False)


@pytest.fixture()
def auth_log(tmp_path: Path) -> Path:
    path = tmp_path / "auth.log"
    lines = [f"Nov 29 06:00:{s:02d} web1 sshd[{900 + s}]: Failed password for root from "
             f"198.51.100.7 port {4000 + s} ssh2" for s in range(0, 50, 10)]
    lines.append("Nov 29 06:01:00 web1 sudo:  mallory : TTY=pts/1 ; PWD=/tmp ; USER=root ; "
                 "COMMAND=/bin/bash")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_json(auth_log: Path) -> None:
    done = run(str(auth_log), "--format", "json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["schema_version"] == 1 and doc["summary"]["lines"] == 6
    assert doc["files"][0]["format"] == "syslog"
    brute = [a for a in doc["alerts"] if a["title"] == "SSH brute force"]
    assert [(a["group"], a["count"], a["level"]) for a in brute] == [
        ({"src_ip": "198.51.100.7"}, 5, "high")]
    assert brute[0]["first"].endswith("06:00:00Z") or brute[0]["first"].endswith(":00:00Z")
    assert "lines/s" in done.stderr


def test_table_and_options(auth_log: Path) -> None:
    done = run(str(auth_log), "--var", "sudo_root_allowed_users=mallory",
               "--set", "stackwarden_ssh_brute_force.threshold=6")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "no alerts\n"
    table = run(str(auth_log), "-q")
    header, *rows = table.stdout.splitlines()
    assert header.split() == ["LEVEL", "RULE", "GROUP", "COUNT", "FIRST", "LAST"]
    assert rows[0].startswith("high") and "src_ip=198.51.100.7" in rows[0]
    assert any("unexpected user" in r for r in rows) and table.stderr == ""


def test_own_rules_and_a_malformed_one(auth_log: Path, tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "good.yml").write_text(
        "title: root login attempt\nid: 0d9e0f00-0000-4000-8000-000000000001\n"
        "logsource: {product: linux, service: sshd}\n"
        "detection:\n  sel:\n    user: root\n  condition: sel\nlevel: low\n")
    done = run(str(auth_log), "-r", str(rules), "-f", "json")
    assert [a["title"] for a in json.loads(done.stdout)["alerts"]] == ["root login attempt"]
    (rules / "bad.yml").write_text(
        "title: bad\nlogsource: {product: linux}\n"
        "detection:\n  sel:\n    CommandLine|contians: x\n  condition: sel\n")
    failed = run(str(auth_log), "-r", str(rules))
    assert failed.returncode == 3 and failed.stdout == ""
    assert "bad.yml" in failed.stderr and "detection.sel.CommandLine|contians" in failed.stderr
    skipped = run(str(auth_log), "-r", str(rules), "--skip-bad-rules", "-f", "json")
    assert skipped.returncode == 0 and "warning: rule not loaded" in skipped.stderr
    assert json.loads(skipped.stdout)["rule_failures"][0]["field"] == \
        "detection.sel.CommandLine|contians"


def test_missing_file_and_bad_options(tmp_path: Path) -> None:
    missing = run(str(tmp_path / "nope.log"))
    assert missing.returncode == 3 and "nope.log" in missing.stderr
    assert "Traceback" not in missing.stderr
    bad = run(str(tmp_path / "nope.log"), "--set", "oops")
    assert bad.returncode == 2 and "--set expects" in bad.stderr
