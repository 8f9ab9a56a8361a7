"""/api/v1/hosts and /api/v1/incidents: monitored hosts with their agent's liveness, events,
alerts, vulnerabilities, FIM changes, inventory, and incidents correlated across hosts."""

from __future__ import annotations

import json
import zlib
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from stackwarden.server.api.agents import agent_to_dict
from stackwarden.server.api.deps import Ctx, IdPath, requires
from stackwarden.server.auth import Principal, iso
from stackwarden.server.db.agent_models import (
    Agent,
    AgentEventRow,
    FimChange,
    HostAlert,
    HostInventory,
    Incident,
)
from stackwarden.server.db.models import Asset, FindingRow
from stackwarden.server.errors import not_found
from stackwarden.server.findings import FindingFilter, finding_summary, list_findings
from stackwarden.server.ingest import ACTIVE

router = APIRouter(tags=["hosts"])
Reader = Depends(requires("read"))
Limit = Annotated[int, Query(ge=1, le=1000)]
Cursor = Annotated[int | None, Query(ge=1, le=2**62)]


def _host(session: Session, asset_id: int) -> Asset:
    asset = session.get(Asset, asset_id)
    if asset is None or asset.kind != "host":
        raise not_found(f"host {asset_id}")
    return asset


def _host_status(agents: list[Agent]) -> str:
    live = [a for a in agents if a.revoked_at is None]
    if not agents:
        return "no_agent"
    if not live:
        return "revoked"
    return "online" if any(a.silent_since is None for a in live) else "silent"


def host_summaries(session: Session, ids: list[int]) -> dict[int, dict[str, Any]]:
    """Per host: its agents, open alerts, active vulnerabilities by severity."""
    out: dict[int, dict[str, Any]] = {i: {"agents": [], "open_alerts": 0,
                                          "vulnerabilities": {}} for i in ids}
    if not ids:
        return out
    for agent in session.execute(select(Agent).where(Agent.asset_id.in_(ids))
                                 .order_by(Agent.id)).scalars():
        out[agent.asset_id]["agents"].append(agent)
    for asset_id, count in session.execute(
            select(HostAlert.asset_id, func.count()).where(
                HostAlert.asset_id.in_(ids), HostAlert.closed.is_(False))
            .group_by(HostAlert.asset_id)):
        out[asset_id]["open_alerts"] = count
    for asset_id, severity, count in session.execute(
            select(FindingRow.asset_id, FindingRow.severity, func.count()).where(
                FindingRow.asset_id.in_(ids), FindingRow.kind == "vulnerability",
                FindingRow.state.in_(ACTIVE))
            .group_by(FindingRow.asset_id, FindingRow.severity)):
        out[asset_id]["vulnerabilities"][severity] = count
    return out


def host_to_dict(asset: Asset, summary: dict[str, Any]) -> dict[str, Any]:
    """The API form of a host."""
    agents: list[Agent] = summary["agents"]
    seen = [a.last_seen_at for a in agents if a.revoked_at is None]
    return {"id": asset.id, "name": asset.name, "created_at": iso(asset.created_at),
            "status": _host_status(agents), "last_seen_at": iso(max(seen, default=None)),
            "agents": [agent_to_dict(a) for a in agents],
            "open_alerts": summary["open_alerts"],
            "vulnerabilities": summary["vulnerabilities"],
            "last_scan_at": iso(asset.last_scan_at)}


@router.get("/hosts")
def list_hosts(ctx: Ctx, status: str | None = Query(None, pattern="^(online|silent|revoked|"
                                                                  "no_agent)$"),
               limit: Limit = 200, before: Cursor = None,
               caller: Principal = Reader) -> dict[str, Any]:
    """Hosts, newest first, with their agents' liveness, open alerts and vulnerabilities."""
    query = select(Asset).where(Asset.kind == "host").order_by(Asset.id.desc())
    if before:
        query = query.where(Asset.id < before)
    with ctx.db.session() as session:
        rows = list(session.execute(query.limit(limit + 1)).scalars())
        summaries = host_summaries(session, [a.id for a in rows[:limit]])
        items = [host_to_dict(a, summaries[a.id]) for a in rows[:limit]]
    if status:
        items = [h for h in items if h["status"] == status]
    return {"items": items, "next_before": rows[limit - 1].id if len(rows) > limit else None}


