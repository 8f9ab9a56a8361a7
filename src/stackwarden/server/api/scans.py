"""/api/v1/scans and /api/v1/sboms: submit reports and SBOMs, read them back."""

from __future__ import annotations

import hashlib
import json
import zlib
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy import select

from stackwarden.core.errors import UsageError
from stackwarden.server.api.deps import Ctx, IdPath, read_body, require_json, requires
from stackwarden.server.auth import Principal, iso, utcnow
from stackwarden.server.db.models import Asset, Sbom, Scan
from stackwarden.server.errors import ApiError, not_found
from stackwarden.server.ingest import IngestResult, ingest_report, parse_json, parse_report
from stackwarden.server.jobs import create_job, job_to_dict

router = APIRouter(tags=["scans"])
Submitter = Depends(requires("scan:submit", "agent"))
Reader = Depends(requires("read"))
JSON_BODY = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": {"type": "object", "description": "A StackWarden scan report "
               "(`stackwarden scan -f json`, docs/scanning.md) or an SBOM document."}}}}}


def scan_to_dict(scan: Scan) -> dict[str, Any]:
    """A scan's metadata and summary (the report itself is at /scans/{id}/report)."""
    return {"id": scan.id, "asset_id": scan.asset_id, "target": scan.target,
            "tool_version": scan.tool_version, "created": scan.report_created,
            "received_at": iso(scan.received_at), "submitted_by": scan.submitted_by,
            "kinds": scan.kinds.split(), "findings": scan.findings_count,
            "summary": json.loads(scan.summary or "{}"), "report_sha256": scan.report_sha256,
            "report_size": scan.report_size}


@router.post("/scans", status_code=201, openapi_extra=JSON_BODY,
             responses={202: {"description": "Queued as a job (wait=false)"}})
async def submit_scan(request: Request, response: Response, ctx: Ctx,
                      wait: bool = True, caller: Principal = Submitter) -> dict[str, Any]:
    """Submit a scan report; with wait=false it is queued as an `ingest_report` job (202)."""
    from starlette.concurrency import run_in_threadpool

    require_json(request)
    data = await read_body(request, ctx.settings.max_report_bytes)
    # validate now, whichever way it is ingested, so bad input is a 4xx to the submitter
    report = await run_in_threadpool(parse_report, data)
    if wait:
        return await run_in_threadpool(_ingest_now, ctx, data, caller.username, report)
    job = await run_in_threadpool(_queue, ctx, "ingest_report", caller.username, data, {})
    response.status_code = 202
    return {"job": job}


def _ingest_now(ctx: Any, data: bytes, actor: str, report: Any) -> dict[str, Any]:
    with ctx.db.transaction() as session:
        result: IngestResult = ingest_report(session, data, actor, ctx.audit, report)
    return result.to_dict()


def _queue(ctx: Any, kind: str, actor: str, payload: bytes | None,
           params: dict[str, Any]) -> dict[str, Any]:
    with ctx.db.transaction() as session:
        job = create_job(session, kind, actor, ctx.audit, params=params, payload=payload)
        out = job_to_dict(job)
    if ctx.runner is not None:
        try:
            ctx.runner.submit(out["id"])
        except Exception as exc:  # noqa: BLE001 - any broker failure: the job must not hang
            from stackwarden.server.jobs import mark_failed

            mark_failed(ctx, out["id"], f"the job broker is unreachable ({type(exc).__name__})")
            raise ApiError(503, "broker_unavailable", "the job queue is unreachable; the job "
                           f"{out['id']} was recorded as failed; retry shortly") from None
    return out


@router.get("/scans")
def list_scans(ctx: Ctx, asset_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
               limit: Annotated[int, Query(ge=1, le=500)] = 50,
               before: Annotated[int | None, Query(ge=1, le=2**62)] = None,
               caller: Principal = Reader) -> dict[str, Any]:
    """Scans, newest first (`before` = the last id of the previous page)."""
    query = select(Scan).order_by(Scan.id.desc()).limit(limit + 1)
    if asset_id is not None:
        query = query.where(Scan.asset_id == asset_id)
    if before is not None:
        query = query.where(Scan.id < before)
    with ctx.db.session() as session:
        rows = list(session.execute(query.execution_options()).scalars())
    items = [scan_to_dict(s) for s in rows[:limit]]
    return {"items": items, "next_before": items[-1]["id"] if len(rows) > limit else None}


