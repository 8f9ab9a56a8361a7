"""Users, groups and sudo rules: the host's against glibc (pwd, grp), and written cases."""

from __future__ import annotations

import grp
import pwd
from pathlib import Path

import pytest

from stackwarden.agent.inventory.accounts import groups, sudoers, users


def test_users_and_groups_match_glibc() -> None:
    notes: list[str] = []
    ours = {u["name"]: (u["uid"], u["gid"], u["home"], u["shell"]) for u in users("/", notes)}
    theirs = {p.pw_name: (p.pw_uid, p.pw_gid, p.pw_dir, p.pw_shell) for p in pwd.getpwall()}
    assert ours == theirs
    ours_g = {g["name"]: (g["gid"], g["members"]) for g in groups("/", notes)}
    assert ours_g == {g.gr_name: (g.gr_gid, sorted(g.gr_mem)) for g in grp.getgrall()}


def write(root: Path, path: str, text: str) -> None:
    target = root / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)


def test_users_password_states_and_bad_lines(tmp_path: Path) -> None:
    write(tmp_path, "/etc/passwd", "root:x:0:0:root:/root:/bin/bash\n"
          "svc:x:998:998::/nonexistent:/usr/sbin/nologin\n"
          "open:x:1001:1001::/home/open:/bin/sh\n"
          "broken line\n"
          "bad:x:abc:1::/:/bin/sh\n")
    write(tmp_path, "/etc/shadow", "root:!:19000::::::\nsvc:*:19000::::::\nopen::19000::::::\n")
    notes: list[str] = []
    found = {u["name"]: (u["login"], u["password"]) for u in users(str(tmp_path), notes)}
    assert found == {"root": (True, "locked"), "svc": (False, "locked"), "open": (True, "none")}
    assert notes == ["users: /etc/passwd:4: malformed line skipped",
                     "users: /etc/passwd:5: malformed line skipped"]


def test_sudoers_with_includes(tmp_path: Path) -> None:
    write(tmp_path, "/etc/sudoers",
          "Defaults env_reset\n"
          "# a comment\n"
          "Cmnd_Alias SHUTDOWN = /sbin/shutdown, \\\n    /sbin/reboot\n"
          "root ALL=(ALL:ALL) ALL\n"
          "@includedir /etc/sudoers.d\n"
          "#include /etc/sudoers.local\n")
    write(tmp_path, "/etc/sudoers.d/deploy", "deploy ALL=(root) NOPASSWD: /usr/bin/systemctl\n")
    write(tmp_path, "/etc/sudoers.d/README.txt", "ignored ALL=(ALL) ALL\n")  # has a dot
    write(tmp_path, "/etc/sudoers.d/old~", "ignored ALL=(ALL) ALL\n")  # backup
    write(tmp_path, "/etc/sudoers.local", "%admin ALL=(ALL) ALL\n@include /etc/sudoers\n")
    notes: list[str] = []
    found = [(i["file"], i["line"], i["kind"], i["text"], i["nopasswd"])
             for i in sudoers(str(tmp_path), notes)]
    assert found == [
        ("/etc/sudoers", 1, "defaults", "Defaults env_reset", False),
        ("/etc/sudoers", 3, "alias", "Cmnd_Alias SHUTDOWN = /sbin/shutdown, /sbin/reboot", False),
        ("/etc/sudoers", 5, "rule", "root ALL=(ALL:ALL) ALL", False),
        ("/etc/sudoers.d/deploy", 1, "rule", "deploy ALL=(root) NOPASSWD: /usr/bin/systemctl",
         True),
        ("/etc/sudoers.local", 1, "rule", "%admin ALL=(ALL) ALL", False)]
    assert notes == ["sudoers: /etc/sudoers: include loop or depth over 8; skipped"]


@pytest.mark.parametrize("text", ["", "\\\n", "#includedir\n", "@include\n"])
def test_sudoers_odd_input(tmp_path: Path, text: str) -> None:
    write(tmp_path, "/etc/sudoers", text)
    notes: list[str] = []
    sudoers(str(tmp_path), notes)  # no exception; odd lines are kept or skipped
