"""What every log source yields: raw lines with where they came from, in batches."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

MAX_LINE_BYTES = 2 * 1024 * 1024  # past this a line is cut (and the rest of it skipped)
CHUNK_BYTES = 1024 * 1024


@dataclass(slots=True)  # not frozen: made once per line, and a frozen __init__ costs 4x
class RawLine:
    """One line as read, before decoding (treat as immutable)."""

    text: str
    origin: str  # the file it was read from (the rotated name while draining one), `journald`
    lineno: int
    offset: int = 0  # byte offset of the line in its file (with `file_id`: an idempotent id)
    file_id: str = ""  # "dev:inode" of that file, or the journal cursor
    truncated: bool = False  # longer than MAX_LINE_BYTES: cut


@dataclass(frozen=True, slots=True)
class Batch:
    """Lines read in one go, and the checkpoint to commit once they are processed."""

    lines: list[RawLine]
    checkpoint: dict[str, Any] | None
    notes: list[str] = field(default_factory=list)  # rotations, truncations, gaps


class LineSplitter:
    """Bytes in, complete lines out; keeps the partial last line and caps line length."""

    def __init__(self, origin: str, file_id: str = "", lineno: int = 0, offset: int = 0,
                 max_line: int = MAX_LINE_BYTES) -> None:
        self.origin = origin
        self.file_id = file_id
        self.lineno = lineno
        self.offset = offset  # bytes consumed as complete lines
        self.max_line = max_line
        self._partial = b""
        self._skipping = False  # inside an over-long line whose head was already emitted

    def feed(self, data: bytes, out: list[RawLine]) -> None:
        """Split `data` (appended to the partial line) into lines added to `out`."""
        if self._partial:
            data = self._partial + data
            self._partial = b""
        start = 0
        find = data.find
        origin, file_id = self.origin, self.file_id
        while True:
            end = find(b"\n", start)
            if end < 0:
                break
            if self._skipping:  # the tail of a line already emitted cut
                self._skipping = False
            else:
                raw = data[start:end]
                cut = len(raw) > self.max_line
                if cut:
                    raw = raw[:self.max_line]
                self.lineno += 1
                text = raw.decode("utf-8", "replace")
                text = text.removesuffix("\r")
                out.append(RawLine(text, origin, self.lineno, self.offset + start, file_id, cut))
            start = end + 1
        self.offset += start
        rest = data[start:]
        if len(rest) > self.max_line and not self._skipping:
            self.lineno += 1
            out.append(RawLine(rest[:self.max_line].decode("utf-8", "replace"), origin,
                               self.lineno, self.offset, file_id, True))
            self._skipping = True
        if self._skipping:
            self.offset += len(rest)  # consumed: the cut line's tail is dropped
            rest = b""
        self._partial = rest

    @property
    def pending_bytes(self) -> int:
        """Bytes of the incomplete last line held back."""
        return len(self._partial)

    def finish(self, out: list[RawLine]) -> None:
        """The input ended: the incomplete last line is a line too."""
        if self._partial:
            self.lineno += 1
            out.append(RawLine(self._partial.decode("utf-8", "replace").rstrip("\r"),
                               self.origin, self.lineno, self.offset, self.file_id))
            self.offset += len(self._partial)
            self._partial = b""
        self._skipping = False


def read_lines(path: str, chunk: int = CHUNK_BYTES) -> Iterator[list[RawLine]]:
    """A whole file as batches of lines (offline reading; no offsets, no rotation)."""
    splitter = LineSplitter(path)
    with open(path, "rb") as handle:
        while True:
            data = handle.read(chunk)
            out: list[RawLine] = []
            if not data:
                splitter.finish(out)
                if out:
                    yield out
                return
            splitter.feed(data, out)
            if out:
                yield out
