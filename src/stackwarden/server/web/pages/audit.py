"""The audit log: entries newest first (filter by actor, action, object) and the chain's
verification status (last result kept; verify again on demand)."""

from __future__ import annotations

import json
from typing import Any

from fastapi.responses import Response
from sqlalchemy import func, select

from stackwarden.server.auth import EVIDENCE_ROLES, utcnow
from stackwarden.server.db.models import AuditCheckpointRow, AuditEntryRow
from stackwarden.server.db.models_dashboard import ServerPolicy
from stackwarden.server.errors import forbidden
from stackwarden.server.web.core import PageDep, nav, router

nav("Audit log", "/audit", order=60)
VERIFY_KEY = "audit_last_verification"
PAGE = 100


def record_verification(ctx: Any, actor: str) -> dict[str, Any]:
    """Verify the whole log now, keep the result, notify when it fails (audited)."""
    from stackwarden.server.audit_store import verify_database
    from stackwarden.server.notify import notify

    result = verify_database(ctx.db, ctx.audit.trusted_keys)
    summary = {"ok": result.ok, "entries": result.entries, "checkpoints": result.checkpoints,
               "first_bad_seq": result.first_bad_seq, "summary": result.summary(),
               "problems": [{"seq": p.seq, "message": p.message} for p in result.problems[:20]],
               "at": utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"), "by": actor}
    with ctx.db.transaction() as session:
        row = session.get(ServerPolicy, VERIFY_KEY)
        if row is None:
            row = ServerPolicy(key=VERIFY_KEY, value="", updated_by=actor, updated_at=utcnow())
            session.add(row)
        row.value, row.updated_by, row.updated_at = json.dumps(summary), actor, utcnow()
        ctx.audit.append(session, actor, "audit.verify", "audit:log",
                         {"ok": result.ok, "entries": result.entries,
                          "first_bad_seq": result.first_bad_seq})
        if not result.ok:
            notify(session, "audit_verification_failure", {
                "title": "Audit log verification failed", "severity": "critical",
                "summary": result.summary(), "path": "/audit",
                "items": [{"text": f"entry {p['seq']}: {p['message']}"}
                          for p in summary["problems"]]}, group_key="audit-verify")
    return summary


@router.get("/audit")
def audit_log(page: PageDep, actor: str = "", action: str = "", object: str = "",  # noqa: A002
              before: int = 0, seq: int = 0) -> Response:
    """Entries, newest first, with the verification status."""
    query = select(AuditEntryRow).order_by(AuditEntryRow.seq.desc()).limit(PAGE + 1)
    if actor:
        query = query.where(AuditEntryRow.actor == actor[:64])
    if action:
        query = query.where(AuditEntryRow.action.like(action[:64].replace("%", "") + "%"))
    if object:
        query = query.where(AuditEntryRow.object == object[:200])
    if seq > 0:
        query = query.where(AuditEntryRow.seq <= seq)
    elif before > 0:
        query = query.where(AuditEntryRow.seq < before)
    with page.ctx.db.session() as session:
        rows = list(session.execute(query).scalars())
        total = session.execute(select(func.count()).select_from(AuditEntryRow)).scalar() or 0
        last_cp = session.execute(select(AuditCheckpointRow).order_by(
            AuditCheckpointRow.tree_size.desc()).limit(1)).scalar_one_or_none()
        stored = session.get(ServerPolicy, VERIFY_KEY)
    verification = json.loads(stored.value) if stored else None
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    entries = [(r, _details(r.details)) for r in rows]
    return page.render("audit.html", title="Audit log", entries=entries, total=total,
                       checkpoint=last_cp, verification=verification,
                       next_before=rows[-1].seq if more and rows else None,
                       filters={"actor": actor, "action": action, "object": object},
                       can_verify=page.who.role in EVIDENCE_ROLES)


def _details(text: str) -> str:
    try:
        return json.dumps(json.loads(text), sort_keys=True, ensure_ascii=False)[:500]
    except ValueError:
        return text[:500]


@router.post("/audit/verify")
async def verify_now(page: PageDep) -> Response:
    """Verify the chain now (admins and auditors: it reads every entry)."""
    from starlette.concurrency import run_in_threadpool

    await page.form()
    if page.who.role not in EVIDENCE_ROLES:
        raise forbidden("only admins and auditors verify the audit log")
    await run_in_threadpool(record_verification, page.ctx, page.who.username)
    return page.redirect("/audit", done="verified")
