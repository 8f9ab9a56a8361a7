"""Evaluate compliance frameworks against the server's records: findings, scans, the audit
log and its signed checkpoints (and host agents, once they report). Each check returns
`Evidence` with its status, a sentence, the date of the data and the query it ran.

A documented risk decision (a finding ignored or risk-accepted with a reason, recorded in the
audit log) counts as handled: the evidence says how many there are.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from stackwarden.core.findings import Severity
from stackwarden.policy.compliance import (
    STATUSES,
    ControlResult,
    Evidence,
    EvidenceSpec,
    Framework,
    combine,
)
from stackwarden.server.auth import iso, utcnow
from stackwarden.server.db.models import (
    Asset,
    AuditCheckpointRow,
    AuditEntryRow,
    FindingRow,
    Scan,
)
from stackwarden.server.db.models_dashboard import ComplianceSnapshot

REPORT_SCHEMA_VERSION = "1"
MAX_ITEMS = 20
ACTIVE = ("new", "open", "reopened")
Check = Callable[["Checker", dict[str, Any]], Evidence]
CHECKS: dict[str, Check] = {}
# Providers of host-agent evidence by collector (`fim`, `logs`, …): the agent feature
# registers one with `register_agent_evidence`; without it the check is "not assessed".
AGENT_EVIDENCE: dict[str, Callable[[Session, dict[str, Any]], Evidence]] = {}


def check(name: str) -> Callable[[Check], Check]:
    """Register a check function under its YAML name."""
    def register(func_: Check) -> Check:
        CHECKS[name] = func_
        return func_
    return register


def register_agent_evidence(collector: str,
                            provider: Callable[[Session, dict[str, Any]], Evidence]) -> None:
    """Let the host agent feature decide `agents_reporting` checks for a collector."""
    AGENT_EVIDENCE[collector] = provider


def _days(value: datetime, now: datetime) -> int:
    return max(0, (now - value).days)


def _kind_like(kind: str) -> Any:
    # Scan.kinds is space-separated: match whole words only
    padded = " " + Scan.kinds + " "
    return padded.like(f"% {kind} %")


@dataclass
class Checker:
    """What checks read: a database session, the time of evaluation, the audit verifier."""

    session: Session
    now: datetime
    ctx: Any

    def ev(self, spec: str, status: str, detail: str, as_of: datetime | str | None,
           query: dict[str, Any], items: list[str] | None = None) -> Evidence:
        """Build an evidence record."""
        when = as_of if isinstance(as_of, str) or as_of is None else iso(as_of)
        return Evidence(spec, status, detail, when, query, tuple((items or [])[:MAX_ITEMS]))

    def last_scan(self, kind: str | None) -> datetime | None:
        """When the newest scan (looking for `kind`) arrived."""
        query = select(func.max(Scan.received_at))
        if kind:
            query = query.where(_kind_like(kind))
        return self.session.execute(query).scalar()


@check("scanner_ran")
def scanner_ran(c: Checker, p: dict[str, Any]) -> Evidence:
    """A scan looked for this kind of finding recently."""
    kind, within = p.get("kind"), int(p.get("within_days", 30))
    last = c.last_scan(kind)
    what = f"{kind} scan" if kind else "scan"
    if last is None:
        return c.ev("scanner_ran", "not_assessed", f"no {what} has been submitted", None, p)
    age = _days(last, c.now)
    if age > within:
        return c.ev("scanner_ran", "fail", f"the last {what} was {age} days ago (limit "
                    f"{within})", last, p)
    return c.ev("scanner_ran", "pass", f"the last {what} was {age} day(s) ago (limit {within})",
                last, p)


@check("scan_coverage")
def scan_coverage(c: Checker, p: dict[str, Any]) -> Evidence:
    """Every asset (of the given kinds) was scanned (for `kind`) within the window."""
    kind, within = p.get("kind"), int(p.get("within_days", 30))
    condition = Scan.asset_id == Asset.id
    if kind:
        condition = condition & _kind_like(kind)
    query = (select(Asset.name, func.max(Scan.received_at)).outerjoin(Scan, condition)
             .group_by(Asset.id, Asset.name))
    if p.get("asset_kinds"):
        query = query.where(Asset.kind.in_(list(p["asset_kinds"])))
    rows = c.session.execute(query).all()
    if not rows:
        return c.ev("scan_coverage", "not_assessed", "no assets of these kinds", None, p)
    limit = c.now - timedelta(days=within)
    stale = sorted(name for name, last in rows if last is None or last < limit)
    newest = max((last for _, last in rows if last is not None), default=None)
    what = f"{kind} scan" if kind else "scan"
    if stale:
        return c.ev("scan_coverage", "fail", f"{len(stale)} of {len(rows)} asset(s) had no "
                    f"{what} in the last {within} days", newest, p, stale)
    return c.ev("scan_coverage", "pass", f"all {len(rows)} asset(s) had a {what} in the last "
                f"{within} days", newest, p)


@check("inventory")
def inventory(c: Checker, p: dict[str, Any]) -> Evidence:
    """Every asset's latest scan is recent and listed its packages (an SBOM)."""
    within = int(p.get("within_days", 30))
    rows = c.session.execute(select(Asset.name, Scan.received_at, Scan.summary)
                             .outerjoin(Scan, Scan.id == Asset.last_scan_id)).all()
    if not rows:
        return c.ev("inventory", "not_assessed", "no assets", None, p)
    limit = c.now - timedelta(days=within)
    missing = []
    packages = 0
    for name, at, summary in rows:
        try:
            count = json.loads(summary or "{}").get("packages")
        except (ValueError, AttributeError):
            count = None
        if at is None or at < limit or not isinstance(count, int):
            missing.append(name)
        else:
            packages += count
    newest = max((at for _, at, _ in rows if at is not None), default=None)
    if missing:
        return c.ev("inventory", "fail", f"{len(missing)} of {len(rows)} asset(s) have no "
                    f"software inventory from the last {within} days", newest, p,
                    sorted(missing))
    return c.ev("inventory", "pass", f"{len(rows)} asset(s) inventoried ({packages} "
                f"packages) within {within} days", newest, p)


