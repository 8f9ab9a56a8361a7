"""Content diffs of small text files, with secrets redacted before anything is kept or shown.

The baseline keeps a copy of small text files (`diff_globs`, at most `diff_max_bytes`) with
every secret the secret scanner finds already masked, so neither the database nor a diff ever
holds a credential in clear.
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stackwarden.detect.secrets.engine import Engine

MAX_DIFF_LINES = 400
_BINARY_PROBE = 8192


def is_text(data: bytes) -> bool:
    """Text: no NUL byte in the first 8 KiB."""
    return b"\0" not in data[:_BINARY_PROBE]


class Redactor:
    """Masks the secrets the secret scanner finds (its shipped rules) in a file's content."""

    def __init__(self) -> None:
        self._engine: Engine | None = None

    def _get(self) -> Engine:
        if self._engine is None:
            from stackwarden.detect.secrets.engine import Engine
            from stackwarden.detect.secrets.rules import load_ruleset

            self._engine = Engine(load_ruleset())
        return self._engine

    def redact(self, data: bytes, path: str) -> bytes:
        """`data` with each secret replaced by its first characters and a mask."""
        if not data.strip():
            return data
        from stackwarden.detect.secrets.detector import redact

        outcome = self._get().scan(data, path)
        if not outcome.hits:
            return data
        spans = sorted({(h.secret_start, h.secret_end) for h in outcome.hits}, reverse=True)
        out = bytearray(data)
        last = len(data) + 1
        for start, end in spans:
            if end > last:  # overlapping hits: the earlier span already covers this one
                continue
            secret = data[start:end].decode("utf-8", "replace")
            out[start:end] = redact(secret, False).encode()
            last = start
        return bytes(out)


def unified_diff(before: bytes | None, after: bytes | None, path: str) -> str | None:
    """A unified diff of two redacted contents (None when either side was not kept)."""
    if before is None or after is None:
        return None
    old = before.decode("utf-8", "replace").splitlines(keepends=True)
    new = after.decode("utf-8", "replace").splitlines(keepends=True)
    lines = list(difflib.unified_diff(old, new, f"a{path}", f"b{path}", n=2))
    if len(lines) > MAX_DIFF_LINES:
        lines = lines[:MAX_DIFF_LINES] + [f"… {len(lines) - MAX_DIFF_LINES} more diff lines\n"]
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"
                   for line in lines) or None
