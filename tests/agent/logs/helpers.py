"""Small builders for rule and event tests."""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from stackwarden.agent.logs.alerts import Alert
from stackwarden.agent.logs.events import LogEvent, LogSource
from stackwarden.agent.logs.sigma.engine import RuleEngine
from stackwarden.agent.logs.sigma.ruleset import RuleSet, RuleSettings

LINUX = LogSource("linux", None, frozenset({"syslog"}))


def ruleset_from(tmp_path: Path, *documents: str, settings: RuleSettings | None = None,
                 name: str = "rules.yml") -> RuleSet:
    """A RuleSet from YAML text (documents joined with ---), written to a temporary file."""
    path = tmp_path / name
    path.write_text("\n---\n".join(documents))
    return RuleSet.load([path], settings or RuleSettings())


def event(fields: dict[str, Any] | None = None, text: str = "", t: float | None = 0.0,
          source: LogSource = LINUX) -> LogEvent:
    """An event with the given fields (text defaults to their repr)."""
    fields = fields or {}
    return LogEvent(fields, source, t, text or " ".join(f"{k}={v}" for k, v in fields.items()))


def run(ruleset: RuleSet, events: Iterable[LogEvent]) -> list[Alert]:
    """Final alerts of a run over the events."""
    engine = RuleEngine(ruleset)
    for e in events:
        engine.process(e)
    return engine.finish()


def fired(ruleset: RuleSet, *events: LogEvent) -> bool:
    """Whether any alert came out."""
    return bool(run(ruleset, events))


def simple_rule(detection: str, logsource: str = "product: linux", level: str = "high",
                title: str = "test rule", rule_id: str = "11111111-2222-3333-4444-555555555555",
                extra: str = "") -> str:
    """A rule document with the given detection block (indented YAML under `detection:`)."""
    body = "\n".join("    " + line for line in detection.strip("\n").splitlines())
    return (f"title: {title}\nid: {rule_id}\n{extra}logsource:\n    {logsource}\n"
            f"detection:\n{body}\nlevel: {level}\n")


def sshd(i: int, ip: str = "203.0.113.7") -> str:
    """An sshd failure logged now (so its incident is still open when the test reads it)."""
    stamp = time.strftime("%b %e %H:%M:%S", time.localtime())
    return (f"{stamp} web1 sshd[{100 + i}]: Failed password for root from {ip} "
            f"port {40000 + i} ssh2\n")
