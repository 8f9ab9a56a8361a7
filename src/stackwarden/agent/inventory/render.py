"""Render a snapshot summary and a snapshot difference as a plain table."""

from __future__ import annotations

from typing import Any

_IDENTITY = {"packages": ("name", "version"), "processes": ("exe", "user"),
             "listening": ("proto", "address", "port", "process"), "users": ("name", "uid"),
             "groups": ("name", "gid"), "sudoers": ("file", "text"),
             "kernel_modules": ("name",), "services": ("name", "state"),
             "containers": ("name", "image"), "images": ("id", "tags")}


def _describe(section: str, item: dict[str, Any]) -> str:
    fields = _IDENTITY.get(section, ())
    return " ".join(str(item.get(f)) for f in fields if item.get(f) not in (None, "", []))


def render_diff_table(diff: dict[str, Any]) -> bytes:
    """One row per added, removed or changed item."""
    rows = [("SECTION", "CHANGE", "ITEM", "DETAIL")]
    for section, found in diff["sections"].items():
        rows += [(section, "added", _describe(section, i), "") for i in found["added"]]
        rows += [(section, "removed", _describe(section, i), "") for i in found["removed"]]
        rows += [(section, "changed", c["item"], f"{c['field']}: {c['before']} → {c['after']}")
                 for c in found["changed"]]
    if len(rows) == 1:
        return b"no differences\n"
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = ["  ".join([*(r[i].ljust(widths[i]) for i in range(3)), r[3]]).rstrip()
             for r in rows]
    return ("\n".join(lines) + "\n").encode()


def snapshot_summary(doc: dict[str, Any]) -> str:
    """One line: what the snapshot holds."""
    counts = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in doc["counts"].items())
    os_name = (doc.get("os") or {}).get("pretty_name") or "unknown OS"
    return f"snapshot of {doc['root']} ({os_name}): {counts or 'nothing'}"
