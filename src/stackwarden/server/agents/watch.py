"""Agent liveness: every authenticated agent call updates `last_seen_at`; a background check
marks an agent silent once it has said nothing for `agent_silent_seconds` (an audit entry and
a high alert on its host) and clears that when it speaks again. It also closes incidents whose
window has passed. Each step is a conditional update, so several API processes running the
check never report one silence twice."""

from __future__ import annotations

import json
import logging
import threading
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from stackwarden.server.agents.correlate import alert_rank, close_incident
from stackwarden.server.auth import iso, utcnow
from stackwarden.server.db.agent_models import Agent, HostAlert, Incident
from stackwarden.server.notify import notify

log = logging.getLogger("stackwarden.server.agents")
SILENT_RULE = "stackwarden_agent_silent"


def _silence_alert_id(agent: Agent) -> str:
    return f"agent-silent:{agent.uid}:{iso(agent.silent_since)}"


def mark_silent(ctx: Any, now: datetime | None = None) -> list[int]:
    """Mark agents silent past the threshold; returns their ids."""
    now = now or utcnow()
    cutoff = now - timedelta(seconds=ctx.settings.agent_silent_seconds)
    marked: list[int] = []
    silent: list[dict[str, Any]] = []
    with ctx.db.transaction() as session:
        candidates = list(session.execute(select(Agent).where(
            Agent.revoked_at.is_(None), Agent.silent_since.is_(None),
            Agent.last_seen_at < cutoff)).scalars())
        for agent in candidates:
            won = session.execute(update(Agent).where(
                Agent.id == agent.id, Agent.silent_since.is_(None)).values(
                silent_since=now)).rowcount  # type: ignore[attr-defined]
            if won != 1:
                continue
            session.refresh(agent)
            seconds = int((now - agent.last_seen_at).total_seconds())
            data = {"hostname": agent.hostname, "last_seen_at": iso(agent.last_seen_at),
                    "silent_for_seconds": seconds}
            session.add(HostAlert(
                asset_id=agent.asset_id, agent_id=agent.id, alert_id=_silence_alert_id(agent),
                rule_id=SILENT_RULE, rule_name=SILENT_RULE, title="Agent silent",
                level="high", level_rank=alert_rank("high"), source_address=None,
                group_by=json.dumps({"agent": agent.uid}), count=1,
                first_at=agent.last_seen_at, last_at=now, closed=False, created_at=now,
                updated_at=now, data=json.dumps(data)))
            ctx.audit.append(session, "server", "agent.silent", f"agent:{agent.id}", data)
            marked.append(agent.id)
            silent.append({"text": f"{agent.hostname} (last seen {iso(agent.last_seen_at)})",
                           **data})
        if silent:  # one message per check, however many agents went silent
            notify(session, "agent_silent", {
                "title": f"{len(silent)} agent(s) silent", "severity": "high",
                "summary": f"no word for more than {ctx.settings.agent_silent_seconds} s",
                "items": silent, "path": "/assets?kind=host"}, group_key="agent-silent")
        _close_stale_incidents(session, ctx.settings.incident_window_seconds, now)
    for agent_id in marked:
        log.warning("agent %s is silent", agent_id)
    return marked


def agent_back(session: Session, agent: Agent, audit: Any, now: datetime) -> None:
    """A silent agent spoke: close its silence alert, audit it, clear the mark."""
    if agent.silent_since is None:
        return
    alert = session.execute(select(HostAlert).where(
        HostAlert.asset_id == agent.asset_id,
        HostAlert.alert_id == _silence_alert_id(agent))).scalar_one_or_none()
    if alert is not None:
        alert.closed, alert.last_at, alert.updated_at = True, now, now
    audit.append(session, f"agent:{agent.uid}", "agent.back", f"agent:{agent.id}",
                 {"hostname": agent.hostname, "silent_since": iso(agent.silent_since)})
    agent.silent_since = None


def _close_stale_incidents(session: Session, window: float, now: datetime) -> None:
    cutoff = now - timedelta(seconds=window)
    for incident in session.execute(select(Incident).where(
            Incident.state == "open", Incident.last_at < cutoff)).scalars():
        close_incident(incident, now)


class SilenceWatch:
    """A daemon thread running `mark_silent` every `agent_watch_seconds`."""

    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="sw-agent-watch", daemon=True)

    def start(self) -> SilenceWatch:
        """Start checking."""
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(self.ctx.settings.agent_watch_seconds):
            try:
                mark_silent(self.ctx)
            except Exception as exc:  # noqa: BLE001 - a database hiccup must not end the thread
                log.warning("agent silence check failed: %s", type(exc).__name__)

    def close(self) -> None:
        """Stop (waits for a check in progress)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)
