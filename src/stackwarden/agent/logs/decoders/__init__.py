"""The decoder registry: one class per log format, and format detection from sample lines."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from stackwarden.agent.logs.decoders.auditd import AuditdDecoder
from stackwarden.agent.logs.decoders.base import Decoder
from stackwarden.agent.logs.decoders.journal import JournalDecoder
from stackwarden.agent.logs.decoders.jsonlines import (
    JsonLinesDecoder,
    KubernetesAuditDecoder,
    SuricataEveDecoder,
)
from stackwarden.agent.logs.decoders.raw import RawDecoder
from stackwarden.agent.logs.decoders.syslog import SyslogDecoder
from stackwarden.agent.logs.decoders.web import ApacheDecoder, NginxDecoder, WebAccessDecoder
from stackwarden.agent.logs.errors import LogError

# Detection order: the most specific formats first (a journal entry is also a JSON line).
DECODERS: dict[str, type[Decoder]] = {cls.name: cls for cls in (
    JournalDecoder, KubernetesAuditDecoder, SuricataEveDecoder, AuditdDecoder,
    WebAccessDecoder, NginxDecoder, ApacheDecoder, SyslogDecoder, JsonLinesDecoder, RawDecoder)}
_DETECTABLE = ("journald", "k8s-audit", "suricata-eve", "auditd", "web", "syslog", "json")
SAMPLE_LINES = 20


def make_decoder(name: str, **options: Any) -> Decoder:
    """A fresh decoder for a format name (`syslog`, `nginx`, `k8s-audit`, …)."""
    cls = DECODERS.get(name)
    if cls is None:
        raise LogError(f"unknown log format {name!r}; known: {', '.join(sorted(DECODERS))}")
    accepted = {k: v for k, v in options.items()
                if k in cls.__init__.__code__.co_varnames and v is not None}
    return cls(**accepted)


def detect_format(lines: Iterable[str]) -> str:
    """The format most of the sample lines are in (syslog when nothing fits)."""
    sample = [line for line in lines if line.strip()][:SAMPLE_LINES]
    best, best_hits = "syslog", 0
    for name in _DETECTABLE:
        hits = sum(1 for line in sample if DECODERS[name].looks_like(line))
        if hits > best_hits:
            best, best_hits = name, hits
    return best


__all__ = ["DECODERS", "Decoder", "detect_format", "make_decoder"]
