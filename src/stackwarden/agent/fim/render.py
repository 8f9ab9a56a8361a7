"""Render a check: JSON (stable keys, schema version) or a plain table with the diffs below."""

from __future__ import annotations

import json

from stackwarden.agent.fim.model import Change, CheckResult

_HEADER = ("CHANGE", "PATH", "WHAT", "NOTE")
_FIELD_NAMES = {"sha256": "content", "mtime_ns": "mtime", "uid": "owner", "gid": "group",
                "link": "target"}


def render_json(result: CheckResult) -> bytes:
    """The documented JSON report."""
    return json.dumps(result.to_dict(), indent=2, ensure_ascii=False).encode() + b"\n"


def describe(change: Change) -> str:
    """The changed attributes in words: `mode 0644→0600, owner`."""
    parts = []
    for name in change.fields:
        label = _FIELD_NAMES.get(name, name)
        if name == "mode" and change.before and change.after:
            label += f" {change.before.mode:04o}→{change.after.mode:04o}"
        elif name == "link" and change.before and change.after:
            label += f" {change.before.link}→{change.after.link}"
        parts.append(label)
    return ", ".join(parts) or "-"


def _note(change: Change) -> str:
    if change.label and change.package:
        return f"{change.label} ({change.package['name']} {change.package['version']})"
    if change.package:
        return f"owned by {change.package['manager']} package {change.package['name']}"
    return change.label or ""


def render_table(result: CheckResult) -> bytes:
    """One row per change; unified diffs (secrets redacted) after the table."""
    if not result.changes:
        return b"no changes\n"
    rows = [_HEADER] + [(str(c.change), c.path, describe(c), _note(c)) for c in result.changes]
    widths = [max(len(row[column]) for row in rows) for column in range(len(_HEADER) - 1)]
    out = ["  ".join([*(cell.ljust(width) for cell, width in zip(row, widths)), row[-1]])
           .rstrip() for row in rows]
    for change in result.changes:
        if change.diff:
            out += ["", change.diff.rstrip("\n")]
    return ("\n".join(out) + "\n").encode()


def summary(result: CheckResult) -> str:
    """One line: how much was compared, how long it took, what changed."""
    counts = result.to_dict()["summary"]
    return (f"{result.scanned} paths checked against {result.baseline_files} in the baseline in "
            f"{result.seconds:.2f} s: {counts['added']} added, {counts['modified']} modified, "
            f"{counts['deleted']} deleted, {counts['metadata']} metadata "
            f"({counts['package_updates']} package updates)")
