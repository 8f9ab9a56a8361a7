"""Find the first match of byte patterns in a big file, reading it in bounded windows.

Binaries run to hundreds of MB, so they are never read whole: windows of `CHUNK` bytes overlap
by `OVERLAP` bytes, and a match is accepted only where the whole of it was visible, so a version
string cut by a window edge is found, complete, in the next window.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import BinaryIO

CHUNK = 4 * 1024 * 1024
OVERLAP = 4096  # longer than any version-string pattern can match


@dataclass(frozen=True, slots=True)
class Found:
    """Where a pattern first matched, and its named groups."""

    offset: int
    groups: dict[str, str]


Alternatives = Sequence[re.Pattern[bytes]]  # one logical pattern split for literal-prefix speed


def first_matches(handle: BinaryIO, size: int, patterns: Sequence[Alternatives],
                  *, chunk: int = CHUNK) -> list[Found | None]:
    """The leftmost match of each pattern (in priority order) within the first `size` bytes.

    Reading stops early once the first pattern has matched, since callers take the first
    pattern that matched anywhere (Syft's MatchAny semantics).
    """
    found: list[Found | None] = [None] * len(patterns)
    handle.seek(0)
    base = 0  # file offset of window[0]
    tail = b""
    remaining = size
    while remaining > 0:
        want = min(chunk, remaining)
        data = handle.read(want)
        if not data:
            break
        remaining -= len(data)
        window = tail + data
        final = remaining <= 0 or len(data) < want
        limit = len(window) if final else len(window) - OVERLAP
        for index, alternatives in enumerate(patterns):
            if found[index] is None:
                found[index] = _leftmost(alternatives, window, limit, base)
        if final or found[0] is not None or all(f is not None for f in found):
            break
        keep = min(OVERLAP, len(window))
        tail = window[-keep:]
        base += len(window) - keep
    return found


def _leftmost(alternatives: Alternatives, window: bytes, limit: int, base: int) -> Found | None:
    best: re.Match[bytes] | None = None
    for pattern in alternatives:
        match = pattern.search(window, 0, len(window))
        if match is not None and match.start() < limit and (best is None
                                                            or match.start() < best.start()):
            best = match
    if best is None:
        return None
    groups = {k: v.decode("latin-1") for k, v in best.groupdict().items() if v is not None}
    return Found(base + best.start(), groups)


def search_text(patterns: Sequence[re.Pattern[bytes]], data: bytes) -> dict[str, str] | None:
    """The named groups of the first pattern that matches small in-memory `data`."""
    for pattern in patterns:
        match = pattern.search(data)
        if match is not None:
            return {k: v.decode("latin-1") for k, v in match.groupdict().items() if v is not None}
    return None
