"""What a decoder makes of one log line: a normalised event and the log source it came from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stackwarden.core.errors import UsageError

# Sigma's log source vocabulary (https://sigmahq.io/docs/basics/log-sources.html): a rule names
# a product, a category and/or a service; an event carries one product, one category and every
# service it belongs to (an sshd line read from auth.log through syslog is `sshd`, `auth` and
# `syslog` at once).


@dataclass(frozen=True, slots=True)
class LogSource:
    """Where an event comes from, in Sigma's terms; rules are routed on it."""

    product: str | None = None
    category: str | None = None
    services: frozenset[str] = frozenset()

    def accepts(self, product: str | None, category: str | None, service: str | None) -> bool:
        """Whether a rule with this (product, category, service) log source applies here."""
        return ((product is None or product == self.product)
                and (category is None or category == self.category)
                and (service is None or service in self.services))

    def with_services(self, *services: str) -> LogSource:
        """The same source belonging to more services (memoised: there are few distinct ones)."""
        key = (self, services)
        known = _WITH_SERVICES.get(key)
        if known is None:
            known = _WITH_SERVICES[key] = LogSource(self.product, self.category,
                                                    self.services | frozenset(services))
        return known


_WITH_SERVICES: dict[tuple[LogSource, tuple[str, ...]], LogSource] = {}


def parse_logsource(text: str) -> LogSource:
    """`product=cisco,service=aaa` -> LogSource (what raw/json input is declared to be)."""
    parts: dict[str, str] = {}
    for item in text.split(","):
        key, sep, value = item.partition("=")
        if not sep or key.strip() not in ("product", "category", "service"):
            raise UsageError(f"--logsource expects product=…,category=…,service=…, got {text!r}")
        parts[key.strip()] = value.strip()
    services = frozenset({parts["service"]}) if parts.get("service") else frozenset()
    return LogSource(parts.get("product") or None, parts.get("category") or None, services)


@dataclass(slots=True)  # not frozen: a frozen __init__ costs 4x, and one is made per line
class LogEvent:
    """One decoded log record: Sigma-friendly fields, its time, its text for keyword search.

    Treat it as immutable once decoded (rules and correlations read it; nothing writes it).
    """

    fields: dict[str, Any]
    source: LogSource
    time: float | None  # seconds since the epoch (UTC); None when the line carries no time
    text: str  # what Sigma keywords (field-less values) search: the line as logged
    origin: str = ""  # the file, `journald`, … it was read from
    line: int = 0  # its line number in `origin` (0 when unknown)
    extra: dict[str, Any] | None = None  # decoder notes (e.g. {"truncated": True})

    def get(self, name: str, default: Any = None) -> Any:
        """A field's value, or `default`."""
        return self.fields.get(name, default)