@check("no_open_findings")
def no_open_findings(c: Checker, p: dict[str, Any]) -> Evidence:
    """No active, untriaged finding matches (kind, severity, age, fix, KEV, controls)."""
    kind = p.get("kind")
    if kind and c.last_scan(kind) is None:
        return c.ev("no_open_findings", "not_assessed", f"no scan has looked for {kind} "
                    "findings", None, p)
    conditions = [FindingRow.state.in_(ACTIVE)]
    words = []
    if kind:
        conditions.append(FindingRow.kind == kind)
        words.append(kind)
    if p.get("min_severity"):
        conditions.append(FindingRow.severity_rank >= Severity(p["min_severity"]).rank)
        words.insert(0, f"{p['min_severity']}+")
    if p.get("older_than_days"):
        conditions.append(FindingRow.first_seen < c.now - timedelta(days=int(
            p["older_than_days"])))
    if p.get("fix_available") is not None:
        conditions.append(FindingRow.fix_available.is_(bool(p["fix_available"])))
    if p.get("kev") is not None:
        conditions.append(FindingRow.kev.is_(bool(p["kev"])))
    controls = list(p.get("controls") or [])
    if controls:
        conditions.append(or_(*(FindingRow.data.like(f'%"{prefix}%') for prefix in controls)))
    untriaged = or_(FindingRow.triage == "", FindingRow.triage_expires <= c.now)
    open_rows = list(c.session.execute(
        select(FindingRow.vuln_id, Asset.name, FindingRow.data, FindingRow.first_seen)
        .join(Asset, Asset.id == FindingRow.asset_id).where(*conditions, untriaged)
        .order_by(FindingRow.severity_rank.desc(), FindingRow.first_seen).limit(2000)).all())
    # (not `~untriaged`: NOT over a NULL expiry is NULL in SQL, which would count nothing)
    triaged = and_(FindingRow.triage != "", or_(FindingRow.triage_expires.is_(None),
                                                 FindingRow.triage_expires > c.now))
    handled = c.session.execute(select(func.count()).select_from(FindingRow).where(
        *conditions, triaged)).scalar() or 0
    age = f" older than {p['older_than_days']} days" if p.get("older_than_days") else ""
    what = " ".join(words) + " findings" if words else "findings"
    note = (f"; {handled} more are ignored or risk-accepted with a recorded reason"
            if handled else "")
    as_of = c.last_scan(kind)
    if open_rows:
        items = [f"{vuln} on {asset} (since {first:%Y-%m-%d})"
                 for vuln, asset, _, first in open_rows[:MAX_ITEMS]]
        if controls:
            items = _failing_controls(open_rows, controls) + items
        total = len(open_rows) if len(open_rows) < 2000 else "2000+"
        return c.ev("no_open_findings", "fail", f"{total} open {what}{age}{note}", as_of, p,
                    items)
    return c.ev("no_open_findings", "pass", f"no open {what}{age}{note}", as_of, p)


