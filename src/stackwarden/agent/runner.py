"""`stackwarden agent run`: collectors on their intervals in the main thread, the server link
(batches, heartbeats, configuration) in a second one, so a slow or absent server never delays
collection. Events go to the disk queue first; collectors commit only after that.

Stopping (SIGTERM, SIGINT): collectors are closed (their last events queued), the link gets a
few seconds to send what is queued, and whatever is left stays on disk for the next start.
"""

from __future__ import annotations

import copy
import fcntl
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from stackwarden import __version__
from stackwarden.agent.client import AgentClient, AgentError
from stackwarden.agent.collectors import collector_class
from stackwarden.agent.config import (
    AgentConfig,
    ConfigError,
    config_etag,
    default_document,
    parse_config,
)
from stackwarden.agent.interface import (
    AgentEvent,
    Collection,
    Collector,
    CollectorContext,
    CollectorError,
)
from stackwarden.agent.link import ServerLink
from stackwarden.agent.state import AgentStateError, Identity, StateDir, now_iso
from stackwarden.agent.transport import EventQueue, QueueError

log = logging.getLogger("stackwarden.agent")
STATUS_EVERY = 10.0  # seconds between status file writes
STOP_GRACE = 5.0  # seconds the link may keep sending after a stop


@dataclass
class _Slot:
    """A running collector and its schedule."""

    name: str
    collector: Collector
    settings_json: str
    due: float = 0.0
    woken: bool = False
    status: dict[str, Any] = field(default_factory=dict)


