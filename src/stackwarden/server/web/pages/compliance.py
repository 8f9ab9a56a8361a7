"""Compliance: each framework's controls (pass, fail, not assessed) with their evidence, the
trend over earlier evaluations, and the report as HTML, JSON or PDF."""

from __future__ import annotations

from fastapi.responses import Response
from sqlalchemy import select

from stackwarden.core.errors import StackWardenError, UsageError
from stackwarden.policy.compliance import Framework, framework_ids, load_framework
from stackwarden.server.auth import EVIDENCE_ROLES
from stackwarden.server.compliance import evaluate, record_snapshot
from stackwarden.server.compliance_report import MEDIA_TYPES, render, trend_chart
from stackwarden.server.db.models_dashboard import ComplianceSnapshot
from stackwarden.server.errors import ApiError, forbidden, not_found
from stackwarden.server.web.core import SECURITY_HEADERS, PageDep, nav, router

nav("Compliance", "/compliance", order=50)
# The downloadable HTML report carries its own <style> (it must print on its own).
REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def _framework(name: str) -> Framework:
    if name not in framework_ids():
        raise not_found(f"framework {name}")
    try:
        return load_framework(name)
    except UsageError as exc:
        raise ApiError(500, "bad_framework", exc.message) from None


@router.get("/compliance")
def frameworks(page: PageDep) -> Response:
    """Every framework with its latest recorded outcome."""
    rows = []
    with page.ctx.db.session() as session:
        for name in framework_ids():
            fw = load_framework(name)
            last = session.execute(select(ComplianceSnapshot).where(
                ComplianceSnapshot.framework == name).order_by(ComplianceSnapshot.at.desc())
                .limit(1)).scalar_one_or_none()
            rows.append((fw, last))
    return page.render("compliance.html", title="Compliance", rows=rows)


@router.get("/compliance/{name}")
def framework(name: str, page: PageDep) -> Response:
    """One framework evaluated now, with the trend of recorded evaluations."""
    fw = _framework(name)
    report = evaluate(page.ctx, fw)
    return page.render("compliance_framework.html", title=fw.name, report=report,
                       data=report.to_dict(), counts=report.counts(), chart=trend_chart(report),
                       can_record=page.who.role in EVIDENCE_ROLES)


@router.post("/compliance/{name}/record")
async def record(name: str, page: PageDep) -> Response:
    """Record the current outcome for the trend (admins and auditors), audited."""
    await page.form()
    if page.who.role not in EVIDENCE_ROLES:
        raise forbidden("only admins and auditors record compliance evidence")
    fw = _framework(name)
    report = evaluate(page.ctx, fw)
    record_snapshot(page.ctx, report)
    with page.ctx.db.transaction() as session:
        page.ctx.audit.append(session, page.who.username, "compliance.record",
                              f"framework:{fw.id}", report.counts())
    return page.redirect(f"/compliance/{fw.id}", done="policy")


@router.get("/compliance/{name}/report.{fmt}")
def download(name: str, fmt: str, page: PageDep) -> Response:
    """The report as a file: html (printable), json (stable) or pdf."""
    fw = _framework(name)
    if fmt not in MEDIA_TYPES:
        raise not_found(f"report format {fmt}")
    try:
        body = render(evaluate(page.ctx, fw), fmt)
    except StackWardenError as exc:
        raise ApiError(503, "pdf_unavailable", exc.message) from None
    headers = {**SECURITY_HEADERS, "Content-Security-Policy": REPORT_CSP,
               "Content-Disposition": f'attachment; filename="{fw.id}-compliance.{fmt}"'}
    if fmt == "html":
        headers["Content-Disposition"] = f'inline; filename="{fw.id}-compliance.html"'
    return Response(body, media_type=MEDIA_TYPES[fmt], headers=headers)

