"""Find the first match of byte patterns in a big file, reading it in bounded windows.

Binaries run to hundreds of MB, so they are never read whole: windows of `CHUNK` bytes overlap
by `OVERLAP` bytes, and a match is accepted only where the whole of it was visible, so a version
string cut by a window edge is found, complete, in the next window.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
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


def windows(handle: BinaryIO, size: int, chunk: int = CHUNK) -> Iterator[tuple[bytes, int, int]]:
    """(window, file offset of window[0], limit): a match is complete, and belongs to this
    window, when it starts before `limit`; the next window repeats the bytes from there."""
    handle.seek(0)
    base = 0
    tail = b""
    remaining = size
    while remaining > 0:
        want = min(chunk, remaining)
        data = handle.read(want)
        if not data:
            return
        remaining -= len(data)
        window = tail + data
        final = remaining <= 0 or len(data) < want
        yield window, base, len(window) if final else len(window) - OVERLAP
        if final:
            return
        keep = min(OVERLAP, len(window))
        tail = window[-keep:]
        base += len(window) - keep


def first_matches(handle: BinaryIO, size: int, patterns: Sequence[Alternatives],
                  *, chunk: int = CHUNK) -> list[Found | None]:
    """The leftmost match of each pattern (in priority order) within the first `size` bytes.

    Reading stops early once the first pattern has matched, since callers take the first
    pattern that matched anywhere (Syft's MatchAny semantics).
    """
    found: list[Found | None] = [None] * len(patterns)
    for window, base, limit in windows(handle, size, chunk):
        for index, alternatives in enumerate(patterns):
            if found[index] is None:
                found[index] = _leftmost(alternatives, window, limit, base)
        if found[0] is not None or all(f is not None for f in found):
            break
    return found


DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")


def first_anchored(handle: BinaryIO, size: int, pattern: re.Pattern[bytes], anchor: bytes,
                   *, table: bytes = DIGITS_AS_ZERO, before: int = 64, after: int = 512,
                   chunk: int = CHUNK) -> Found | None:
    """The leftmost match of a pattern without a literal prefix, tried only around the places
    where `anchor` occurs once the bytes are mapped through `table` (by default digits -> `0`,
    so `0.0` finds every `<digit>.<digit>`). Every match must contain the anchor no more than
    `before` bytes from its start and end within `after` bytes of it. `re` would otherwise try
    the pattern at nearly every offset of a binary: this is ~15x faster on Go executables.
    """
    for window, base, limit in windows(handle, size, chunk):
        mapped = window.translate(table)
        at = mapped.find(anchor)
        while 0 <= at < limit + before:
            start = max(0, at - before)
            match = pattern.search(window[start:at + after])
            if match is not None and start + match.start() < limit:
                groups = {k: v.decode("latin-1") for k, v in match.groupdict().items()
                          if v is not None}
                return Found(base + start + match.start(), groups)
            at = mapped.find(anchor, at + 1)
    return None


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
