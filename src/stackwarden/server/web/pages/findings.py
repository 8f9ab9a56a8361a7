"""Findings: filter, sort by priority, open one (priority reasons, SLA, history), triage one
or many (ignore with reason and expiry, accept the risk, assign, clear)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy import select

from stackwarden.server.api.deps import IdPath
from stackwarden.server.auth import utcnow
from stackwarden.server.db.models import Asset, AuditEntryRow, FindingRow, User
from stackwarden.server.db.models_dashboard import FindingAssignment, FindingScore
from stackwarden.server.errors import not_found
from stackwarden.server.findings import STATES, FindingFilter, set_triage
from stackwarden.server.risk import due_date, is_breached, row_priority, sla_days
from stackwarden.server.teams import can_see
from stackwarden.server.web.charts import SEVERITY_ORDER
from stackwarden.server.web.core import Form, Page, PageDep, nav, query_with, router
from stackwarden.server.web.queries import SORTS, FindingQuery, finding_json, labels_of, search

nav("Findings", "/findings", order=30)
KINDS = ("vulnerability", "secret", "malware", "misconfiguration", "license")
TRIAGE_LABELS = {"ignored": "Ignore", "risk_accepted": "Accept the risk", "none": "Clear triage"}


def _flag(value: str | None) -> bool | None:
    return {"yes": True, "1": True, "no": False, "0": False}.get(value or "")


def parse_query(request: Request) -> tuple[FindingQuery, dict[str, str]]:
    """The page's filters from the query string, ignoring (and reporting) bad values."""
    params = request.query_params
    errors: dict[str, str] = {}
    severity = [s for s in params.getlist("severity") if s in SEVERITY_ORDER]
    kind = [k for k in params.getlist("kind") if k in KINDS]
    state_text = params.get("state", "active")
    state = {"active": ["new", "open", "reopened"], "all": []}.get(
        state_text, [state_text] if state_text in STATES else None)
    if state is None:
        errors["state"] = f"unknown state; one of active, all, {', '.join(STATES)}"
        state = ["new", "open", "reopened"]
    triage = params.get("triage", "none")
    if triage not in ("none", "ignored", "risk_accepted", "any"):
        errors["triage"] = "one of none, ignored, risk_accepted, any"
        triage = "none"
    asset_text = params.get("asset_id", "")
    asset_id = int(asset_text) if asset_text.isdigit() and len(asset_text) < 18 else None
    if asset_text and asset_id is None:
        errors["asset_id"] = "an asset number"
    page_text = params.get("page", "1")
    page = int(page_text) if page_text.isdigit() and 0 < int(page_text) < 100000 else 1
    base = FindingFilter(severity=severity, kind=kind, state=state,
                         triage=None if triage == "any" else triage,
                         kev=_flag(params.get("kev")), fix_available=_flag(params.get("fix")),
                         asset_id=asset_id)
    sort = params.get("sort", "priority")
    return FindingQuery(base=base, text=params.get("q", "")[:200].strip(),
                        assignee=params.get("assignee", "")[:64].strip(),
                        breached=params.get("breached") == "1",
                        sort=sort if sort in SORTS else "priority", page=page), errors


@router.get("/findings")
def findings_list(page: PageDep) -> Response:
    """The findings list."""
    query, errors = parse_query(page.request)
    with page.ctx.db.session() as session:
        items, more = search(session, page.who, query)
    return page.render("findings.html", title="Findings", items=items, more=more, q=query,
                       errors=errors, sorts=SORTS, kinds=KINDS, severities=SEVERITY_ORDER,
                       states=STATES, bulk_errors={}, bulk_values={})


def _history(session: Any, finding_id: int) -> list[AuditEntryRow]:
    return list(session.execute(select(AuditEntryRow).where(
        AuditEntryRow.object == f"finding:{finding_id}").order_by(AuditEntryRow.seq.desc())
        .limit(50)).scalars())


def _finding_page(page: Page, finding_id: int, *, status: int = 200,
                  errors: dict[str, str] | None = None,
                  values: dict[str, str] | None = None) -> Response:
    now = utcnow()
    with page.ctx.db.session() as session:
        row = session.get(FindingRow, finding_id)
        asset = session.get(Asset, row.asset_id) if row else None
        if row is None or asset is None or not can_see(session, page.who, asset):
            raise not_found(f"finding {finding_id}")
        score = session.get(FindingScore, finding_id)
        labels = labels_of(session, [asset.id]).get(asset.id, frozenset())
        sla = sla_days(session)
        assignment = session.get(FindingAssignment, finding_id)
        history = _history(session, finding_id)
        users = list(session.execute(select(User.username).where(User.disabled.is_(False))
                                     .order_by(User.username)).scalars())
    live = bool(row.triage) and (row.triage_expires is None or row.triage_expires > now)
    return page.render(
        "finding.html", status=status, title=f"{row.vuln_id} on {asset.name}", row=row,
        asset=asset, data=finding_json(row), labels=sorted(labels),
        priority=row_priority(row, score.cvss if score else None, labels),
        due=due_date(row.first_seen, row.severity, sla), breached=is_breached(row, sla, now),
        triage_live=live, assignment=assignment, history=history, users=users,
        errors=errors or {}, values=values or {}, triage_labels=TRIAGE_LABELS)


