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
from stackwarden.agent.state import AgentStateError, Identity, StateDir
from stackwarden.agent.transport import EventQueue, QueueError, Shipper

log = logging.getLogger("stackwarden.agent")
STATUS_EVERY = 10.0  # seconds between status file writes
STOP_GRACE = 5.0  # seconds the link may keep sending after a stop


def _now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


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
        self._net_wake = threading.Event()  # the link: events were queued
        self._lock = threading.Lock()
        self._pending: AgentConfig | None = None
        self._refused_etag: str | None = None
        self._slots: dict[str, _Slot] = {}
        self._seen_notes: dict[str, float] = {}
        self._lock_handle: Any = None
        self.status: dict[str, Any] = {
            "pid": os.getpid(), "started_at": _now_iso(), "version": __version__,
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
            self._error(f"configuration not refreshed: {exc}")
            return
        if got is None:
            return
        document, etag = got
        if not etag and isinstance(document, dict):
            etag = config_etag(document)
        try:
            config = parse_config(document)
        except ConfigError as exc:
            if etag != self._refused_etag:
                self._refused_etag = etag
                self._error(f"the server's configuration was refused: {exc.message}; keeping "
                            f"the {self.status.get('config_source')} configuration")
            return
        self.state.save_config(dict(document), etag)
        with self._lock:
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
            with self._lock:
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
                                   self.identity.agent_uid, wake)
            collector = collector_class(name)(ctx)
        except (CollectorError, AgentStateError) as exc:
            self._error(f"collector {name} not started: {exc}")
            with self._lock:
                self.status["collectors"][name] = {"error": str(exc)}
            return None
        slot = _Slot(name, collector, text, status={"interval": collector.interval,
                                                    "events_total": 0, "error": None,
                                                    "notes": []})
        holder.append(slot)
        with self._lock:
            self.status["collectors"][name] = slot.status
        log.info("collector %s started (every %gs)", name, collector.interval)
        return slot

    def _stop_slot(self, slot: _Slot) -> None:
        try:
            self._queue(slot, slot.collector.close())
        except Exception as exc:  # noqa: BLE001 - one collector's bug must not stop the agent
            self._error(f"collector {slot.name} failed while stopping: {type(exc).__name__}: "
                        f"{exc}")

    # ---------------------------------------------------------------------- collection

    def _collect(self, slot: _Slot) -> None:
        started = time.monotonic()
        try:
            collection = slot.collector.collect()
        except Exception as exc:  # noqa: BLE001 - one collector's bug must not stop the agent
            error = f"{type(exc).__name__}: {exc}"[:300]
            with self._lock:
                slot.status["error"] = error
            self._error(f"collector {slot.name} failed: {error}")
            return
        self._queue(slot, collection)
        with self._lock:
            slot.status.update(error=None, last_run_at=_now_iso(),
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
            self._error(str(exc))
            return
        slot.collector.commit(collection)
        with self._lock:
            slot.status["events_total"] = slot.status.get("events_total", 0) + len(events)
        if events:
            self._net_wake.set()

    def _note(self, collector: str, note: str) -> bool:
        """Log a collector's note (once an hour at most for the same text)."""
        key = f"{collector}\0{note}"
        now = time.monotonic()
        if now - self._seen_notes.get(key, -1e9) < 3600:
            return False
        self._seen_notes[key] = now
        log.warning("%s: %s", collector, note)
        with self._lock:
            slot_status = self.status["collectors"].get(collector)
            if isinstance(slot_status, dict):
                slot_status["notes"] = [*slot_status.get("notes", [])[-4:], note]
        return True

    def _error(self, message: str) -> None:
        with self._lock:
            repeated = self.status.get("last_error") == message
            self.status.update(last_error=message, last_error_at=_now_iso())
        if not repeated:
            log.error("%s", message)

    # --------------------------------------------------------------------------- run

    def run(self, stop: threading.Event) -> None:
        """Run until `stop` is set (or, with `once`, one round of everything)."""
        self._take_lock()
        link = _Link(self, stop)
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
                with self._lock:
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
        with self._lock:
            status = {**copy.deepcopy(self.status), "updated_at": _now_iso()}
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


class _Link:
    """The server link thread: ship batches (with back-off), heartbeat, refresh config."""

    def __init__(self, agent: AgentRunner, stop: threading.Event) -> None:
        self.agent = agent
        self.stop = stop
        self.done = threading.Event()
        self.deadline: float | None = None
        self.shipper = Shipper(agent.queue, agent.client, agent.config.transport)
        self.thread = threading.Thread(target=self._loop, name="sw-agent-link", daemon=True)
        self.retry_at = 0.0
        self.outage = False

    def start(self) -> None:
        """Run in the background."""
        self.thread.start()

    def finish(self, grace: float) -> None:
        """Let the link send what is queued for up to `grace` seconds, then stop it."""
        if not self.thread.is_alive():
            return
        self.deadline = time.monotonic() + grace
        self.agent._net_wake.set()
        self.thread.join(timeout=grace + self.agent.config.transport.timeout + 5)
        self.done.set()

    def _loop(self) -> None:
        agent = self.agent
        config = agent.config
        next_heartbeat = time.monotonic()  # at once: the answer says if the config changed
        next_config = time.monotonic() + config.model.config_refresh_interval
        while True:
            now = time.monotonic()
            if self.deadline is not None and (now >= self.deadline or self._drained()):
                return
            if self.deadline is None:
                if agent.config is not config:  # a new configuration: new intervals, limits
                    config = agent.config
                    self.shipper = Shipper(agent.queue, agent.client, config.transport)
                    agent.queue.max_bytes = config.transport.queue_max_bytes
                    next_config = min(next_config, now + config.model.config_refresh_interval)
                if now >= next_heartbeat:
                    if self._heartbeat():
                        next_config = now  # the configuration changed on the server
                    next_heartbeat = now + config.model.heartbeat_interval
                if now >= next_config:
                    agent.refresh_config()
                    next_config = now + config.model.config_refresh_interval
            if now >= self.retry_at:
                self._ship_all()
            waits = [self.retry_at - now if agent.queue.stats()["depth"] else 60.0]
            if self.deadline is None:
                waits += [next_heartbeat - now, next_config - now]
            else:
                waits.append(self.deadline - now)
            agent._net_wake.wait(min(max(min(waits), 0.05), 60))
            agent._net_wake.clear()

    def _drained(self) -> bool:
        """Stopping: nothing left to send, or the next try would come after the deadline."""
        return (self.agent.queue.stats()["depth"] == 0
                or self.deadline is not None and self.retry_at > self.deadline)

    def _ship_all(self) -> None:
        agent = self.agent
        while self.deadline is None or time.monotonic() < self.deadline:
            try:
                result = self.shipper.ship()
            except QueueError as exc:
                agent._error(str(exc))
                self.retry_at = time.monotonic() + 5
                return
            if result is None:
                return
            if result.error and not result.sent and not result.rejected:
                self.retry_at = time.monotonic() + result.retry_in
                if not self.outage:
                    self.outage = True
                    agent._error(f"events kept on disk ({agent.queue.stats()['depth']} "
                                 f"queued): {result.error}")
                with agent._lock:
                    agent.status["server_state"] = ("credential_refused"
                                                    if result.credential_refused
                                                    else "unreachable")
                if result.retry_in:
                    return
                continue
            if result.rejected:
                agent._error(f"the server rejected {result.rejected} event(s) (kept in the "
                             f"queue's dead table): {result.error or 'see the server answer'}")
            if self.outage:
                self.outage = False
                log.info("server reachable again; sending the queued events")
            with agent._lock:
                agent.status.update(server_state="ok", last_sent_at=_now_iso())
                agent.status["sent_total"] += result.sent
                agent.status["duplicates_total"] += result.duplicates
                agent.status["rejected_total"] += result.rejected

    def _heartbeat(self) -> bool:
        """Send the status; True when the server's configuration ETag differs from ours."""
        agent = self.agent
        try:
            answer = agent.client.heartbeat(_heartbeat_status(agent.snapshot()))
        except AgentError as exc:
            with agent._lock:
                agent.status["server_state"] = "unreachable"
            agent._error(f"heartbeat failed: {exc}")
            return False
        etag = answer.get("config_etag")
        return bool(etag) and etag != agent.status.get("config_etag") \
            and etag != agent._refused_etag


def _heartbeat_status(status: dict[str, Any]) -> dict[str, Any]:
    keep = ("version", "started_at", "config_etag", "config_source", "queue", "sent_total",
            "duplicates_total", "rejected_total", "last_error", "last_error_at", "collectors")
    return {k: status.get(k) for k in keep}


def run_agent(state: StateDir, *, once: bool = False,
              install_signals: Callable[[threading.Event], None] | None = None) -> None:
    """Run an enrolled agent in the foreground until SIGTERM/SIGINT (or one round)."""
    stop = threading.Event()
    runner = AgentRunner(state, once=once)
    if install_signals is not None:
        install_signals(stop)
    runner.run(stop)
