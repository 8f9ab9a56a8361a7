"""The agent's `logs` collector: `LogMonitor` (inputs -> decoders -> rules) as agent events.

Events: `log.alert` for each alert (opening and closing an incident; the id is made from the
alert's id and state, so re-reading lines after a crash yields the same ids) and, with
`ship_events`, `log.event` for every decoded line (id from the file's identity and the line's
byte offset). Offsets are saved only after the events are queued (`commit`).

With `response.enabled` (off by default), the alerts go through active response
(`agent/logs/response.py`): each decision, block, skip or error with its reason, is a
`response.action` event (the server appends it to its audit trail) and a line of the local
`response.jsonl`. When nft cannot be set up (not root, no nft, the server's name does not
resolve) the collector still runs: one note says why, decisions are skips naming the reason,
and the set-up is retried every `RESPONSE_RETRY` seconds.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import time
from dataclasses import asdict
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from stackwarden.agent.interface import (
    Collection,
    Collector,
    CollectorContext,
    CollectorError,
    CollectorSettings,
)
from stackwarden.agent.logs.alerts import Alert
from stackwarden.agent.logs.decoders import DECODERS
from stackwarden.agent.logs.errors import LogError
from stackwarden.agent.logs.events import LogEvent, parse_logsource
from stackwarden.agent.logs.response import Action, Blocker, ResponseSettings, jsonl_audit
from stackwarden.core.errors import UsageError

MAX_TEXT = 8192  # characters of a shipped line
RESPONSE_RETRY = 300.0  # seconds between two attempts to set up active response
_RESPONSE_DEFAULTS = ResponseSettings()


class LogInputSettings(BaseModel):
    """One log to watch."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["file", "journald"] = "file"
    path: str = Field("", max_length=4096)
    format: str | None = None  # a decoder name; files: detected when absent
    journal_args: list[str] = Field(default_factory=list, max_length=20)
    start_at_end: bool = True  # first run without a saved offset: only new lines
    logsource: str | None = None  # raw/json input: product=…,category=…,service=…

    @model_validator(mode="after")
    def _check(self) -> LogInputSettings:
        if self.kind == "file" and not os.path.isabs(self.path):
            raise ValueError("a file input needs an absolute `path`")
        if self.format is not None and self.format not in DECODERS:
            raise ValueError(f"unknown format {self.format!r} (known: "
                             f"{', '.join(sorted(DECODERS))})")
        if self.logsource:
            try:
                parse_logsource(self.logsource)
            except UsageError as exc:
                raise ValueError(exc.message) from None
        return self


class OverrideSettings(BaseModel):
    """A correlation's threshold and/or window, changed without editing the rule."""

    model_config = ConfigDict(extra="forbid")
    threshold: float | None = Field(None, gt=0)
    timespan: float | None = Field(None, gt=0)  # seconds


class ResponseConfig(BaseModel):
    """`collectors.logs.response`: block the source address of chosen alerts (off by default)."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool = False
    rules: list[str] = Field(default_factory=lambda: sorted(_RESPONSE_DEFAULTS.rules),
                             max_length=1000)  # rule names, ids or titles
    min_level: Literal["informational", "low", "medium", "high", "critical"] | None = None
    fields: list[str] = Field(default_factory=lambda: list(_RESPONSE_DEFAULTS.fields),
                              min_length=1, max_length=20)
    timeout: int = Field(_RESPONSE_DEFAULTS.timeout, ge=1, le=30 * 86400)  # seconds
    admin_networks: list[str] = Field(default_factory=list, max_length=1000)
    table: str = Field(_RESPONSE_DEFAULTS.table, pattern=r"^[A-Za-z0-9_]{1,64}$")
    netns: str | None = Field(None, pattern=r"^[A-Za-z0-9_.-]{1,64}$")

    @field_validator("admin_networks")
    @classmethod
    def _networks(cls, networks: list[str]) -> list[str]:
        for network in networks:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError:
                raise ValueError(f"{network!r} is not a network (e.g. 10.0.0.0/8 or "
                                 "2001:db8::/32)") from None
        return networks

    def to_settings(self) -> ResponseSettings:
        """The library's settings."""
        return ResponseSettings(self.enabled, frozenset(self.rules), self.min_level,
                                tuple(self.fields), self.timeout, tuple(self.admin_networks),
                                (), self.table, self.netns)


class LogSettings(CollectorSettings):
    """`collectors.logs`: which logs, which rules."""

    inputs: list[LogInputSettings] = Field(
        default_factory=lambda: [LogInputSettings(path="/var/log/auth.log")], max_length=200)
    builtin_rules: bool = True
    rules: list[str] = Field(default_factory=list, max_length=1000)  # Sigma YAML documents
    vars: dict[str, list[str]] = Field(default_factory=dict)  # placeholder values
    overrides: dict[str, OverrideSettings] = Field(default_factory=dict)  # rule name or id
    ship_events: bool = False  # every decoded line as a `log.event`, not only alerts
    response: ResponseConfig = Field(default_factory=ResponseConfig)