@router.get("/findings/{finding_id}")
def finding_detail(finding_id: IdPath, page: PageDep) -> Response:
    """One finding."""
    return _finding_page(page, finding_id)


def parse_triage(form: Form, now: datetime) -> tuple[dict[str, Any], dict[str, str]]:
    """Status, reason and expiry from a triage form: (values, errors by field)."""
    errors: dict[str, str] = {}
    status = form.get("status")
    if status not in TRIAGE_LABELS:
        errors["status"] = "choose ignore, accept the risk, or clear"
    reason = form.get("reason").strip()
    if status in ("ignored", "risk_accepted") and not reason:
        errors["reason"] = "say why (the reason goes into the audit log)"
    if len(reason) > 2000:
        errors["reason"] = "at most 2000 characters"
    expires: datetime | None = None
    text = form.get("expires").strip()
    if text:
        try:
            # the whole day counts: the triage lapses at the end of the given date (UTC)
            expires = datetime.strptime(text, "%Y-%m-%d") + timedelta(days=1)
        except ValueError:
            errors["expires"] = "a date as YYYY-MM-DD, or empty for no expiry"
        else:
            if expires <= now:
                errors["expires"] = "the expiry date is in the past"
    return {"status": status, "reason": reason, "expires": expires}, errors


@router.post("/findings/{finding_id}/triage")
async def triage(finding_id: IdPath, page: PageDep) -> Response:
    """Ignore, accept the risk of, or clear the triage of one finding (audited)."""
    form = await page.form()
    page.require("triage")
    values, errors = parse_triage(form, utcnow())
    if errors:
        return _finding_page(page, finding_id, status=422, errors=errors, values=form.as_dict())
    with page.ctx.db.transaction() as session:
        _check_visible(page, session, [finding_id])
        set_triage(session, finding_id, values["status"], values["reason"], values["expires"],
                   page.who.username, page.ctx.audit)
    return page.redirect(f"/findings/{finding_id}", done=values["status"])


def _check_visible(page: Page, session: Any, ids: list[int]) -> None:
    for finding_id in ids:
        row = session.get(FindingRow, finding_id)
        asset = session.get(Asset, row.asset_id) if row else None
        if row is None or asset is None or not can_see(session, page.who, asset):
            raise not_found(f"finding {finding_id}")


def assign(session: Any, page: Page, finding_id: int, assignee: str) -> None:
    """Assign a finding to a user (empty: unassign), audited."""
    current = session.get(FindingAssignment, finding_id)
    before = current.assignee if current else ""
    if assignee == before:
        return
    if current is not None:
        session.delete(current)
        session.flush()
    if assignee:
        session.add(FindingAssignment(finding_id=finding_id, assignee=assignee,
                                      assigned_by=page.who.username, assigned_at=utcnow()))
    page.ctx.audit.append(session, page.who.username, "finding.assign", f"finding:{finding_id}",
                          {"assignee": assignee, "before": before})


def _assignee(session: Any, form: Form) -> tuple[str, str]:
    name = form.get("assignee").strip()
    if name and session.execute(select(User.id).where(User.username == name)).first() is None:
        return name, f"no user named {name!r}"
    return name, ""


@router.post("/findings/{finding_id}/assign")
async def assign_one(finding_id: IdPath, page: PageDep) -> Response:
    """Assign one finding."""
    form = await page.form()
    page.require("triage")
    with page.ctx.db.transaction() as session:
        _check_visible(page, session, [finding_id])
        name, problem = _assignee(session, form)
        if not problem:
            assign(session, page, finding_id, name)
    if problem:
        return _finding_page(page, finding_id, status=422, errors={"assignee": problem},
                             values=form.as_dict())
    return page.redirect(f"/findings/{finding_id}", done="assigned")


@router.post("/findings/bulk")
async def bulk(page: PageDep) -> Response:
    """Apply one action to every selected finding, in one transaction."""
    form = await page.form()
    page.require("triage")
    ids = [int(v) for v in form.getlist("ids") if v.isdigit() and len(v) < 18][:500]
    action = form.get("action")
    errors: dict[str, str] = {}
    if not ids:
        errors["ids"] = "select at least one finding"
    values: dict[str, Any] = {}
    if action in ("ignored", "risk_accepted", "none"):
        values, errors_t = parse_triage(Form([("status", action), *form.pairs]), utcnow())
        errors.update(errors_t)
    elif action != "assign":
        errors["action"] = "choose an action"
    with page.ctx.db.transaction() as session:
        name, problem = _assignee(session, form) if action == "assign" else ("", "")
        if problem:
            errors["assignee"] = problem
        if not errors:
            _check_visible(page, session, ids)
            for finding_id in ids:
                if action == "assign":
                    assign(session, page, finding_id, name)
                else:
                    set_triage(session, finding_id, values["status"], values["reason"],
                               values["expires"], page.who.username, page.ctx.audit)
    if errors:
        query, _ = parse_query(page.request)
        with page.ctx.db.session() as session:
            items, more = search(session, page.who, query)
        return page.render("findings.html", status=422, title="Findings", items=items,
                           more=more, q=query, errors={}, sorts=SORTS, kinds=KINDS,
                           severities=SEVERITY_ORDER, states=STATES, bulk_errors=errors,
                           bulk_values=form.as_dict())
    # the form posts to /findings/bulk?<the list's filters>, so the list comes back as it was
    return page.redirect("/findings" + query_with(page.request), done="bulk")
