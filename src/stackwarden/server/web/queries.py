"""The dashboard's reads: overview figures, findings with their priority, assets with counts.
Every query is limited to the assets the user may see (teams.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from stackwarden.server.auth import Principal, utcnow
from stackwarden.server.db.models import Asset, FindingRow
from stackwarden.server.db.models_dashboard import (
    AssetLabel,
    FindingAssignment,
    FindingScore,
    ScanGate,
)
from stackwarden.server.findings import FindingFilter, apply_filter
from stackwarden.server.risk import (
    Priority,
    breach_condition,
    due_date,
    label_points,
    priority_sql,
    row_priority,
    sla_days,
)
from stackwarden.server.teams import visible_asset_ids
from stackwarden.server.web.charts import SEVERITY_ORDER

ACTIVE = ("new", "open", "reopened")
SORTS = {"priority": "priority, worst first", "severity": "severity, worst first",
         "newest": "newest first", "oldest": "oldest first"}
PAGE_SIZE = 50


def _live_untriaged(now: datetime) -> Any:
    return or_(FindingRow.triage == "", FindingRow.triage_expires <= now)


def scoped(query: Select[Any], session: Session, who: Principal) -> Select[Any]:
    """Limit a query over findings to the assets `who` may see."""
    ids = visible_asset_ids(session, who)
    return query if ids is None else query.where(FindingRow.asset_id.in_(ids))


def labels_of(session: Session, asset_ids: list[int]) -> dict[int, frozenset[str]]:
    """Each asset's labels."""
    out: dict[int, set[str]] = {}
    if asset_ids:
        for asset_id, label in session.execute(select(AssetLabel.asset_id, AssetLabel.label)
                                               .where(AssetLabel.asset_id.in_(asset_ids))):
            out.setdefault(asset_id, set()).add(label)
    return {k: frozenset(v) for k, v in out.items()}


@dataclass
class Overview:
    """What the overview page shows."""

    open_by_severity: dict[str, int]
    kev_open: int
    breaches: int
    trend_labels: list[str]
    trend: dict[str, list[int]]
    top_assets: list[dict[str, Any]]
    breached: list[dict[str, Any]]
    gate_runs: int
    gate_passed: int


def overview(session: Session, who: Principal, days: int = 30) -> Overview:
    """Risk now, findings over time by severity, top risky assets, SLA breaches, gate rate."""
    now = utcnow()
    active = (FindingRow.state.in_(ACTIVE), _live_untriaged(now))
    counts = dict(session.execute(scoped(select(FindingRow.severity, func.count())
                                         .where(*active).group_by(FindingRow.severity),
                                         session, who)).all())
    kev = session.execute(scoped(select(func.count()).where(*active, FindingRow.kev.is_(True)),
                                 session, who)).scalar() or 0
    sla = sla_days(session)
    breach = breach_condition(sla, now)
    n_breach = session.execute(scoped(select(func.count()).select_from(FindingRow)
                                      .where(breach), session, who)).scalar() or 0
    labels, trend = _trend(session, who, now, days)
    # Labels add the same points to every finding of an asset: sum the rest in SQL (no
    # per-row subquery), add the labels' share per asset here.
    base = priority_sql(exposure=False)
    sums = session.execute(scoped(
        select(FindingRow.asset_id, func.sum(base), func.count(), func.max(base))
        .outerjoin(FindingScore, FindingScore.finding_id == FindingRow.id)
        .where(*active).group_by(FindingRow.asset_id), session, who)).all()
    asset_labels = labels_of(session, [a for a, *_ in sums])
    ranked = []
    for asset_id, total, count, worst in sums:
        extra = label_points(asset_labels.get(asset_id, frozenset()))
        ranked.append((float(total or 0) + extra * count, asset_id, count,
                       min(100.0, float(worst or 0) + extra)))
    ranked.sort(key=lambda r: (-r[0], r[1]))
    names = {i: (n, k) for i, n, k in session.execute(select(Asset.id, Asset.name, Asset.kind)
                                                       .where(Asset.id.in_(
                                                           [r[1] for r in ranked[:10]] or [0])))}
    top_assets = [{"id": i, "name": names[i][0], "kind": names[i][1], "risk": round(r, 1),
                   "open": c, "worst": round(w, 1)} for r, i, c, w in ranked[:10]]
    rows = session.execute(scoped(select(FindingRow, Asset.name).join(
        Asset, Asset.id == FindingRow.asset_id).where(breach)
        .order_by(FindingRow.severity_rank.desc(), FindingRow.first_seen).limit(10),
        session, who)).all()
    breached = [{"row": r, "asset": name, "due": due_date(r.first_seen, r.severity, sla)}
                for r, name in rows]
    since = now - timedelta(days=days)
    gate_query = select(ScanGate.passed, func.count()).where(ScanGate.at >= since)
    ids = visible_asset_ids(session, who)
    if ids is not None:
        from stackwarden.server.db.models import Scan

        gate_query = gate_query.join(Scan, Scan.id == ScanGate.scan_id).where(
            Scan.asset_id.in_(ids))
    gates = dict(session.execute(gate_query.group_by(ScanGate.passed)).all())
    return Overview(counts, kev, n_breach, labels, trend, top_assets, breached,
                    sum(gates.values()), gates.get(True, 0))