@router.get("/hosts/{host_id}")
def get_host(host_id: IdPath, ctx: Ctx, caller: Principal = Reader) -> dict[str, Any]:
    """One host: agents, counts, when its inventory was last taken."""
    with ctx.db.session() as session:
        asset = _host(session, host_id)
        out = host_to_dict(asset, host_summaries(session, [asset.id])[asset.id])
        taken = session.execute(select(HostInventory.taken_at).where(
            HostInventory.asset_id == host_id)).scalar()
        out["inventory_taken_at"] = iso(taken)
        out["events"] = session.execute(select(func.count()).where(
            AgentEventRow.asset_id == host_id)).scalar()
        return out


def event_to_dict(row: AgentEventRow) -> dict[str, Any]:
    """The API form of a stored event."""
    return {"id": row.id, "event_id": row.event_id, "agent_id": row.agent_id, "seq": row.seq,
            "kind": row.kind, "time": iso(row.time), "received_at": iso(row.received_at),
            "data": json.loads(row.data)}


@router.get("/hosts/{host_id}/events")
def host_events(host_id: IdPath, ctx: Ctx, kind: str | None = Query(None, max_length=64),
                after: Annotated[int | None, Query(ge=0, le=2**62)] = None,
                limit: Limit = 100, caller: Principal = Reader) -> dict[str, Any]:
    """A host's events in the order they were stored (oldest first; `after` = next_after)."""
    query = (select(AgentEventRow).where(AgentEventRow.asset_id == host_id)
             .order_by(AgentEventRow.id).limit(limit + 1))
    if kind:
        query = query.where(AgentEventRow.kind == kind)
    if after:
        query = query.where(AgentEventRow.id > after)
    with ctx.db.session() as session:
        _host(session, host_id)
        rows = list(session.execute(query).scalars())
    items = [event_to_dict(r) for r in rows[:limit]]
    return {"items": items, "next_after": items[-1]["id"] if len(rows) > limit else None}


def alert_to_dict(row: HostAlert) -> dict[str, Any]:
    """The API form of a host alert."""
    return {"id": row.id, "asset_id": row.asset_id, "agent_id": row.agent_id,
            "alert_id": row.alert_id, "rule_id": row.rule_id, "rule_name": row.rule_name,
            "title": row.title, "level": row.level, "source_address": row.source_address,
            "group": json.loads(row.group_by or "{}"), "count": row.count,
            "first": iso(row.first_at), "last": iso(row.last_at),
            "state": "closed" if row.closed else "open", "incident_id": row.incident_id,
            "updated_at": iso(row.updated_at), "alert": json.loads(row.data)}


@router.get("/hosts/{host_id}/alerts")
def host_alerts(host_id: IdPath, ctx: Ctx,
                state: str | None = Query(None, pattern="^(open|closed)$"),
                limit: Limit = 100, before: Cursor = None,
                caller: Principal = Reader) -> dict[str, Any]:
    """A host's alerts, newest first."""
    query = (select(HostAlert).where(HostAlert.asset_id == host_id)
             .order_by(HostAlert.id.desc()).limit(limit + 1))
    if state:
        query = query.where(HostAlert.closed.is_(state == "closed"))
    if before:
        query = query.where(HostAlert.id < before)
    with ctx.db.session() as session:
        _host(session, host_id)
        rows = list(session.execute(query).scalars())
    items = [alert_to_dict(r) for r in rows[:limit]]
    return {"items": items, "next_before": items[-1]["id"] if len(rows) > limit else None}


@router.get("/hosts/{host_id}/vulnerabilities")
def host_vulnerabilities(host_id: IdPath, ctx: Ctx,
                         state: Annotated[list[str] | None, Query()] = None,
                         limit: Limit = 100, cursor: str | None = Query(None, max_length=40),
                         caller: Principal = Reader) -> dict[str, Any]:
    """The host's vulnerability findings (its packages matched), worst first; by default
    the active ones (new, open, reopened)."""
    flt = FindingFilter(asset_id=host_id, kind=["vulnerability"],
                        state=list(state or ACTIVE))
    with ctx.db.session() as session:
        _host(session, host_id)
        rows, next_cursor = list_findings(session, flt, limit=limit, cursor=cursor,
                                          sort="severity")
        return {"items": [finding_summary(r) for r in rows], "next_cursor": next_cursor}


