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


def read_lines(path: str, chunk: int = CHUNK_BYTES,
               max_line: int = MAX_LINE_BYTES) -> Iterator[list[RawLine]]:
    """A whole file as batches of lines (offline reading: no offsets, no rotation).

    Each chunk is decoded at once, up to its last newline (so a multi-byte character is
    never split), which is several times cheaper than decoding line by line.
    """
    lineno = 0
    carry = b""
    with open(path, "rb") as handle:
        while True:
            data = handle.read(chunk)
            if not data:
                if carry:
                    text = carry[:max_line].decode("utf-8", "replace").removesuffix("\r")
                    yield [RawLine(text, path, lineno + 1, 0, "", len(carry) > max_line)]
                return
            data = carry + data if carry else data
            end = data.rfind(b"\n")
            if end < 0:  # no line ends in this chunk: keep at most one line's worth
                carry = data if len(data) <= max_line else data[:max_line + 1]
                continue
            carry = data[end + 1:]
            texts = data[:end].decode("utf-8", "replace").split("\n")
            out = []
            for text in texts:
                lineno += 1
                cut = False
                if len(text) > max_line:  # characters >= bytes/4: cheap pre-check first
                    raw = text.encode("utf-8", "surrogatepass")
                    if len(raw) > max_line:
                        text, cut = raw[:max_line].decode("utf-8", "replace"), True
                out.append(RawLine(text[:-1] if text[-1:] == "\r" else text, path, lineno,
                                   0, "", cut))
            yield out
