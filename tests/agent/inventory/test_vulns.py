"""Host vulnerabilities: the host's real dpkg packages through the real matcher."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from stackwarden.agent.inventory.vulns import host_vulnerabilities
from tests.helpers.cli import run_cli
from tests.helpers.env import unavailable
from tests.vulndb.helpers import make_db, osv


def test_host_packages_matched(tmp_path: Path) -> None:
    if not Path("/var/lib/dpkg/status").exists():
        unavailable("a Debian host (dpkg) is needed")
    release = Path("/etc/os-release").read_text()
    if 'ID=debian' not in release or 'VERSION_ID="12"' not in release:
        unavailable("the advisory below is written for Debian 12")
    version = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "coreutils"],
                             capture_output=True, text=True, timeout=30, check=True).stdout
    db = make_db(tmp_path, [
        osv("DSA-9999-1", "Debian:12", "coreutils", ("introduced", "0"), ("fixed", "99:1.0"),
            summary="coreutils test advisory"),
        osv("DSA-9998-1", "Debian:12", "not-installed-anywhere", ("introduced", "0"),
            ("fixed", "99:1.0")),
        osv("DSA-9997-1", "Debian:12", "coreutils", ("introduced", "0"), ("fixed", "0.1"))])
    db.close()
    db_path = tmp_path / "vulndb.sqlite"
    result = host_vulnerabilities("/", db_path)
    assert [(f.id, f.package.name, f.package.version) for f in result.findings] == [
        ("DSA-9999-1", "coreutils", version)]
    done = run_cli("inventory", "vulns", "--db", str(db_path), "--format", "json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert [f["id"] for f in doc["findings"]] == ["DSA-9999-1"]
    assert doc["findings"][0]["fixed_versions"] == ["99:1.0"]
