"""Errors of the log inspection layer, each naming where it happened."""

from __future__ import annotations

from stackwarden.core.errors import StackWardenError


class LogError(StackWardenError):
    """A log source or log file could not be read."""


class RuleError(LogError):
    """A Sigma rule could not be loaded; names the rule file and, when known, the field."""

    def __init__(self, message: str, *, source: str | None = None,
                 field: str | None = None) -> None:
        self.field = field
        super().__init__(f"{message} (field {field!r})" if field else message, source=source)
