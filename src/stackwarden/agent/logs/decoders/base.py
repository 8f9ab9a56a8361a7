"""The decoder interface: one log line in, one normalised event (or nothing) out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import ClassVar

from stackwarden.agent.logs.events import LogEvent, LogSource

MAX_LINE_CHARS = 64 * 1024  # longer lines are cut (and flagged) before decoding
TRUNCATED = {"truncated": True}  # shared: nothing mutates an event's notes after decoding


class Decoder(ABC):
    """Turns lines of one log format into LogEvents; may keep state (years, multi-line records)."""

    name: ClassVar[str]
    description: ClassVar[str]

    def __init__(self) -> None:
        # Extra events some lines complete (auditd's assembled process_creation): the reader
        # takes them after each line (and clears the list) so they keep their place in order.
        self.pending: list[LogEvent] = []
        # Set by a reader that knows its rules: lines whose log source no rule reads may be
        # dropped right after their header, before the (costlier) message is parsed.
        self.wanted: Callable[[LogSource], bool] | None = None

    @abstractmethod
    def decode(self, line: str, origin: str = "", lineno: int = 0) -> LogEvent | None:
        """The event for one line (without its newline), or None for blank/comment lines."""

    def flush(self) -> list[LogEvent]:
        """Events still held back (multi-line records) at the end of the input."""
        out = self.pending[:]
        self.pending.clear()
        return out

    @classmethod
    def looks_like(cls, line: str) -> bool:
        """Whether a sample line is probably in this format (for format detection)."""
        return False


def clip(line: str) -> tuple[str, bool]:
    """The line cut to MAX_LINE_CHARS, and whether it was cut."""
    if len(line) > MAX_LINE_CHARS:
        return line[:MAX_LINE_CHARS], True
    return line, False