def incident_to_dict(row: Incident) -> dict[str, Any]:
    """The API form of an incident."""
    return {"id": row.id, "title": row.title, "source_address": row.source_address,
            "level": row.level, "state": row.state, "host_count": row.hosts,
            "alert_count": row.alerts,
            "rules": json.loads(row.rules or "[]"), "first": iso(row.first_at),
            "last": iso(row.last_at), "updated_at": iso(row.updated_at)}


@router.get("/hosts/{host_id}/incidents")
def host_incidents(host_id: IdPath, ctx: Ctx, limit: Limit = 100,
                   caller: Principal = Reader) -> dict[str, Any]:
    """Incidents with at least one alert on this host, newest first."""
    involved = select(HostAlert.incident_id).where(HostAlert.asset_id == host_id,
                                                   HostAlert.incident_id.is_not(None))
    with ctx.db.session() as session:
        _host(session, host_id)
        rows = session.execute(select(Incident).where(Incident.id.in_(involved))
                               .order_by(Incident.id.desc()).limit(limit)).scalars()
        return {"items": [incident_to_dict(r) for r in rows]}


@router.get("/hosts/{host_id}/fim")
def host_fim(host_id: IdPath, ctx: Ctx, path: str | None = Query(None, max_length=4096),
             limit: Limit = 100, before: Cursor = None,
             caller: Principal = Reader) -> dict[str, Any]:
    """A host's file changes, newest first (`path`: exact path)."""
    query = (select(FimChange).where(FimChange.asset_id == host_id)
             .order_by(FimChange.id.desc()).limit(limit + 1))
    if path:
        query = query.where(FimChange.path == path)
    if before:
        query = query.where(FimChange.id < before)
    with ctx.db.session() as session:
        _host(session, host_id)
        rows = list(session.execute(query).scalars())
    items = [{"id": r.id, "path": r.path, "change": r.change, "label": r.label,
              "time": iso(r.time), **json.loads(r.data)} for r in rows[:limit]]
    return {"items": items, "next_before": items[-1]["id"] if len(rows) > limit else None}


@router.get("/hosts/{host_id}/inventory")
def host_inventory(host_id: IdPath, ctx: Ctx, caller: Principal = Reader) -> dict[str, Any]:
    """The host's latest inventory snapshot."""
    with ctx.db.session() as session:
        _host(session, host_id)
        row = session.get(HostInventory, host_id)
        if row is None:
            raise not_found(f"an inventory of host {host_id}")
        return {"taken_at": iso(row.taken_at), "received_at": iso(row.received_at),
                "agent_id": row.agent_id, "inventory": json.loads(zlib.decompress(row.data))}


@router.get("/incidents")
def list_incidents(ctx: Ctx, state: str | None = Query(None, pattern="^(open|closed)$"),
                   min_hosts: Annotated[int, Query(ge=1, le=100000)] = 1,
                   limit: Limit = 100, before: Cursor = None,
                   caller: Principal = Reader) -> dict[str, Any]:
    """Incidents, newest first (`min_hosts=2`: only those spanning several hosts)."""
    query = select(Incident).order_by(Incident.id.desc()).limit(limit + 1)
    if state:
        query = query.where(Incident.state == state)
    if min_hosts > 1:
        query = query.where(Incident.hosts >= min_hosts)
    if before:
        query = query.where(Incident.id < before)
    with ctx.db.session() as session:
        rows = list(session.execute(query).scalars())
    items = [incident_to_dict(r) for r in rows[:limit]]
    return {"items": items, "next_before": items[-1]["id"] if len(rows) > limit else None}


@router.get("/incidents/{incident_id}")
def get_incident(incident_id: IdPath, ctx: Ctx, caller: Principal = Reader) -> dict[str, Any]:
    """One incident with its alerts and the hosts they were raised on."""
    with ctx.db.session() as session:
        row = session.get(Incident, incident_id)
        if row is None:
            raise not_found(f"incident {incident_id}")
        alerts = list(session.execute(select(HostAlert, Asset.name).join(
            Asset, Asset.id == HostAlert.asset_id).where(HostAlert.incident_id == incident_id)
            .order_by(HostAlert.first_at, HostAlert.id)))
        return {**incident_to_dict(row),
                "alerts": [{**alert_to_dict(a), "host": name} for a, name in alerts]}

