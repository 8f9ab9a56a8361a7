"""Lines taken as they are: no fields but the text, under a log source the caller declares.

For logs no decoder understands (network devices, application logs) that keyword rules can
still search, e.g. `--log-format raw --logsource product=cisco,service=aaa`.
"""

from __future__ import annotations

from typing import ClassVar

from stackwarden.agent.logs.decoders.base import TRUNCATED, Decoder, clip
from stackwarden.agent.logs.events import LogEvent, LogSource


class RawDecoder(Decoder):
    """Every line is one event whose only field is `message`."""

    name: ClassVar[str] = "raw"
    description: ClassVar[str] = "plain lines (keyword rules only), under a declared log source"

    def __init__(self, source: LogSource | None = None) -> None:
        super().__init__()
        self.source = source or LogSource()

    def decode(self, line: str, origin: str = "", lineno: int = 0) -> LogEvent | None:
        """The line as an event without a time."""
        if not line or line.isspace():
            return None
        line, cut = clip(line)
        return LogEvent({"message": line}, self.source, None, line, origin, lineno,
                        TRUNCATED if cut else None)
