"""systemd unit file states, with `systemctl --root` (offline) as the oracle."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from stackwarden.agent.inventory.services import unit_file_states
from tests.helpers.env import unavailable


def systemctl_states(root: str) -> dict[str, str]:
    systemctl = shutil.which("systemctl")
    if not systemctl:
        unavailable("systemctl (Debian package systemd) is not installed")
    done = subprocess.run([systemctl, f"--root={root}", "list-unit-files", "--type=service",
                           "--no-legend", "--no-pager"], capture_output=True, text=True,
                          timeout=60, check=False, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    return {f[0]: f[1] for f in (line.split() for line in done.stdout.splitlines()) if f}


def unit(root: Path, name: str, install: str = "", where: str = "usr/lib/systemd/system") -> None:
    path = root / where / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"[Unit]\nDescription={name}\n[Service]\nExecStart=/bin/true\n{install}")


def test_generated_root_matches_systemctl(tmp_path: Path) -> None:
    etc = tmp_path / "etc/systemd/system"
    (etc / "multi-user.target.wants").mkdir(parents=True)
    (etc / "getty.target.wants").mkdir(parents=True)
    unit(tmp_path, "on.service", "[Install]\nWantedBy=multi-user.target\n")
    unit(tmp_path, "off.service", "[Install]\nWantedBy=multi-user.target\n")
    unit(tmp_path, "static.service")
    unit(tmp_path, "masked.service", "[Install]\nWantedBy=multi-user.target\n")
    unit(tmp_path, "tty@.service", "[Install]\nWantedBy=getty.target\n")
    unit(tmp_path, "con@.service", "[Install]\nWantedBy=getty.target\nDefaultInstance=tty1\n")
    unit(tmp_path, "spare@.service", "[Install]\nWantedBy=getty.target\n")
    unit(tmp_path, "helper.service", "[Install]\nAlso=on.service\n")
    unit(tmp_path, "local.service", "[Install]\nWantedBy=multi-user.target\n",
         where="etc/systemd/system")
    os.symlink("/usr/lib/systemd/system/on.service", etc / "multi-user.target.wants/on.service")
    os.symlink("/usr/lib/systemd/system/tty@.service", etc / "getty.target.wants/tty@tty1.service")
    os.symlink("/usr/lib/systemd/system/con@.service", etc / "getty.target.wants/con@tty1.service")
    os.symlink("/dev/null", etc / "masked.service")
    os.symlink("on.service", tmp_path / "usr/lib/systemd/system/on-alias.service")
    ours = {name: u["state"] for name, u in unit_file_states(str(tmp_path)).items()}
    assert ours == systemctl_states(str(tmp_path))
    assert ours["on.service"] == "enabled" and ours["masked.service"] == "masked"
    assert (ours["con@.service"], ours["tty@.service"], ours["spare@.service"]) == (
        "enabled", "indirect", "disabled")


def test_host_root_matches_systemctl() -> None:
    ours = {name: u["state"] for name, u in unit_file_states("/").items()}
    assert ours == systemctl_states("/")
