"""Differences between two snapshots: per section, what appeared, went away or changed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from stackwarden.agent.inventory.model import SECTIONS, Snapshot

Item = dict[str, Any]

# section -> (identity of an item, the fields whose change is reported)
KEYS: dict[str, tuple[Callable[[Item], tuple[Any, ...]], tuple[str, ...]]] = {
    "packages": (lambda i: (i["type"], i["name"], i.get("arch")), ("version",)),
    # A process is what runs, not its pid: the same program restarted is no change.
    "processes": (lambda i: (i.get("exe") or i.get("name"), i.get("user"), i.get("cmdline")),
                  ("sha256", "package", "exe_deleted")),
    "listening": (lambda i: (i["proto"], i["address"], i["port"]), ("process", "exe", "user")),
    "users": (lambda i: (i["name"],), ("uid", "gid", "home", "shell", "login", "password")),
    "groups": (lambda i: (i["name"],), ("gid", "members")),
    "sudoers": (lambda i: (i["file"], i["text"]), ()),
    "kernel_modules": (lambda i: (i["name"],), ("srcversion",)),
    "services": (lambda i: (i["name"],), ("state", "active")),
    "containers": (lambda i: (i["id"],), ("image_id", "state", "ports")),
    "images": (lambda i: (i["id"],), ("tags",)),
}


def _label(key: tuple[Any, ...]) -> str:
    return " ".join(str(k) for k in key if k not in (None, ""))


def diff_section(name: str, old: list[Item], new: list[Item]) -> dict[str, list[Any]]:
    """{added, removed, changed} for one section (changed: key, field, before, after)."""
    identity, fields = KEYS[name]
    before = {identity(i): i for i in old}
    after = {identity(i): i for i in new}
    changed = []
    for key in sorted(before.keys() & after.keys(), key=_label):
        for field in fields:
            if before[key].get(field) != after[key].get(field):
                changed.append({"item": _label(key), "field": field,
                                "before": before[key].get(field),
                                "after": after[key].get(field)})
    return {"added": [after[k] for k in sorted(after.keys() - before.keys(), key=_label)],
            "removed": [before[k] for k in sorted(before.keys() - after.keys(), key=_label)],
            "changed": changed}


def diff_snapshots(old: Snapshot, new: Snapshot) -> dict[str, Any]:
    """Every section present in both snapshots compared; sections in only one are named."""
    sections = {}
    for name in SECTIONS:
        if name in old.sections and name in new.sections:
            found = diff_section(name, old.sections[name], new.sections[name])
            if any(found.values()):
                sections[name] = found
    only = sorted(set(old.sections) ^ set(new.sections))
    return {"schema_version": "1.0", "before": old.taken, "after": new.taken,
            "os": {"before": old.os, "after": new.os} if old.os != new.os else None,
            "sections": sections,
            "not_compared": [f"{n}: only in the {'first' if n in old.sections else 'second'} "
                             "snapshot" for n in only],
            "summary": {name: {k: len(v) for k, v in found.items()}
                        for name, found in sections.items()}}
