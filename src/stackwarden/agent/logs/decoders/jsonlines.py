"""JSON-per-line logs: generic JSON lines, Kubernetes audit events, Suricata EVE.

Nested objects are flattened into dotted names (`objectRef.resource`, `alert.signature`),
which is how Sigma rules name fields of nested JSON; lists stay lists (a rule matches when
any element does).
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from stackwarden.agent.logs.decoders.base import TRUNCATED, Decoder, clip
from stackwarden.agent.logs.decoders.timeparse import IsoClock
from stackwarden.agent.logs.events import LogEvent, LogSource

MAX_DEPTH = 8
KUBERNETES_AUDIT = LogSource("kubernetes", None, frozenset({"audit"}))
_TIME_KEYS = ("@timestamp", "timestamp", "time", "ts", "date", "datetime", "eventTime")


def flatten(obj: dict[str, Any], out: dict[str, Any] | None = None, prefix: str = "",
            depth: int = 0) -> dict[str, Any]:
    """`{"a": {"b": 1}}` -> `{"a.b": 1}` (nesting past MAX_DEPTH is kept as JSON text)."""
    out = {} if out is None else out
    for key, value in obj.items():
        name = prefix + str(key)
        if isinstance(value, dict):
            if depth >= MAX_DEPTH:
                out[name] = json.dumps(value, sort_keys=True)
            else:
                flatten(value, out, name + ".", depth + 1)
        else:
            out[name] = value
    return out


def load_object(line: str) -> dict[str, Any] | None:
    """The JSON object on a line, or None (not JSON, or not an object)."""
    if not line.lstrip().startswith("{"):
        return None
    try:
        value = json.loads(line)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


class JsonLinesDecoder(Decoder):
    """One JSON object per line; the log source is whatever the caller declares."""

    name: ClassVar[str] = "json"
    description: ClassVar[str] = "JSON lines (nested keys flattened with dots)"

    def __init__(self, source: LogSource | None = None) -> None:
        super().__init__()
        self.source = source or LogSource()
        self.iso = IsoClock()

    @classmethod
    def looks_like(cls, line: str) -> bool:
        """A JSON object."""
        return load_object(line) is not None

    def decode(self, line: str, origin: str = "", lineno: int = 0) -> LogEvent | None:
        """One JSON line; a line that is not a JSON object is kept as a bare message."""
        if not line or line.isspace():
            return None
        line, cut = clip(line)
        extra = TRUNCATED if cut else None
        obj = None if cut else load_object(line)
        if obj is None:
            return LogEvent({"message": line}, self.source, None, line, origin, lineno,
                            {**(extra or {}), "invalid_json": True})
        return self.event(obj, line, origin, lineno, extra)

    def event(self, obj: dict[str, Any], line: str, origin: str, lineno: int,
              extra: dict[str, Any] | None) -> LogEvent:
        """The event for a parsed object (subclasses choose the source and time)."""
        fields = flatten(obj)
        return LogEvent(fields, self.source, self.time_of(fields), line, origin, lineno, extra)

    def time_of(self, fields: dict[str, Any]) -> float | None:
        """The first recognisable timestamp among the usual keys (ISO text or epoch number)."""
        for key in _TIME_KEYS:
            value = fields.get(key)
            if isinstance(value, str):
                when = self.iso.epoch(value)
                if when is not None:
                    return when
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                return float(value) / (1000.0 if value > 1e11 else 1.0)
        return None


class KubernetesAuditDecoder(JsonLinesDecoder):
    """Kubernetes API server audit log (audit.k8s.io/v1 Event per line)."""

    name: ClassVar[str] = "k8s-audit"
    description: ClassVar[str] = "Kubernetes API server audit events (audit.k8s.io/v1)"

    def __init__(self) -> None:
        super().__init__(KUBERNETES_AUDIT)

    @classmethod
    def looks_like(cls, line: str) -> bool:
        """An audit.k8s.io Event."""
        obj = load_object(line)
        return bool(obj and obj.get("kind") == "Event"
                    and str(obj.get("apiVersion", "")).startswith("audit.k8s.io/"))

    def time_of(self, fields: dict[str, Any]) -> float | None:
        """When the API server received the request."""
        for key in ("requestReceivedTimestamp", "stageTimestamp"):
            value = fields.get(key)
            if isinstance(value, str):
                when = self.iso.epoch(value)
                if when is not None:
                    return when
        return None


class SuricataEveDecoder(JsonLinesDecoder):
    """Suricata EVE JSON: each event type is a Sigma service next to `eve`."""

    name: ClassVar[str] = "suricata-eve"
    description: ClassVar[str] = "Suricata EVE JSON (alert, dns, http, tls, flow, … events)"

    def __init__(self) -> None:
        super().__init__(LogSource("suricata", None, frozenset({"eve"})))
        self._sources: dict[str, LogSource] = {}

    @classmethod
    def looks_like(cls, line: str) -> bool:
        """An object with `event_type` and `timestamp`."""
        obj = load_object(line)
        return bool(obj and "event_type" in obj and "timestamp" in obj)

    def event(self, obj: dict[str, Any], line: str, origin: str, lineno: int,
              extra: dict[str, Any] | None) -> LogEvent:
        """EVE event routed on its event type."""
        fields = flatten(obj)
        kind = str(fields.get("event_type", ""))
        source = self._sources.get(kind)
        if source is None:
            source = self._sources[kind] = self.source.with_services(kind) if kind else \
                self.source
        return LogEvent(fields, source, self.time_of(fields), line, origin, lineno, extra)