def _failing_controls(rows: list[Any], prefixes: list[str]) -> list[str]:
    counts: Counter[str] = Counter()
    for _, _, data, _ in rows:
        try:
            found = json.loads(data).get("controls") or []
        except (ValueError, AttributeError):
            continue
        counts.update(cid for cid in found if isinstance(cid, str) and cid.startswith(
            tuple(prefixes)))
    return [f"benchmark control {cid}: {n} open finding(s)" for cid, n in counts.most_common(8)]


@check("audit_trail")
def audit_trail(c: Checker, p: dict[str, Any]) -> Evidence:
    """The audit log records these actions, recently."""
    within = int(p.get("within_days", 30))
    limit = c.now - timedelta(days=within)
    missing, newest = [], None
    for action in p.get("actions") or []:
        last = c.session.execute(select(func.max(AuditEntryRow.time)).where(
            AuditEntryRow.action.like(str(action) + "%"))).scalar()
        if last is None or last < limit.strftime("%Y-%m-%dT%H:%M:%S"):
            missing.append(str(action))
        newest = max(filter(None, [newest, last]), default=None)
    total = c.session.execute(select(func.count()).select_from(AuditEntryRow)).scalar() or 0
    if not total:
        return c.ev("audit_trail", "not_assessed", "the audit log is empty", None, p)
    if missing:
        return c.ev("audit_trail", "fail", f"no {', '.join(missing)} entries in the last "
                    f"{within} days", newest, p, missing)
    return c.ev("audit_trail", "pass", f"{total} entries; every required action recorded in "
                f"the last {within} days", newest, p)


@check("audit_chain")
def audit_chain(c: Checker, p: dict[str, Any]) -> Evidence:
    """The hash chain and signed checkpoints verify, and a checkpoint is recent."""
    from stackwarden.server.audit_store import verify_database

    within = int(p.get("checkpoint_within_days", 7))
    last = c.session.execute(select(AuditCheckpointRow).order_by(
        AuditCheckpointRow.tree_size.desc()).limit(1)).scalar_one_or_none()
    if last is None:
        return c.ev("audit_chain", "not_assessed", "no signed checkpoint yet", None, p)
    result = verify_database(c.ctx.db, c.ctx.audit.trusted_keys)
    if not result.ok:
        return c.ev("audit_chain", "fail", result.summary(), last.time, p,
                    [f"entry {pr.seq}: {pr.message}" for pr in result.problems])
    if last.time < (c.now - timedelta(days=within)).strftime("%Y-%m-%dT%H:%M:%S"):
        return c.ev("audit_chain", "fail", f"the chain verifies ({result.entries} entries) but "
                    f"the newest signed checkpoint is older than {within} days", last.time, p)
    return c.ev("audit_chain", "pass", f"{result.entries} entries and {result.checkpoints} "
                f"signed checkpoint(s) verify; newest checkpoint covers {last.tree_size}",
                last.time, p)


