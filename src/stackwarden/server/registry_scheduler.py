"""The registry watcher's scheduler: due sweeps, and a re-match after a database update.

It runs as a thread in each API process; several processes claim a due registry with one
conditional UPDATE, so each sweep is queued once (docs/registry-monitoring.md).
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from stackwarden.server.auth import utcnow
from stackwarden.server.context import ServerContext
from stackwarden.server.db.models import Job
from stackwarden.server.db.registry_models import WatchedRegistry
from stackwarden.server.registry_watch import queue_sweep

log = logging.getLogger("stackwarden.server.registry_scheduler")

def due_registries(ctx: ServerContext) -> list[int]:
    """Claim the registries whose next sweep is due (safe with several API processes)."""
    now = utcnow()
    claimed = []
    with ctx.db.transaction() as session:
        due = list(session.execute(select(WatchedRegistry.id, WatchedRegistry.next_sweep_at)
                                   .where(WatchedRegistry.enabled.is_(True),
                                          WatchedRegistry.next_sweep_at <= now)))
        for registry_id, when in due:
            moved = session.execute(
                update(WatchedRegistry).where(WatchedRegistry.id == registry_id,
                                              WatchedRegistry.next_sweep_at == when)
                .values(next_sweep_at=now + timedelta(seconds=10)))
            if moved.rowcount == 1:  # type: ignore[attr-defined]
                claimed.append(registry_id)
    return claimed


def sweep_running(session: Session, row: WatchedRegistry) -> bool:
    """Whether the registry's last sweep job is still queued or running."""
    if row.sweep_job_id is None:
        return False
    state = session.execute(select(Job.state).where(Job.id == row.sweep_job_id)).scalar()
    return state in ("queued", "running")


class WatchScheduler:
    """A thread in the API process: queue due sweeps, re-match after a database update."""

    def __init__(self, ctx: ServerContext) -> None:
        self.ctx = ctx
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sw-registry-watch", daemon=True)

    def start(self) -> None:
        """Start ticking."""
        self._thread.start()

    def tick(self) -> dict[str, Any]:
        """One round: sweeps that are due, and a re-match if the database changed."""
        from stackwarden.server.registry_scan import rematch_if_database_changed

        with self.ctx.db.session() as session:
            if session.execute(select(WatchedRegistry.id).limit(1)).first() is None:
                return {"sweeps": [], "rematch": None}  # nothing watched: touch nothing
        queued = []
        for registry_id in due_registries(self.ctx):
            with self.ctx.db.session() as session:
                row = session.get(WatchedRegistry, registry_id)
                busy = row is None or sweep_running(session, row)
            if not busy:
                queued.append(queue_sweep(self.ctx, registry_id, "scheduler")["id"])
        rematch = rematch_if_database_changed(self.ctx)
        return {"sweeps": queued, "rematch": rematch}

    def _run(self) -> None:
        while not self._stop.wait(self.ctx.settings.registry_tick_seconds):
            try:
                self.tick()
            except Exception:  # the scheduler must outlive a database hiccup
                log.exception("registry watch tick failed")

    def stop(self) -> None:
        """Stop ticking (waits for the current tick)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)
