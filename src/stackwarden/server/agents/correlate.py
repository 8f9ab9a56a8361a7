"""Correlation across hosts: alerts whose group names the same source address, within a window
of each other, form one incident (one address brute-forcing five hosts is one incident with
five hosts, not five unrelated alerts)."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from stackwarden.agent.logs.alerts import LEVELS, level_rank
from stackwarden.server.db.agent_models import HostAlert, Incident

# group-by fields that carry the remote address, in the decoders' vocabulary (docs/logs.md)
ADDRESS_FIELDS = ("src_ip", "c-ip", "source_ip", "rhost", "client_ip", "src")


def source_address(group: Mapping[str, Any]) -> str | None:
    """The remote address an alert is about, normalised (IPv4-mapped IPv6 as IPv4), or None."""
    for name in ADDRESS_FIELDS:
        value = group.get(name)
        if not isinstance(value, str):
            continue
        try:
            address = ipaddress.ip_address(value.strip())
        except ValueError:
            continue
        mapped = getattr(address, "ipv4_mapped", None)
        return str(mapped or address)
    return None


def correlate(session: Session, alert: HostAlert, window: float, now: datetime) -> None:
    """Attach `alert` to its address's open incident (opening one), then refresh that
    incident's figures. Alerts without a source address stay on their host only."""
    if alert.source_address is None:
        return
    incident = session.get(Incident, alert.incident_id) if alert.incident_id else None
    if incident is None:
        key = f"src:{alert.source_address}"
        incident = session.execute(select(Incident).where(Incident.open_key == key)
                                   .with_for_update()).scalar_one_or_none()
        when = alert.first_at or now
        if incident is not None and incident.last_at < when - timedelta(seconds=window):
            close_incident(incident, now)
            incident = None
        if incident is None:
            incident = Incident(key=key, open_key=key, source_address=alert.source_address,
                                title=alert.title, level=alert.level,
                                level_rank=alert.level_rank, state="open", first_at=when,
                                last_at=alert.last_at or when, hosts=1, alerts=1, rules="[]",
                                created_at=now, updated_at=now)
            session.add(incident)
            session.flush()  # a concurrent twin fails here on open_key: 409, the agent retries
        alert.incident_id = incident.id
        session.flush()
    refresh_incident(session, incident, now)


def refresh_incident(session: Session, incident: Incident, now: datetime) -> None:
    """Recompute an incident's hosts, alerts, times, level and title from its alerts."""
    hosts, alerts, first, last, rank = session.execute(
        select(func.count(func.distinct(HostAlert.asset_id)), func.count(),
               func.min(HostAlert.first_at), func.max(HostAlert.last_at),
               func.max(HostAlert.level_rank))
        .where(HostAlert.incident_id == incident.id)).one()
    titles = sorted(set(session.execute(select(HostAlert.title).where(
        HostAlert.incident_id == incident.id)).scalars()))
    incident.hosts, incident.alerts = int(hosts or 0), int(alerts or 0)
    incident.first_at = min(filter(None, [incident.first_at, first]), default=now)
    incident.last_at = max(filter(None, [incident.last_at, last]), default=now)
    incident.level_rank = max(int(rank if rank is not None else -1), 0)
    incident.level = LEVELS[incident.level_rank]
    incident.rules = json.dumps(titles)
    lead = titles[0] if len(titles) == 1 else f"{len(titles)} rules"
    where = f" on {incident.hosts} hosts" if incident.hosts > 1 else ""
    incident.title = f"{lead} from {incident.source_address}{where}"[:500]
    incident.updated_at = now


def close_incident(incident: Incident, now: datetime) -> None:
    """An incident whose window passed: closed, and its address free for a new one."""
    incident.state, incident.open_key, incident.updated_at = "closed", None, now


def alert_rank(level: str) -> int:
    """A level's rank, unknown levels as `informational`."""
    return max(level_rank(level), 0)
