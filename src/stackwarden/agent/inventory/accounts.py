"""Users, groups and sudo rules of a root filesystem (/etc/passwd, /etc/group, /etc/shadow,
/etc/sudoers with its includes)."""

from __future__ import annotations

import glob
import os
from typing import Any

NOLOGIN_SHELLS = frozenset({"/usr/sbin/nologin", "/sbin/nologin", "/bin/false", "/usr/bin/false",
                            "/bin/sync", ""})
MAX_INCLUDE_DEPTH = 8
MAX_FILE_BYTES = 16 * 1024 * 1024


def _host(root: str, path: str) -> str:
    return os.path.join(root, path.lstrip("/"))


def _lines(root: str, path: str) -> list[str]:
    with open(_host(root, path), encoding="utf-8", errors="replace") as handle:
        return handle.read(MAX_FILE_BYTES).splitlines()


def _password_state(field: str) -> str:
    if field == "":
        return "none"  # no password needed: the worst case
    if field.startswith(("!", "*")):
        return "locked"
    return "set"


def users(root: str, notes: list[str]) -> list[dict[str, Any]]:
    """Accounts from /etc/passwd, with the password state from /etc/shadow when readable."""
    shadow: dict[str, str] = {}
    try:
        for line in _lines(root, "/etc/shadow"):
            name, _, rest = line.partition(":")
            if name and rest:
                shadow[name] = rest.split(":", 1)[0]
    except OSError as exc:
        notes.append(f"users: /etc/shadow not read ({exc.strerror}); password states unknown")
    items = []
    for number, line in enumerate(_lines(root, "/etc/passwd"), 1):
        if not line or line.startswith("#"):
            continue
        fields = line.split(":")
        if len(fields) != 7 or not fields[2].isdigit() or not fields[3].isdigit():
            notes.append(f"users: /etc/passwd:{number}: malformed line skipped")
            continue
        name, _, uid, gid, gecos, home, shell = fields
        items.append({"name": name, "uid": int(uid), "gid": int(gid), "gecos": gecos,
                      "home": home, "shell": shell, "login": shell not in NOLOGIN_SHELLS,
                      "password": _password_state(shadow[name]) if name in shadow else None})
    return sorted(items, key=lambda i: (i["uid"], i["name"]))


def groups(root: str, notes: list[str]) -> list[dict[str, Any]]:
    """Groups from /etc/group with their listed members."""
    items = []
    for number, line in enumerate(_lines(root, "/etc/group"), 1):
        if not line or line.startswith("#"):
            continue
        fields = line.split(":")
        if len(fields) != 4 or not fields[2].isdigit():
            notes.append(f"groups: /etc/group:{number}: malformed line skipped")
            continue
        items.append({"name": fields[0], "gid": int(fields[2]),
                      "members": sorted(m for m in fields[3].split(",") if m)})
    return sorted(items, key=lambda i: (i["gid"], i["name"]))


_ALIASES = ("User_Alias", "Runas_Alias", "Host_Alias", "Cmnd_Alias", "Cmd_Alias")


def sudoers(root: str, notes: list[str], path: str = "/etc/sudoers") -> list[dict[str, Any]]:
    """Every sudoers entry (rule, default or alias) with its file and line, includes followed
    as sudo does (`@include`, `@includedir`, and the older `#include` forms)."""
    items: list[dict[str, Any]] = []
    _read_sudoers(root, path, items, notes, 0, set())
    return items


def _read_sudoers(root: str, path: str, items: list[dict[str, Any]], notes: list[str],
                  depth: int, seen: set[str]) -> None:
    if depth > MAX_INCLUDE_DEPTH or path in seen:
        notes.append(f"sudoers: {path}: include loop or depth over {MAX_INCLUDE_DEPTH}; skipped")
        return
    seen.add(path)
    try:
        lines = _lines(root, path)
    except OSError as exc:
        if depth or exc.errno != 2:
            notes.append(f"sudoers: {path}: cannot read: {exc.strerror}")
        return
    pending, start = "", 0
    for number, raw in enumerate(lines, 1):
        line = raw.strip()
        if not pending:
            start = number
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = (pending + line).strip(), ""
        include = _include(line)
        if include is not None:
            kind, target = include
            target = target if target.startswith("/") else os.path.join(os.path.dirname(path),
                                                                          target)
            if kind == "dir":
                for found in sorted(glob.glob(glob.escape(_host(root, target)) + "/*")):
                    name = os.path.basename(found)
                    if not name.endswith("~") and "." not in name:  # sudo's own rule
                        _read_sudoers(root, f"{target.rstrip('/')}/{name}", items, notes,
                                      depth + 1, seen)
            else:
                _read_sudoers(root, target, items, notes, depth + 1, seen)
            continue
        if not line or line.startswith("#"):
            continue
        first = line.split(None, 1)[0]
        kind = ("defaults" if first.startswith("Defaults") else
                "alias" if first in _ALIASES else "rule")
        items.append({"file": path, "line": start, "kind": kind, "text": " ".join(line.split()),
                      "nopasswd": "NOPASSWD:" in line})


def _include(line: str) -> tuple[str, str] | None:
    for prefix, kind in (("@includedir", "dir"), ("#includedir", "dir"), ("@include", "file"),
                         ("#include", "file")):
        if line.startswith(prefix + " ") or line.startswith(prefix + "\t"):
            return kind, line[len(prefix):].strip().strip('"')
    return None
