"""/api/v1/audit: entries, checkpoints, inclusion proofs, verification, evidence export."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi import Path as PathParam
from fastapi.responses import Response

from stackwarden.audit.signing import public_key_pem
from stackwarden.server.api.deps import Ctx, requires
from stackwarden.server.audit_store import (
    AuditStoreError,
    export_bundle,
    iter_entries,
    list_checkpoints,
    prove_inclusion,
    verify_database,
)
from stackwarden.server.auth import EVIDENCE_ROLES, Principal
from stackwarden.server.errors import ApiError, not_found

router = APIRouter(tags=["audit"])
Reader = Depends(requires("read"))
Evidence = Depends(requires("read", roles=EVIDENCE_ROLES))


@router.get("/audit/entries")
def entries(ctx: Ctx, after: Annotated[int, Query(ge=0, le=2**62)] = 0,
            limit: Annotated[int, Query(ge=1, le=1000)] = 100,
            caller: Principal = Reader) -> dict[str, Any]:
    """Entries after sequence number `after`, oldest first."""
    with ctx.db.session() as session:
        items = [e.to_dict() for e in iter_entries(session, after, limit)]
    return {"items": items, "next_after": items[-1]["seq"] if len(items) == limit else None}


@router.get("/audit/checkpoints")
def checkpoints(ctx: Ctx, caller: Principal = Reader) -> dict[str, Any]:
    """Every signed checkpoint and the public key that verifies them."""
    with ctx.db.session() as session:
        items = [c.to_dict() for c in list_checkpoints(session)]
    return {"items": items, "public_keys": {k: public_key_pem(v)
                                            for k, v in ctx.audit.trusted_keys.items()}}


@router.get("/audit/proof/{seq}")
def proof(seq: Annotated[int, PathParam(ge=1, le=2**62)], ctx: Ctx,
          caller: Principal = Reader) -> dict[str, Any]:
    """Inclusion proof of one entry in the first signed checkpoint that covers it."""
    with ctx.db.session() as session:
        try:
            found = prove_inclusion(session, seq)
        except AuditStoreError as exc:
            raise ApiError(409, "audit_mismatch", exc.message) from None
    if found is None:
        raise not_found(f"audit entry {seq} (or a checkpoint covering it)")
    return found.to_dict()


@router.get("/audit/verify")
def verify(ctx: Ctx, caller: Principal = Evidence) -> dict[str, Any]:
    """Verify the whole log now (reads every entry)."""
    result = verify_database(ctx.db, ctx.audit.trusted_keys)
    return {"ok": result.ok, "first_bad_seq": result.first_bad_seq, "entries": result.entries,
            "checkpoints": result.checkpoints, "verified_through": result.verified_through,
            "problems": [{"seq": p.seq, "message": p.message} for p in result.problems],
            "notes": result.notes, "summary": result.summary()}


@router.get("/audit/export", response_class=Response,
            responses={200: {"content": {"application/zip": {}}}})
def export(ctx: Ctx, reports: bool = True, caller: Principal = Evidence) -> Response:
    """An evidence bundle (zip) to verify offline with `stackwarden audit verify BUNDLE`."""
    with tempfile.TemporaryDirectory(prefix="sw-export-") as tmp:
        path = Path(tmp) / "evidence.zip"
        export_bundle(ctx.db, ctx.audit, path, with_reports=reports)
        with ctx.db.transaction() as session:
            ctx.audit.append(session, caller.username, "audit.export", "audit:bundle",
                             {"reports": reports})
        data = path.read_bytes()
    return Response(data, media_type="application/zip",
                    headers={"Content-Disposition": 'attachment; filename="evidence.zip"'})