class AgentRunner:
    """One agent process: run `run(stop)` in the main thread."""

    def __init__(self, state: StateDir, *, once: bool = False) -> None:
        self.state = state
        self.once = once
        self.identity: Identity = state.identity()
        self.credential = state.credential()
        self._wake = threading.Event()  # the main loop: a collector woke, or a new config
        self.net_wake = threading.Event()  # the link: events were queued
        self.lock = threading.Lock()
        self._pending: AgentConfig | None = None
        self.refused_etag: str | None = None
        self._slots: dict[str, _Slot] = {}
        self._seen_notes: dict[str, float] = {}
        self._lock_handle: Any = None
        self.status: dict[str, Any] = {
            "pid": os.getpid(), "started_at": now_iso(), "version": __version__,
            "server": self.identity.server, "agent_id": self.identity.agent_id,
            "hostname": self.identity.hostname, "server_state": "unknown",
            "last_sent_at": None, "sent_total": 0, "duplicates_total": 0, "rejected_total": 0,
            "last_error": None, "last_error_at": None, "collectors": {}}
        self.config = self._initial_config()
        self.queue = EventQueue(state.queue_file, self.config.transport.queue_max_bytes)
        self.client = AgentClient(self.identity.server, self.credential,
                                  ca_cert=self.identity.ca_cert,
                                  allow_http=self.identity.allow_http,
                                  timeout=self.config.transport.timeout)

    # -------------------------------------------------------------------------- config

    def _initial_config(self) -> AgentConfig:
        cached = self.state.cached_config()
        if cached is not None:
            try:
                config = parse_config(cached[0])
                self.status.update(config_etag=cached[1], config_source="cache")
                return config
            except ConfigError as exc:
                log.error("the cached configuration is unusable (%s); using the defaults until "
                          "the server sends one", exc.message)
        self.status.update(config_etag=None, config_source="default")
        return parse_config(default_document())

    def refresh_config(self) -> None:
        """Ask the server for the configuration (If-None-Match); a new valid one is cached and
        applied by the main loop; an invalid one is refused once, loudly, and the current one
        kept."""
        try:
            got = self.client.config(self.status.get("config_etag"))
        except AgentError as exc:
            self.error(f"configuration not refreshed: {exc}")
            return
        if got is None:
            return
        document, etag = got
        if not etag and isinstance(document, dict):
            etag = config_etag(document)
        try:
            config = parse_config(document)
        except ConfigError as exc:
            if etag != self.refused_etag:
                self.refused_etag = etag
                self.error(f"the server's configuration was refused: {exc.message}; keeping "
                            f"the {self.status.get('config_source')} configuration")
            return
        self.state.save_config(dict(document), etag)
        with self.lock:
            self._pending = config
            self.status.update(config_etag=etag, config_source="server")
        self._wake.set()

    def _apply(self, config: AgentConfig) -> None:
        """Start, stop or restart the collectors whose settings changed."""
        for name in config.unknown_collectors:
            self._note(name, "this agent version does not know this collector; skipped")
        wanted = {n: s for n, s in config.collectors.items() if s.enabled}
        for name in [n for n in self._slots if n not in wanted]:
            self._stop_slot(self._slots.pop(name))
            with self.lock:
                self.status["collectors"].pop(name, None)
        for name, settings in wanted.items():
            text = json.dumps(settings.model_dump(mode="json"), sort_keys=True)
            slot = self._slots.get(name)
            if slot is not None and slot.settings_json == text:
                continue
            if slot is not None:
                self._stop_slot(self._slots.pop(name))
            started = self._start(name, settings, text)
            if started is not None:
                self._slots[name] = started
        self.config = config

    def _start(self, name: str, settings: Any, text: str) -> _Slot | None:
        holder: list[_Slot] = []

        def wake() -> None:
            if holder:
                holder[0].woken = True
            self._wake.set()

        try:
            ctx = CollectorContext(settings, self.state.collector_dir(name),
                                   self.identity.agent_uid, wake, self.identity.server)
            collector = collector_class(name)(ctx)
        except (CollectorError, AgentStateError) as exc:
            self.error(f"collector {name} not started: {exc}")
            with self.lock:
                self.status["collectors"][name] = {"error": str(exc)}
            return None
        slot = _Slot(name, collector, text, status={"interval": collector.interval,
                                                    "events_total": 0, "error": None,
                                                    "notes": []})
        holder.append(slot)
        with self.lock:
            self.status["collectors"][name] = slot.status
        log.info("collector %s started (every %gs)", name, collector.interval)
        return slot

    def _stop_slot(self, slot: _Slot) -> None:
        try:
            self._queue(slot, slot.collector.close())
        except Exception as exc:  # noqa: BLE001 - one collector's bug must not stop the agent
            self.error(f"collector {slot.name} failed while stopping: {type(exc).__name__}: "
                        f"{exc}")

    # ---------------------------------------------------------------------- collection

    def _collect(self, slot: _Slot) -> None:
        started = time.monotonic()
        try:
            collection = slot.collector.collect()
        except Exception as exc:  # noqa: BLE001 - one collector's bug must not stop the agent
            error = f"{type(exc).__name__}: {exc}"[:300]
            with self.lock:
                slot.status["error"] = error
            self.error(f"collector {slot.name} failed: {error}")
            return
        self._queue(slot, collection)
        with self.lock:
            slot.status.update(error=None, last_run_at=now_iso(),
                               last_events=len(collection.events),
                               last_seconds=round(time.monotonic() - started, 3))

    def _queue(self, slot: _Slot, collection: Collection) -> None:
        events = list(collection.events)
        for note in collection.notes:
            if self._note(slot.name, note):
                events.append(AgentEvent.make("agent.notice", {"collector": slot.name,
                                                               "message": note}))
        try:
            self.queue.put(events)
        except QueueError as exc:  # not committed: the collector reads the same again later
            self.error(str(exc))
            return
        try:
            slot.collector.commit(collection)
        except Exception as exc:  # noqa: BLE001 - queued already; the next commit catches up
            self.error(f"collector {slot.name} could not save its position: "
                        f"{type(exc).__name__}: {exc}"[:300])
        with self.lock:
            slot.status["events_total"] = slot.status.get("events_total", 0) + len(events)
        if events:
            self.net_wake.set()

    def _note(self, collector: str, note: str) -> bool:
        """Log a collector's note (once an hour at most for the same text)."""
        key = f"{collector}\0{note}"
        now = time.monotonic()
        if now - self._seen_notes.get(key, -1e9) < 3600:
            return False
        self._seen_notes[key] = now
        log.warning("%s: %s", collector, note)
        with self.lock:
            slot_status = self.status["collectors"].get(collector)
            if isinstance(slot_status, dict):
                slot_status["notes"] = [*slot_status.get("notes", [])[-4:], note]
        return True

    def error(self, message: str) -> None:
        with self.lock:
            repeated = self.status.get("last_error") == message
            self.status.update(last_error=message, last_error_at=now_iso())
        if not repeated:
            log.error("%s", message)

    # --------------------------------------------------------------------------- run

    def run(self, stop: threading.Event) -> None:
        """Run until `stop` is set (or, with `once`, one round of everything)."""
        self._take_lock()
        link = ServerLink(self, stop)
        try:
            if self.status["config_source"] == "default":
                # first start: wait for the server's configuration rather than start the
                # defaults and restart a moment later (with a cached one, the link refreshes it)
                self.refresh_config()
            self._apply(self._pending or self.config)
            self._pending = None
            link.start()
            last_status = 0.0
            while not stop.is_set():
                with self.lock:
                    pending, self._pending = self._pending, None
                if pending is not None:
                    log.info("configuration %s applied", self.status.get("config_etag"))
                    self._apply(pending)
                now = time.monotonic()
                for slot in list(self._slots.values()):
                    if slot.woken or now >= slot.due:
                        slot.woken = False
                        self._collect(slot)
                        slot.due = time.monotonic() + slot.collector.interval
                if now - last_status >= STATUS_EVERY:
                    self.write_status()
                    last_status = now
                if self.once:
                    break
                due = min((s.due for s in self._slots.values()), default=now + 60)
                self._wake.wait(min(max(due - time.monotonic(), 0.05), 60))
                self._wake.clear()
        finally:
            for slot in list(self._slots.values()):
                self._stop_slot(slot)
            self._slots.clear()
            link.finish(STOP_GRACE if not self.once else self.config.transport.timeout)
            self.write_status()
            self.client.close()
            self.queue.close()
            self._release_lock()

    def write_status(self) -> None:
        """Save the status for `stackwarden agent status` (and the heartbeat)."""
        self.state.save_status(self.snapshot())

    def snapshot(self) -> dict[str, Any]:
        """The current status."""
        with self.lock:
            status = {**copy.deepcopy(self.status), "updated_at": now_iso()}
        try:
            status["queue"] = self.queue.stats()
        except Exception:  # noqa: BLE001 - a closed queue at shutdown: status without it
            status["queue"] = None
        return status

    def _take_lock(self) -> None:
        self.state.ensure()
        handle = open(self.state.lock_file, "a+")  # noqa: SIM115 - held for the whole run
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            raise AgentStateError("another agent is running with this state directory",
                                  source=str(self.state.path)) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._lock_handle = handle

    def _release_lock(self) -> None:
        if self._lock_handle is not None:
            self._lock_handle.close()
            self._lock_handle = None


def run_agent(state: StateDir, *, once: bool = False,
              install_signals: Callable[[threading.Event], None] | None = None) -> None:
    """Run an enrolled agent in the foreground until SIGTERM/SIGINT (or one round)."""
    stop = threading.Event()
    runner = AgentRunner(state, once=once)
    if install_signals is not None:
        install_signals(stop)
    runner.run(stop)
