"""File integrity as an agent collector: `collect()` and `watch()` give JSON-able events.

An event is `{"type", "id", "time", "data"}`; `id` is stable for the same change, so a
receiver can drop one delivered twice.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from stackwarden.agent.fim.baseline import Baseline
from stackwarden.agent.fim.check import check
from stackwarden.agent.fim.model import Change, FimOptions
from stackwarden.agent.fim.watch import FimWatcher, Notice

Event = dict[str, Any]


def now() -> str:
    """UTC time in the events' form."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def change_event(change: Change) -> Event:
    """A change as an event (`fim.change`)."""
    return {"type": "fim.change", "id": change.id, "time": now(), "data": change.to_dict()}


def notice_event(level: str, message: str) -> Event:
    """Something about the monitor itself (`fim.notice`): limits, unreadable paths."""
    import hashlib

    ident = hashlib.sha256(f"{level}\0{message}".encode()).hexdigest()[:32]
    return {"type": "fim.notice", "id": ident, "time": now(),
            "data": {"level": level, "message": message}}


class FimCollector:
    """Monitors `paths` with a baseline at `db`: the first collect builds it, later ones check
    and accept what changed (each change is reported once)."""

    name = "fim"

    def __init__(self, paths: Sequence[str], db: str, options: FimOptions | None = None, *,
                 interval: float = 3600.0, fallback_interval: float = 300.0) -> None:
        self.paths = list(paths)
        self.db = db
        self.options = options or FimOptions()
        self.interval = interval
        self.fallback_interval = fallback_interval

    def collect(self) -> list[Event]:
        """One scheduled run: build the baseline if there is none, else check it."""
        if not os.path.exists(self.db):
            built = Baseline.build(self.paths, self.db, self.options)
            events = [{"type": "fim.baseline", "id": f"baseline-{built.files}-{now()}",
                       "time": now(), "data": built.to_dict()}]
            return events + [notice_event("warning", str(n)) for n in built.notes]
        result = check(self.db, update=True)
        return ([change_event(c) for c in result.changes]
                + [notice_event("warning", str(n)) for n in result.notes])

    def watch(self, emit: Callable[[Event], None], stop: threading.Event) -> None:
        """Realtime: emit events as files change until `stop` is set (builds the baseline
        first if needed)."""
        if not os.path.exists(self.db):
            for event in self.collect():
                emit(event)
        watcher = FimWatcher(self.db, lambda c: emit(change_event(c)),
                             on_notice=lambda n: emit(notice_event(n.level, n.message)),
                             interval=self.interval, fallback_interval=self.fallback_interval)
        stopper = threading.Thread(target=lambda: (stop.wait(), watcher.stop()), daemon=True)
        stopper.start()
        watcher.run()


__all__ = ["FimCollector", "Notice", "change_event", "notice_event"]