class LogCollector(Collector):
    """Tails the configured logs and runs the rules; alerts (and lines) as events."""

    name = "logs"
    default_interval = 5.0
    Settings = LogSettings

    def __init__(self, ctx: CollectorContext) -> None:
        super().__init__(ctx)
        from stackwarden.agent.logs.check import BUILTIN_RULES, default_settings, load_ruleset
        from stackwarden.agent.logs.monitor import LogInput, LogMonitor
        from stackwarden.agent.logs.sigma.ruleset import CorrelationOverride
        from stackwarden.agent.logs.sources.offsets import OffsetStore

        settings: LogSettings = ctx.settings  # type: ignore[assignment]
        self.settings = settings
        paths: list[Any] = [BUILTIN_RULES] if settings.builtin_rules else []
        if settings.rules:
            paths.append(self._write_rules(settings.rules))
        if not paths:
            raise CollectorError("collectors.logs: no rules (builtin_rules is false and "
                                 "`rules` is empty)")
        overrides = {k: CorrelationOverride(v.threshold, v.timespan)
                     for k, v in settings.overrides.items()}
        try:
            ruleset = load_ruleset(paths, default_settings(settings.vars, overrides=overrides))
            store = OffsetStore(ctx.state_dir / "offsets.json")
        except LogError as exc:
            raise CollectorError(str(exc)) from None
        inputs = [LogInput(i.kind, i.path, i.format, tuple(i.journal_args), i.start_at_end,
                           parse_logsource(i.logsource) if i.logsource else None)
                  for i in settings.inputs]
        self.monitor = LogMonitor(inputs, ruleset, store, keep_events=settings.ship_events)
        self._missing = [i.path for i in settings.inputs
                         if i.kind == "file" and not os.path.exists(i.path)]
        self.blocker: Blocker | None = None
        self._retry_at = 0.0
        self._said: str | None = None  # the last set-up failure noted
        if settings.response.enabled:
            try:
                self.blocker = Blocker(settings.response.to_settings(),
                                       jsonl_audit(ctx.state_dir / "response.jsonl"))
            except LogError as exc:
                raise CollectorError(f"collectors.logs.response: {exc}") from None

    def _write_rules(self, documents: list[str]) -> Any:
        """Pushed rules become files (rule errors then name `pushed-rules/NNN.yml`)."""
        folder = self.ctx.state_dir / "pushed-rules"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(mode=0o700)
        for number, text in enumerate(documents, 1):
            (folder / f"{number:03d}.yml").write_text(text, encoding="utf-8")
        return folder

    def collect(self) -> Collection:
        """Lines written since the last committed poll: their alerts (and events)."""
        poll = self.monitor.poll(timeout=0.0)
        notes = list(poll.notes)
        self._missing = [p for p in self._missing if not os.path.exists(p)]
        notes.extend(f"{p}: no such log file yet (read as soon as it appears)"
                     for p in self._missing)
        events = self._line_events(poll.events) if self.settings.ship_events else []
        events.extend(self._alert_event(a) for a in poll.alerts)
        if self.blocker is not None:
            notes.extend(self._start_response())
            events.extend(self._action_event(a) for a in self.blocker.handle(poll.alerts))
        return Collection(events, notes, poll)

    def _start_response(self) -> list[str]:
        """(Re)try setting up active response when it is not ready; a note when it fails
        for a new reason."""
        assert self.blocker is not None
        if self._retry_at and (self.blocker.unavailable is None
                               or time.monotonic() < self._retry_at):
            return []
        self._retry_at = time.monotonic() + RESPONSE_RETRY
        reason = self.blocker.start(self.ctx.server_url)
        if reason is None or reason == self._said:
            return []
        self._said = reason
        return [f"active response unavailable (retried every {RESPONSE_RETRY:g}s; alerts are "
                f"audited as skips meanwhile): {reason}"]

    def _action_event(self, action: Action) -> Any:
        return self.event("response.action", asdict(action), time=action.at,
                          key=f"{action.alert_id}:{action.address}:{action.action}")

    def commit(self, collection: Collection) -> None:
        """Save the offsets the poll reached (only when it read something)."""
        poll = collection.checkpoint
        if poll is not None and (poll.lines or poll.alerts):
            self.monitor.commit(poll)

    def close(self) -> Collection:
        """The final state of incidents still open."""
        return Collection([self._alert_event(a) for a in self.monitor.close()])

    def _alert_event(self, alert: Alert) -> Any:
        data = {**alert.to_dict(), "closed": alert.closed}
        state = "closed" if alert.closed else "open"
        return self.event("log.alert", data, time=alert.last or alert.first,
                          key=f"{alert.alert_id}:{state}:{alert.count}")

    def _line_events(self, events: list[LogEvent]) -> list[Any]:
        out = []
        per_line: dict[tuple[str, int], int] = {}
        for event in events:
            extra = event.extra or {}
            line = (str(extra.get("file_id", "")), int(extra.get("offset", 0)))
            index = per_line[line] = per_line.get(line, -1) + 1  # records assembled per line
            source = event.source
            data = {"origin": event.origin, "line": event.line, "text": event.text[:MAX_TEXT],
                    "fields": event.fields,
                    "source": {"product": source.product, "category": source.category,
                               "services": sorted(source.services)},
                    "file_id": line[0], "offset": line[1]}
            out.append(self.event("log.event", data, time=event.time,
                                  key=f"{line[0]}:{line[1]}:{index}"))
        return out
