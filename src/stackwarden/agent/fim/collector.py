"""File integrity as an agent collector (`collectors.fim`).

The first collection builds the baseline in the collector's state directory (a `fim.baseline`
event says what it covers); then an inotify watcher (`FimWatcher`, falling back to scheduled
full checks at the watch limit) runs in its own thread, reports each change once, and wakes the
agent, whose next `collect()` ships the changes as `fim.change` events keyed by the change's
stable id (a change shipped twice is stored once). Changes the watcher saw but the agent had not
queued yet when it stopped are shipped by `close()`.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from pydantic import Field

from stackwarden.agent.fim.baseline import Baseline
from stackwarden.agent.fim.model import DEFAULT_DIFF_MAX_BYTES, Change, FimError, FimOptions
from stackwarden.agent.fim.scan import normalize_roots
from stackwarden.agent.fim.watch import FimWatcher, Notice
from stackwarden.agent.interface import (
    Collection,
    Collector,
    CollectorContext,
    CollectorError,
    CollectorSettings,
)

DEFAULT_PATHS = ["/etc", "/usr/bin", "/usr/sbin", "/usr/local/bin", "/root/.ssh"]


class FimSettings(CollectorSettings):
    """`collectors.fim`: which paths, how often a full check runs, realtime or not."""

    paths: list[str] = Field(default_factory=lambda: list(DEFAULT_PATHS), min_length=1,
                             max_length=1000)
    ignore: list[str] = Field(default_factory=list, max_length=1000)  # globs (see docs/fim.md)
    realtime: bool = True  # inotify; False: scheduled full checks only
    full_check_interval: float = Field(3600, ge=10, le=7 * 86400)  # seconds, with inotify
    fallback_interval: float = Field(300, ge=10, le=7 * 86400)  # seconds, without inotify
    diff_max_bytes: int = Field(DEFAULT_DIFF_MAX_BYTES, ge=0, le=1 << 20)  # 0: no diffs


class FimCollector(Collector):
    """A baseline of `paths`, then every change to them, as agent events."""

    name = "fim"
    default_interval = 5.0  # how often the watcher's changes are picked up (or sooner: wake)
    Settings = FimSettings

    def __init__(self, ctx: CollectorContext) -> None:
        super().__init__(ctx)
        self.settings: FimSettings = ctx.settings  # type: ignore[assignment]
        self.db = str(ctx.state_dir / "fim.db")
        self._pending: list[Change] = []
        self._notes: list[str] = []
        self._lock = threading.Lock()
        self._watcher: FimWatcher | None = None
        self._thread: threading.Thread | None = None

    def collect(self) -> Collection:
        """The baseline (first time), then the changes the watcher reported since."""
        events = []
        if not self._baseline_current():
            events.append(self._build())
        if self._watcher is None:
            self._start_watcher()
        return self._drain(events)

    def close(self) -> Collection:
        """Stop watching; ship what the watcher reported and the agent had not queued yet."""
        watcher, thread = self._watcher, self._thread
        self._watcher = self._thread = None
        if watcher is not None:
            watcher.stop()
        if thread is not None:
            thread.join(timeout=30)
        return self._drain([])

    # -- parts -------------------------------------------------------------------------------

    def _baseline_current(self) -> bool:
        """A baseline exists and covers the configured paths (new paths: a new baseline)."""
        if not os.path.exists(self.db):
            return False
        try:
            return set(Baseline(self.db).roots) == set(normalize_roots(self.settings.paths))
        except FimError:
            return False  # unreadable or foreign: built again

    def _build(self) -> Any:
        options = FimOptions(ignore=tuple(self.settings.ignore),
                             diff_max_bytes=self.settings.diff_max_bytes)
        try:
            built = Baseline.build(self.settings.paths, self.db, options)
        except OSError as exc:
            raise CollectorError(f"cannot write the FIM baseline: {exc.strerror or exc}",
                                 source=self.db) from None
        except FimError as exc:
            raise CollectorError(f"collectors.fim.paths: {exc.message}") from None
        with self._lock:
            self._notes.extend(str(n) for n in built.notes)
        return self.event("fim.baseline", built.to_dict(), key=f"baseline:{self.db}")

    def _start_watcher(self) -> None:
        self._watcher = FimWatcher(self.db, self._on_change, on_notice=self._on_notice,
                                   interval=self.settings.full_check_interval,
                                   fallback_interval=self.settings.fallback_interval,
                                   realtime=self.settings.realtime)
        self._thread = threading.Thread(target=self._watcher.run, name="fim-watch", daemon=True)
        self._thread.start()

    def _on_change(self, change: Change) -> None:
        with self._lock:
            self._pending.append(change)
        self.ctx.wake()

    def _on_notice(self, notice: Notice) -> None:
        if notice.level != "info":
            with self._lock:
                self._notes.append(f"fim: {notice.message}")

    def _drain(self, events: list[Any]) -> Collection:
        with self._lock:
            changes, self._pending = self._pending, []
            notes, self._notes = self._notes, []
        events += [self.event("fim.change", change.to_dict(), key=f"change:{change.id}")
                   for change in changes]
        return Collection(events, notes)