@router.get("/scans/{scan_id}")
def get_scan(scan_id: IdPath, ctx: Ctx, caller: Principal = Reader) -> dict[str, Any]:
    """One scan."""
    with ctx.db.session() as session:
        scan = session.get(Scan, scan_id)
        if scan is None:
            raise not_found(f"scan {scan_id}")
        return scan_to_dict(scan)


@router.get("/scans/{scan_id}/report", response_class=Response,
            responses={200: {"content": {"application/json": {}}}})
def get_report(scan_id: IdPath, ctx: Ctx, caller: Principal = Reader) -> Response:
    """The report exactly as submitted (its SHA-256 is in the audit log)."""
    with ctx.db.session() as session:
        blob = session.execute(select(Scan.report).where(Scan.id == scan_id)).scalar()
    if blob is None:
        raise not_found(f"scan {scan_id}")
    return Response(zlib.decompress(blob), media_type="application/json")


@router.post("/sboms", status_code=201, openapi_extra=JSON_BODY)
async def submit_sbom(request: Request, ctx: Ctx, rematch: bool = False,
                      caller: Principal = Submitter) -> dict[str, Any]:
    """Submit an SBOM (StackWarden, CycloneDX, SPDX or Syft JSON); rematch=true queues a
    `rematch_sbom` job that matches it against the server's vulnerability database."""
    from starlette.concurrency import run_in_threadpool

    require_json(request)
    data = await read_body(request, ctx.settings.max_report_bytes)
    return await run_in_threadpool(_store_sbom, ctx, data, caller.username, rematch)


def _store_sbom(ctx: Any, data: bytes, actor: str, rematch: bool) -> dict[str, Any]:
    from stackwarden.catalog.sbom_import import read_sbom_document

    doc = parse_json(data)
    try:
        sbom = read_sbom_document(doc, "the submitted SBOM")
    except UsageError as exc:
        raise ApiError(422, "schema_violation", exc.message) from None
    fmt = ("cyclonedx" if isinstance(doc, dict) and doc.get("bomFormat") else
           "spdx" if isinstance(doc, dict) and doc.get("spdxVersion") else
           "syft" if isinstance(doc, dict) and "descriptor" in doc else "stackwarden")
    art = sbom.artifact
    kind = "image" if art.digest else "filesystem"
    key = art.digest or art.name or art.reference or "sbom"
    with ctx.db.transaction() as session:
        asset = session.execute(select(Asset).where(Asset.kind == kind, Asset.key == key[:500])
                                ).scalar_one_or_none()
        if asset is None:
            asset = Asset(kind=kind, key=key[:500], name=(art.name or key)[:500],
                          digest=art.digest, created_at=utcnow())
            session.add(asset)
            session.flush()
        row = Sbom(asset_id=asset.id, format=fmt, received_at=utcnow(), submitted_by=actor,
                   packages=len(sbom.packages), sha256=hashlib.sha256(data).hexdigest(),
                   content=zlib.compress(data, 6))
        session.add(row)
        session.flush()
        ctx.audit.append(session, actor, "sbom.submit", f"sbom:{row.id}",
                         {"asset_id": asset.id, "format": fmt, "packages": row.packages,
                          "sha256": row.sha256})
        out: dict[str, Any] = {"id": row.id, "asset_id": asset.id, "format": fmt,
                               "packages": row.packages, "sha256": row.sha256}
    if rematch:
        out["job"] = _queue(ctx, "rematch_sbom", actor, None, {"sbom_id": out["id"]})
    return out


@router.get("/sboms/{sbom_id}", response_class=Response,
            responses={200: {"content": {"application/json": {}}}})
def get_sbom(sbom_id: IdPath, ctx: Ctx, caller: Principal = Reader) -> Response:
    """The SBOM document exactly as submitted."""
    with ctx.db.session() as session:
        blob = session.execute(select(Sbom.content).where(Sbom.id == sbom_id)).scalar()
    if blob is None:
        raise not_found(f"SBOM {sbom_id}")
    return Response(zlib.decompress(blob), media_type="application/json")
