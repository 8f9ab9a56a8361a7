"""Inline suppression: `# stackwarden:ignore CHECK_ID reason` (also `//` in HCL).

The comment goes on the finding's line, on the line above it, or on (or above) the first
line of the resource or instruction the finding belongs to. Several ids may be given,
comma-separated; `all` suppresses every check there. The reason is carried into the report.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_MARKER = b"stackwarden:ignore"
_COMMENT = re.compile(
    r"(?:#|//)\s*stackwarden:ignore(?:\[|:|\s)\s*([A-Za-z0-9_.\-]+(?:\s*,\s*[A-Za-z0-9_.\-]+)*)"
    r"\]?[ \t]*(.*)")
NO_REASON = "suppressed inline without a reason"


@dataclass(frozen=True, slots=True)
class Suppressions:
    """The ignore comments of one file: line -> {check id or "ALL": reason}."""

    by_line: dict[int, dict[str, str]]

    def reason(self, check_id: str, lines: tuple[int | None, ...]) -> str | None:
        """Why `check_id` is suppressed at any of `lines` (and the line above each), or None."""
        if not self.by_line:
            return None
        wanted = check_id.upper()
        for line in lines:
            if line is None:
                continue
            for candidate in (line, line - 1):
                ids = self.by_line.get(candidate)
                if ids:
                    found = ids.get(wanted, ids.get("ALL"))
                    if found is not None:
                        return found
        return None


EMPTY = Suppressions({})


def find_suppressions(data: bytes) -> Suppressions:
    """Every `stackwarden:ignore` comment in a file (a cheap byte search first)."""
    if _MARKER not in data:
        return EMPTY
    by_line: dict[int, dict[str, str]] = {}
    for number, raw in enumerate(data.split(b"\n"), start=1):
        if _MARKER not in raw:
            continue
        match = _COMMENT.search(raw.decode("utf-8", "replace"))
        if match is None:
            continue
        reason = match.group(2).strip().lstrip("-:— ").strip() or NO_REASON
        ids = {part.strip().upper(): reason for part in match.group(1).split(",")}
        by_line.setdefault(number, {}).update(ids)
    return Suppressions(by_line)