@check("agents_reporting")
def agents_reporting(c: Checker, p: dict[str, Any]) -> Evidence:
    """Every enrolled host agent that runs this collector is alive and reports it cleanly.

    From each agent's last heartbeat (`status.collectors`). Not assessed when no agent runs
    the collector (another tool may cover it); fails listing the hosts whose agent is silent,
    stale or whose collector reports an error. A provider registered with
    `register_agent_evidence` replaces this for its collector.
    """
    from stackwarden.server.db.agent_models import Agent

    collector = str(p.get("collector", ""))
    provider = AGENT_EVIDENCE.get(collector)
    if provider is not None:
        return provider(c.session, p)
    within = int(p.get("within_days", 1))
    agents = list(c.session.execute(select(Agent).where(Agent.revoked_at.is_(None))).scalars())
    running, problems = [], []
    for agent in agents:
        try:
            status = json.loads(agent.status or "{}").get("collectors", {}).get(collector)
        except (ValueError, AttributeError):
            status = None
        if not isinstance(status, dict):
            continue
        running.append(agent)
        if agent.silent_since is not None or agent.last_seen_at < c.now - timedelta(
                days=within):
            problems.append(f"{agent.hostname}: silent since {agent.last_seen_at:%Y-%m-%d %H:%M}")
        elif status.get("error"):
            problems.append(f"{agent.hostname}: {str(status['error'])[:200]}")
    newest = max((a.last_seen_at for a in running), default=None)
    if not running:
        return c.ev("agents_reporting", "not_assessed", f"no host agent runs the {collector} "
                    f"collector ({len(agents)} agent(s) enrolled)", None, p)
    if problems:
        return c.ev("agents_reporting", "fail", f"{len(problems)} of {len(running)} host(s) "
                    f"running {collector} are not reporting it", newest, p, problems)
    return c.ev("agents_reporting", "pass", f"{len(running)} host(s) report {collector} "
                f"(every agent heard within {within} day(s))", newest, p)


@dataclass(frozen=True, slots=True)
class ComplianceReport:
    """A framework evaluated at one time."""

    framework: Framework
    generated_at: str
    results: tuple[ControlResult, ...]
    trend: tuple[dict[str, Any], ...] = ()

    def counts(self) -> dict[str, int]:
        """Controls per status."""
        counts = Counter(r.status for r in self.results)
        return {s: counts.get(s, 0) for s in STATUSES}

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON form (docs/compliance.md): controls in the framework's order."""
        return {
            "schema_version": REPORT_SCHEMA_VERSION,
            "framework": {"id": self.framework.id, "name": self.framework.name,
                          "url": self.framework.url},
            "generated_at": self.generated_at,
            "summary": self.counts(),
            "controls": [{
                "id": r.control.id, "title": r.control.title, "status": r.status,
                "evidence": [{"check": e.check, "status": e.status, "detail": e.detail,
                              "as_of": e.as_of, "query": dict(sorted(e.query.items())),
                              "items": list(e.items)} for e in r.evidence]}
                for r in self.results],
            "trend": list(self.trend),
        }


def evaluate_spec(c: Checker, spec: EvidenceSpec) -> Evidence:
    """Run one check."""
    return CHECKS[spec.check](c, dict(spec.params))


def evaluate(ctx: Any, framework: Framework, *, now: datetime | None = None) -> ComplianceReport:
    """Every control of `framework`, decided from the server's records now."""
    now = now or utcnow()
    with ctx.db.session() as session:
        checker = Checker(session, now, ctx)
        results = []
        for control in framework.controls:
            evidence = tuple(evaluate_spec(checker, spec) for spec in control.evidence)
            results.append(ControlResult(control, combine([e.status for e in evidence]),
                                         evidence))
        earlier = history(session, framework.id)
    counts = Counter(r.status for r in results)
    now_point = {"at": iso(now), "pass": counts["pass"], "fail": counts["fail"],
                 "not_assessed": counts["not_assessed"]}
    return ComplianceReport(framework, iso(now) or "", tuple(results),
                            tuple([*earlier, now_point]))


def record_snapshot(ctx: Any, report: ComplianceReport) -> None:
    """Keep the outcome for the trend over time."""
    counts = report.counts()
    with ctx.db.transaction() as session:
        session.add(ComplianceSnapshot(
            framework=report.framework.id, at=utcnow(), passed=counts["pass"],
            failed=counts["fail"], not_assessed=counts["not_assessed"],
            result=json.dumps({r.control.id: r.status for r in report.results})))


def history(session: Session, framework_id: str, limit: int = 60) -> list[dict[str, Any]]:
    """Earlier evaluations, oldest first (at most `limit`, the newest ones)."""
    rows = list(session.execute(select(ComplianceSnapshot).where(
        ComplianceSnapshot.framework == framework_id).order_by(ComplianceSnapshot.at.desc())
        .limit(limit)).scalars())
    return [{"at": iso(r.at), "pass": r.passed, "fail": r.failed,
             "not_assessed": r.not_assessed} for r in reversed(rows)]