def _day(value: Any) -> str:
    return str(value)[:10]


def _trend(session: Session, who: Principal, now: datetime, days: int
           ) -> tuple[list[str], dict[str, list[int]]]:
    """Findings not fixed at the end of each day, by severity (from first_seen and fixed_at)."""
    start = (now - timedelta(days=days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    labels = [(start + timedelta(days=i)).strftime("%Y-%m-%d") for i in range(days)]
    opened: dict[tuple[str, str], int] = {}
    fixed: dict[tuple[str, str], int] = {}
    base: dict[str, int] = {}
    q_open = scoped(select(FindingRow.severity, func.date(FindingRow.first_seen), func.count())
                    .where(FindingRow.first_seen >= start)
                    .group_by(FindingRow.severity, func.date(FindingRow.first_seen)), session, who)
    for sev, day, count in session.execute(q_open):
        opened[(sev, _day(day))] = count
    q_fixed = scoped(select(FindingRow.severity, func.date(FindingRow.fixed_at), func.count())
                     .where(FindingRow.fixed_at >= start)
                     .group_by(FindingRow.severity, func.date(FindingRow.fixed_at)), session, who)
    for sev, day, count in session.execute(q_fixed):
        fixed[(sev, _day(day))] = count
    q_base = scoped(select(FindingRow.severity, func.count()).where(
        FindingRow.first_seen < start,
        or_(FindingRow.fixed_at.is_(None), FindingRow.fixed_at >= start))
        .group_by(FindingRow.severity), session, who)
    for sev, count in session.execute(q_base):
        base[sev] = count
    series: dict[str, list[int]] = {}
    for sev in SEVERITY_ORDER:
        level, points = base.get(sev, 0), []
        for day in labels:
            level += opened.get((sev, day), 0) - fixed.get((sev, day), 0)
            points.append(max(level, 0))
        if any(points):
            series[sev] = points
    return labels, series


@dataclass
class FindingQuery:
    """The findings page's filters (from the query string)."""

    base: FindingFilter = field(default_factory=FindingFilter)
    text: str = ""
    assignee: str = ""
    breached: bool = False
    sort: str = "priority"
    page: int = 1


@dataclass(frozen=True, slots=True)
class ListedFinding:
    """A finding row with what the list shows beside it."""

    row: FindingRow
    asset: str
    priority: Priority
    due: datetime | None
    breached: bool
    assignee: str


def search(session: Session, who: Principal, q: FindingQuery
           ) -> tuple[list[ListedFinding], bool]:
    """One page of findings and whether there is a next page."""
    now = utcnow()
    prio = priority_sql().label("priority")
    query = (select(FindingRow, Asset.name, FindingScore.cvss, FindingAssignment.assignee, prio)
             .join(Asset, Asset.id == FindingRow.asset_id)
             .outerjoin(FindingScore, FindingScore.finding_id == FindingRow.id)
             .outerjoin(FindingAssignment, FindingAssignment.finding_id == FindingRow.id))
    query = scoped(apply_filter(query, q.base, now), session, who)
    sla = sla_days(session)
    if q.text:
        like = "%" + q.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(or_(FindingRow.vuln_id.like(like, escape="\\"),
                                FindingRow.package_name.like(like, escape="\\"),
                                FindingRow.title.like(like, escape="\\"),
                                Asset.name.like(like, escape="\\")))
    if q.assignee:
        query = query.where(FindingAssignment.assignee == q.assignee)
    if q.breached:
        query = query.where(breach_condition(sla, now))
    order = {"priority": (prio.desc(), FindingRow.id.desc()),
             "severity": (FindingRow.severity_rank.desc(), FindingRow.id.desc()),
             "newest": (FindingRow.id.desc(),), "oldest": (FindingRow.first_seen, FindingRow.id)
             }[q.sort if q.sort in SORTS else "priority"]
    rows = session.execute(query.order_by(*order).offset((q.page - 1) * PAGE_SIZE)
                           .limit(PAGE_SIZE + 1)).all()
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    labels = labels_of(session, sorted({r[0].asset_id for r in rows}))
    out = []
    for row, asset, cvss, assignee, _score in rows:
        due = due_date(row.first_seen, row.severity, sla)
        live_triage = row.triage and (row.triage_expires is None or row.triage_expires > now)
        out.append(ListedFinding(
            row, asset, row_priority(row, cvss, labels.get(row.asset_id, frozenset())), due,
            bool(due and due < now and row.state != "fixed" and not live_triage),
            assignee or ""))
    return out, more


def finding_json(row: FindingRow) -> dict[str, Any]:
    """The finding as last reported (an empty dict if the stored JSON is unreadable)."""
    try:
        data = json.loads(row.data)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
