"""/api/v1/findings: search with filters and keyset pagination; triage."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from stackwarden.server.api.deps import Ctx, IdPath, requires
from stackwarden.server.auth import Principal
from stackwarden.server.db.models import FindingRow
from stackwarden.server.errors import not_found
from stackwarden.server.findings import (
    FindingFilter,
    finding_detail,
    finding_summary,
    list_findings,
    set_triage,
)

router = APIRouter(tags=["findings"])
Reader = Depends(requires("read"))
Triager = Depends(requires("triage"))
Severity = Literal["critical", "high", "medium", "low", "negligible", "unknown"]
State = Literal["new", "open", "fixed", "reopened"]


class TriageRequest(BaseModel):
    """Ignore a finding, accept its risk, or clear either (`none`)."""

    status: Literal["ignored", "risk_accepted", "none"]
    reason: str = Field("", max_length=2000)
    expires_at: datetime | None = Field(None, description="UTC; the triage lapses after it")


@router.get("/findings")
def search_findings(
    ctx: Ctx,
    severity: Annotated[list[Severity] | None, Query()] = None,
    min_severity: Severity | None = None,
    kind: Annotated[list[str] | None, Query(max_length=20)] = None,
    state: Annotated[list[State] | None, Query()] = None,
    triage: Literal["none", "ignored", "risk_accepted"] | None = None,
    kev: bool | None = None,
    fix_available: bool | None = None,
    asset_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    vuln_id: Annotated[str | None, Query(max_length=200)] = None,
    package: Annotated[str | None, Query(max_length=300)] = None,
    min_age_days: Annotated[float | None, Query(ge=0, le=36500)] = None,
    max_age_days: Annotated[float | None, Query(ge=0, le=36500)] = None,
    sort: Literal["id", "severity"] = "id",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=60)] = None,
    caller: Principal = Reader,
) -> dict[str, Any]:
    """Findings matching every filter given, newest (or worst) first, one page at a time.

    Pass `next_cursor` back as `cursor` for the next page (keyset pagination).
    """
    flt = FindingFilter(severity=list(severity or []), min_severity=min_severity,
                        kind=list(kind or []), state=list(state or []), triage=triage, kev=kev,
                        fix_available=fix_available, asset_id=asset_id, vuln_id=vuln_id,
                        package=package, min_age_days=min_age_days, max_age_days=max_age_days)
    with ctx.db.session() as session:
        rows, next_cursor = list_findings(session, flt, limit=limit, cursor=cursor, sort=sort)
        return {"items": [finding_summary(r) for r in rows], "next_cursor": next_cursor}


@router.get("/findings/{finding_id}")
def get_finding(finding_id: IdPath, ctx: Ctx, caller: Principal = Reader) -> dict[str, Any]:
    """One finding, with the full finding as last reported."""
    with ctx.db.session() as session:
        row = session.get(FindingRow, finding_id)
        if row is None:
            raise not_found(f"finding {finding_id}")
        return finding_detail(row)


@router.post("/findings/{finding_id}/triage")
def triage_finding(finding_id: IdPath, body: TriageRequest, ctx: Ctx,
                   caller: Principal = Triager) -> dict[str, Any]:
    """Ignore (with reason and expiry), accept the risk (the caller is the approver), or clear."""
    expires = body.expires_at
    if expires is not None and expires.tzinfo is not None:
        expires = expires.astimezone(UTC).replace(tzinfo=None)
    with ctx.db.transaction() as session:
        row = set_triage(session, finding_id, body.status, body.reason, expires,
                         caller.username, ctx.audit)
        return finding_summary(row)
