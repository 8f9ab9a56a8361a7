"""The agent's link to the server, in its own thread: queued batches (with back-off, and an
outage reported once), heartbeats, configuration refreshes when the heartbeat's answer says the
configuration changed. Collection never waits for it."""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from stackwarden.agent.client import AgentError
from stackwarden.agent.state import now_iso
from stackwarden.agent.transport import QueueError, Shipper

if TYPE_CHECKING:
    from stackwarden.agent.runner import AgentRunner

log = logging.getLogger("stackwarden.agent")


class ServerLink:
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
        self.agent.net_wake.set()
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
            agent.net_wake.wait(min(max(min(waits), 0.05), 60))
            agent.net_wake.clear()

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
                agent.error(str(exc))
                self.retry_at = time.monotonic() + 5
                return
            if result is None:
                return
            if result.error and not result.sent and not result.rejected:
                self.retry_at = time.monotonic() + result.retry_in
                if not self.outage:
                    self.outage = True
                    agent.error(f"events kept on disk ({agent.queue.stats()['depth']} "
                                 f"queued): {result.error}")
                with agent.lock:
                    agent.status["server_state"] = ("credential_refused"
                                                    if result.credential_refused
                                                    else "unreachable")
                if result.retry_in:
                    return
                continue
            if result.rejected:
                agent.error(f"the server rejected {result.rejected} event(s) (kept in the "
                             f"queue's dead table): {result.error or 'see the server answer'}")
            if self.outage:
                self.outage = False
                log.info("server reachable again; sending the queued events")
            with agent.lock:
                agent.status.update(server_state="ok", last_sent_at=now_iso())
                agent.status["sent_total"] += result.sent
                agent.status["duplicates_total"] += result.duplicates
                agent.status["rejected_total"] += result.rejected

    def _heartbeat(self) -> bool:
        """Send the status; True when the server's configuration ETag differs from ours."""
        agent = self.agent
        try:
            answer = agent.client.heartbeat(_heartbeat_status(agent.snapshot()))
        except AgentError as exc:
            with agent.lock:
                agent.status["server_state"] = "unreachable"
            agent.error(f"heartbeat failed: {exc}")
            return False
        etag = answer.get("config_etag")
        return bool(etag) and etag != agent.status.get("config_etag") \
            and etag != agent.refused_etag


def _heartbeat_status(status: dict[str, Any]) -> dict[str, Any]:
    keep = ("version", "started_at", "config_etag", "config_source", "queue", "sent_total",
            "duplicates_total", "rejected_total", "last_error", "last_error_at", "collectors")
    return {k: status.get(k) for k in keep}
