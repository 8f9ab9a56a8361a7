"""The hardened systemd unit in deploy/: systemd itself accepts it, and its exposure score (what
`systemd-analyze security` computes) stays low."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.helpers.env import unavailable

UNIT = Path(__file__).parents[2] / "deploy" / "systemd" / "stackwarden-agent.service"


def test_the_unit_verifies_and_is_hardened(tmp_path: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        unavailable("systemd-analyze (package systemd) is not installed")
    text = UNIT.read_text()
    # verify checks that ExecStart exists: point it at this interpreter
    local = tmp_path / UNIT.name
    local.write_text(text.replace("/usr/local/bin/stackwarden",
                                  f"{sys.executable} -m stackwarden"))
    verify = subprocess.run(["systemd-analyze", "verify", str(local)], capture_output=True,
                            text=True, timeout=60, check=False)
    assert verify.returncode == 0 and not verify.stderr.strip(), verify.stderr
    security = subprocess.run(["systemd-analyze", "security", "--offline=true", str(local)],
                              capture_output=True, text=True, timeout=60, check=False)
    score = re.search(r"Overall exposure level for \S+: ([0-9.]+)", security.stdout)
    assert score is not None, security.stdout[-2000:]
    assert float(score.group(1)) <= 3.5, security.stdout[-3000:]
    settings = dict(line.split("=", 1) for line in text.splitlines()
                    if "=" in line and not line.startswith("#"))
    assert settings["ExecStart"].endswith("agent run --state-dir /var/lib/stackwarden-agent")
    assert settings["StateDirectoryMode"] == "0700" and settings["ProtectSystem"] == "strict"
    assert settings["NoNewPrivileges"] == "yes" and settings["UMask"] == "0077"
