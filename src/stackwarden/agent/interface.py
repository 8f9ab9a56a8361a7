"""The collector interface: what every agent collector (logs, FIM, inventory, host
vulnerabilities) implements, the events it yields, and its base error.

A collector is one module with one `Collector` subclass and one line in
`agent/collectors.py`. The agent calls `collect()` every `interval` seconds (or sooner when the
collector calls `ctx.wake()` from its own thread, e.g. an inotify watcher), writes the events
to its on-disk queue, and only then calls `commit(collection)`: a collector saves its position
(log offsets, baseline) in `commit`, so a crash in between makes it collect the same things
again — with the same event ids (`AgentEvent.make(key=…)`), which the server drops as
duplicates. Nothing is lost, nothing is counted twice.

A collector never raises for one bad file or one vanished path: it says so in `notes` and goes
on. It raises `CollectorError` only when it cannot work at all (bad settings, missing tool).
"""

from __future__ import annotations

import math
import time as _time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from stackwarden.core.errors import StackWardenError

# Ids of events derived from something a collector can read again (a log line, an alert's
# state, a file change) are UUIDv5 in this namespace, keyed by the agent's id and that thing.
EVENT_NAMESPACE = uuid.UUID("5b0f3a2e-7c1d-4e59-9a8f-2d6b1c0e4f37")
KIND_PATTERN = r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$"


class CollectorError(StackWardenError):
    """A collector cannot run: bad settings, a missing tool, an unusable state directory."""


@dataclass(frozen=True, slots=True)
class AgentEvent:
    """One thing a collector saw; the server stores it under (agent, id) exactly once.

    `kind` is dotted (`log.alert`, `log.event`, `fim.change`, `inventory.snapshot`,
    `host.sbom`, `agent.notice`); `data` is JSON-ready; `time` is when it happened (seconds
    since the epoch, UTC).
    """

    kind: str
    data: Mapping[str, Any]
    time: float
    id: str

    @classmethod
    def make(cls, kind: str, data: Mapping[str, Any], *, time: float | None = None,
             key: str | None = None, scope: str = "") -> AgentEvent:
        """A new event. With `key` (what makes it this event: `file_id:offset`, an alert's id
        and state…) its id is the same every time it is made again; without, it is random."""
        when = _time.time() if time is None or not math.isfinite(time) else time
        ident = (uuid.uuid5(EVENT_NAMESPACE, f"{scope}\0{kind}\0{key}") if key is not None
                 else uuid.uuid4())
        return cls(kind, data, when, str(ident))


@dataclass(frozen=True, slots=True)
class Collection:
    """What one `collect()` produced; handed back to `commit()` once the events are queued."""

    events: Sequence[AgentEvent] = ()
    notes: Sequence[str] = ()  # one line each: vanished files, limits reached, fallbacks
    checkpoint: Any = None  # the collector's own; the agent never looks inside


class CollectorSettings(BaseModel):
    """The settings every collector section has; a collector subclasses it for its own keys."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool = True
    interval: float | None = Field(None, gt=0, le=7 * 86400)  # None: the collector's default


@dataclass(frozen=True)
class CollectorContext:
    """What a collector is given: its settings, its own state directory, a way to wake the
    agent early, the identity of the agent (for event id scopes) and its server's URL (what
    active response must never block)."""

    settings: CollectorSettings
    state_dir: Path  # <agent state dir>/collectors/<name>, created, private to the agent
    agent_id: str = ""
    wake: Callable[[], None] = field(default=lambda: None)
    server_url: str = ""


class Collector(ABC):
    """One source of agent events. Subclasses set `name`, `default_interval` and `Settings`."""

    name: ClassVar[str]
    default_interval: ClassVar[float] = 60.0
    Settings: ClassVar[type[CollectorSettings]] = CollectorSettings

    def __init__(self, ctx: CollectorContext) -> None:
        self.ctx = ctx

    @property
    def interval(self) -> float:
        """Seconds between two `collect()` calls."""
        return self.ctx.settings.interval or self.default_interval

    def event(self, kind: str, data: Mapping[str, Any], *, time: float | None = None,
              key: str | None = None) -> AgentEvent:
        """An event whose keyed id is scoped to this agent (two hosts never collide)."""
        return AgentEvent.make(kind, data, time=time, key=key, scope=self.ctx.agent_id)

    @abstractmethod
    def collect(self) -> Collection:
        """Whatever is new since the last committed collection (never blocks for long)."""

    def commit(self, collection: Collection) -> None:  # noqa: B027 - optional hook
        """The events of `collection` are safely queued: save the position they reached."""

    def close(self) -> Collection:
        """Stop; last events (e.g. incidents still open), queued and committed like any other."""
        return Collection()

