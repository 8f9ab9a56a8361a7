"""/api/v1/registries: watched registries, sweeps, images and tag history, golden images,
alerts, and the push-notification endpoint registries call (docs/registry-monitoring.md)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import delete, select

from stackwarden.core.errors import UsageError
from stackwarden.server.api.deps import Ctx, IdPath, read_body, requires
from stackwarden.server.auth import Principal, utcnow
from stackwarden.server.db.models import FindingRow
from stackwarden.server.db.registry_models import (
    GoldenDiff,
    GoldenRule,
    RegistryAlert,
    RegistryNotification,
    WatchedImage,
    WatchedRegistry,
    WatchedTag,
)
from stackwarden.server.errors import ApiError, bad_request, not_found, unauthorized

router = APIRouter(tags=["registries"])
Reader = Depends(requires("read"))
Admin = Depends(requires("admin"))
Operator = Depends(requires("triage", "admin"))
MAX_NOTIFICATION = 1024 * 1024
Limit = Annotated[int, Query(ge=1, le=1000)]


def _iso(value: Any) -> str | None:
    return None if value is None else value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _usage(exc: UsageError) -> ApiError:
    where = f" ({exc.source})" if getattr(exc, "source", None) else ""
    return bad_request(f"{exc.message}{where}", code="invalid_registry", status=422)


class RegistryBody(BaseModel):
    """A registry to watch."""

    url: str = Field(min_length=1, max_length=500)
    name: str = Field("", max_length=200)
    username: str = Field("", max_length=200)
    password: str = Field("", max_length=10_000, repr=False)
    include: list[Annotated[str, Field(max_length=300)]] = Field(default_factory=list,
                                                                 max_length=100)
    exclude: list[Annotated[str, Field(max_length=300)]] = Field(default_factory=list,
                                                                 max_length=100)
    interval: str = Field("15m", max_length=20)
    insecure: bool = False
    ca_cert: str = Field("", max_length=100_000)
    scanners: list[str] = Field(default_factory=lambda: ["vuln", "secret", "misconfig"],
                                max_length=10)


class GoldenBody(BaseModel):
    """A golden-image rule: repository and tag globs."""

    repository: str = Field(min_length=1, max_length=300)
    tag: str = Field("*", min_length=1, max_length=200)


def _registry(session: Any, registry_id: int) -> WatchedRegistry:
    row = session.get(WatchedRegistry, registry_id)
    if row is None:
        raise not_found(f"registry {registry_id}")
    return row


@router.post("/registries", status_code=201)
def add(body: RegistryBody, ctx: Ctx, caller: Principal = Admin) -> dict[str, Any]:
    """Watch a registry; the answer carries its notification token, shown only now."""
    from stackwarden.server.credentials import CredentialBox
    from stackwarden.server.registry_watch import (
        RegistryInput,
        add_registry,
        queue_sweep,
        registry_to_dict,
    )

    spec = RegistryInput(url=body.url, name=body.name, username=body.username,
                         password=body.password, include=tuple(body.include),
                         exclude=tuple(body.exclude), interval=body.interval,
                         insecure=body.insecure, ca_cert=body.ca_cert,
                         scanners=tuple(body.scanners))
    box = CredentialBox.from_settings(ctx.settings)
    try:
        with ctx.db.transaction() as session:
            row, token = add_registry(session, box, spec, caller.username, ctx.audit)
            out = registry_to_dict(row)
    except UsageError as exc:
        raise _usage(exc) from None
    job = queue_sweep(ctx, out["id"], caller.username)
    path = f"/api/v1/registry-notifications/{out['id']}"
    return {**out, "notification": {"path": path, "token": token}, "sweep_job": job["id"]}


@router.get("/registries")
def list_registries(ctx: Ctx, caller: Principal = Reader) -> dict[str, Any]:
    """Every watched registry with its sweep status, last error and counts."""
    from stackwarden.server.registry_watch import image_counts, registry_to_dict

    with ctx.db.session() as session:
        rows = list(session.execute(select(WatchedRegistry).order_by(WatchedRegistry.id))
                    .scalars())
        counts = image_counts(session, [r.id for r in rows])
    return {"items": [registry_to_dict(r, counts.get(r.id)) for r in rows]}


@router.get("/registries/{registry_id}")
def get_registry(registry_id: IdPath, ctx: Ctx, caller: Principal = Reader) -> dict[str, Any]:
    """One registry, with its failed images and their errors."""
    from stackwarden.server.registry_watch import image_counts, registry_to_dict

    with ctx.db.session() as session:
        row = _registry(session, registry_id)
        counts = image_counts(session, [row.id])
        failed = session.execute(select(WatchedImage).where(
            WatchedImage.registry_id == registry_id, WatchedImage.state == "failed")
            .order_by(WatchedImage.id.desc()).limit(50)).scalars()
        return {**registry_to_dict(row, counts.get(row.id)),
                "failed_images": [{"repository": i.repository, "digest": i.digest,
                                   "attempts": i.attempts, "error": i.error} for i in failed]}


@router.delete("/registries/{registry_id}", status_code=204)
def remove(registry_id: IdPath, ctx: Ctx, caller: Principal = Admin) -> None:
    """Stop watching a registry (its scanned assets and findings stay)."""
    with ctx.db.transaction() as session:
        row = _registry(session, registry_id)
        for table in (WatchedTag, GoldenRule, GoldenDiff, WatchedImage):
            session.execute(delete(table).where(table.registry_id == registry_id))
        session.delete(row)
        ctx.audit.append(session, caller.username, "registry.remove", f"registry:{registry_id}",
                         {"name": row.name})


@router.post("/registries/{registry_id}/sweep", status_code=202)
def sweep(registry_id: IdPath, ctx: Ctx, caller: Principal = Operator) -> dict[str, Any]:
    """Sweep the registry now."""
    from stackwarden.server.registry_watch import queue_sweep

    with ctx.db.session() as session:
        _registry(session, registry_id)
    return queue_sweep(ctx, registry_id, caller.username)


@router.post("/registries/{registry_id}/notification-token")
def rotate_token(registry_id: IdPath, ctx: Ctx, caller: Principal = Admin) -> dict[str, Any]:
    """A new notification token (shown once); the old one stops working."""
    from stackwarden.server.registry_watch import rotate_notify_token

    with ctx.db.transaction() as session:
        row = _registry(session, registry_id)
        token = rotate_notify_token(session, row, caller.username, ctx.audit)
    return {"path": f"/api/v1/registry-notifications/{registry_id}", "token": token}


@router.post("/registries/rematch", status_code=202)
def rematch(ctx: Ctx, caller: Principal = Operator) -> dict[str, Any]:
    """Re-match every stored image SBOM against the server's database now (no pulls)."""
    from stackwarden.server.api.scans import _queue

    return _queue(ctx, "registry_rematch", caller.username, None, {})


@router.get("/registries/{registry_id}/images")
def images(registry_id: IdPath, ctx: Ctx, repository: str | None = Query(None, max_length=300),
           state: str | None = Query(None, max_length=16), limit: Limit = 200,
           caller: Principal = Reader) -> dict[str, Any]:
    """Images found in the registry (one per digest) with their current tags and scan state."""
    query = select(WatchedImage).where(WatchedImage.registry_id == registry_id)
    if repository:
        query = query.where(WatchedImage.repository == repository)
    if state:
        query = query.where(WatchedImage.state == state)
    with ctx.db.session() as session:
        _registry(session, registry_id)
        rows = list(session.execute(query.order_by(WatchedImage.id.desc()).limit(limit))
                    .scalars())
        tags: dict[str, list[str]] = {}
        for digest, tag in session.execute(select(WatchedTag.digest, WatchedTag.tag).where(
                WatchedTag.registry_id == registry_id, WatchedTag.current.is_(True),
                WatchedTag.digest.in_([r.digest for r in rows] or [""]))):
            tags.setdefault(digest, []).append(tag)
    return {"items": [{"id": r.id, "repository": r.repository, "digest": r.digest,
                       "tags": sorted(tags.get(r.digest, [])), "state": r.state,
                       "golden": r.golden, "asset_id": r.asset_id, "error": r.error or None,
                       "first_seen": _iso(r.queued_at), "scanned_at": _iso(r.scanned_at)}
                      for r in rows]}


@router.get("/registries/{registry_id}/images/{digest}")
def image(registry_id: IdPath, digest: Annotated[str, Path(max_length=100)], ctx: Ctx,
          caller: Principal = Reader) -> dict[str, Any]:
    """One image: tags, configuration, and open findings with since when each affects it."""
    from stackwarden.server.registry_scan import affected_since

    with ctx.db.session() as session:
        row = session.execute(select(WatchedImage).where(
            WatchedImage.registry_id == registry_id, WatchedImage.digest == digest)
        ).scalar_one_or_none()
        if row is None:
            raise not_found(f"image {digest}")
        since = affected_since(session, row)
        history = tag_history(session, registry_id, row.repository, digest=digest)
        findings = [] if row.asset_id is None else [
            {"id": f.vuln_id, "kind": f.kind, "severity": f.severity, "title": f.title,
             "package": f.package_name or None, "version": f.package_version or None,
             "state": f.state, "fix_available": f.fix_available,
             "detected_at": _iso(f.first_seen),
             "affected_since": since if f.kind == "vulnerability" else _iso(f.first_seen)}
            for f in session.execute(select(FindingRow).where(
                FindingRow.asset_id == row.asset_id,
                FindingRow.state.in_(("new", "open", "reopened")))
                .order_by(FindingRow.severity_rank.desc(), FindingRow.id)).scalars()]
    return {"repository": row.repository, "digest": row.digest, "state": row.state,
            "golden": row.golden, "asset_id": row.asset_id, "first_seen": since,
            "scanned_at": _iso(row.scanned_at), "config": json.loads(row.config),
            "error": row.error or None, "tags": history, "findings": findings}


def tag_history(session: Any, registry_id: int, repository: str, *, tag: str | None = None,
                digest: str | None = None, limit: int = 500) -> list[dict[str, Any]]:
    """Each digest a repository's tags pointed at (by tag, newest first)."""
    query = select(WatchedTag).where(WatchedTag.registry_id == registry_id,
                                     WatchedTag.repository == repository)
    if tag:
        query = query.where(WatchedTag.tag == tag)
    if digest:
        query = query.where(WatchedTag.digest == digest)
    rows = session.execute(query.order_by(WatchedTag.tag, WatchedTag.first_seen.desc(),
                                          WatchedTag.id.desc()).limit(limit)).scalars()
    return [{"tag": r.tag, "digest": r.digest, "current": r.current,
             "first_seen": _iso(r.first_seen), "last_seen": _iso(r.last_seen)} for r in rows]


@router.get("/registries/{registry_id}/history")
def history(registry_id: IdPath, ctx: Ctx,
            repository: Annotated[str, Query(min_length=1, max_length=300)],
            tag: str | None = Query(None, max_length=200), limit: Limit = 500,
            caller: Principal = Reader) -> dict[str, Any]:
    """Tag history of a repository: each digest a tag pointed at, newest first."""
    with ctx.db.session() as session:
        _registry(session, registry_id)
        return {"items": tag_history(session, registry_id, repository, tag=tag, limit=limit)}


@router.get("/registries/{registry_id}/golden")
def list_golden(registry_id: IdPath, ctx: Ctx, caller: Principal = Reader) -> dict[str, Any]:
    """The registry's golden-image rules."""
    with ctx.db.session() as session:
        _registry(session, registry_id)
        rows = session.execute(select(GoldenRule).where(GoldenRule.registry_id == registry_id)
                               .order_by(GoldenRule.id)).scalars()
        return {"items": [{"id": r.id, "repository": r.repository, "tag": r.tag,
                           "created_at": _iso(r.created_at), "created_by": r.created_by}
                          for r in rows]}


@router.post("/registries/{registry_id}/golden", status_code=201)
def add_golden(registry_id: IdPath, body: GoldenBody, ctx: Ctx,
               caller: Principal = Admin) -> dict[str, Any]:
    """Mark a repository and tag pattern as golden."""
    if any(c.isspace() for c in body.repository + body.tag):
        raise bad_request("repository and tag are globs without spaces", status=422)
    with ctx.db.transaction() as session:
        _registry(session, registry_id)
        row = GoldenRule(registry_id=registry_id, repository=body.repository, tag=body.tag,
                         created_at=utcnow(), created_by=caller.username)
        session.add(row)
        session.flush()
        ctx.audit.append(session, caller.username, "registry.golden_add",
                         f"registry:{registry_id}", {"repository": body.repository,
                                                     "tag": body.tag})
        return {"id": row.id, "repository": row.repository, "tag": row.tag}


@router.delete("/registries/{registry_id}/golden/{rule_id}", status_code=204)
def remove_golden(registry_id: IdPath, rule_id: IdPath, ctx: Ctx,
                  caller: Principal = Admin) -> None:
    """Remove a golden-image rule."""
    with ctx.db.transaction() as session:
        row = session.get(GoldenRule, rule_id)
        if row is None or row.registry_id != registry_id:
            raise not_found(f"golden rule {rule_id}")
        session.delete(row)
        ctx.audit.append(session, caller.username, "registry.golden_remove",
                         f"registry:{registry_id}", {"rule": rule_id})


def diff_to_dict(row: GoldenDiff, full: bool) -> dict[str, Any]:
    """The API form of a golden-image diff (`full`: with the diff itself)."""
    out = {"id": row.id, "registry_id": row.registry_id, "repository": row.repository,
           "tag": row.tag, "previous_digest": row.previous_digest, "digest": row.digest,
           "created_at": _iso(row.created_at), "summary": json.loads(row.summary)}
    if full:
        out["diff"] = json.loads(row.diff)
    return out


@router.get("/golden-diffs")
def list_diffs(ctx: Ctx, registry_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
               repository: str | None = Query(None, max_length=300), limit: Limit = 50,
               caller: Principal = Reader) -> dict[str, Any]:
    """Golden-image diffs, newest first."""
    query = select(GoldenDiff).order_by(GoldenDiff.id.desc()).limit(limit)
    if registry_id:
        query = query.where(GoldenDiff.registry_id == registry_id)
    if repository:
        query = query.where(GoldenDiff.repository == repository)
    with ctx.db.session() as session:
        return {"items": [diff_to_dict(r, False) for r in session.execute(query).scalars()]}


@router.get("/golden-diffs/{diff_id}")
def get_diff(diff_id: IdPath, ctx: Ctx, caller: Principal = Reader) -> dict[str, Any]:
    """One golden-image diff in full."""
    with ctx.db.session() as session:
        row = session.get(GoldenDiff, diff_id)
        if row is None:
            raise not_found(f"golden diff {diff_id}")
        return diff_to_dict(row, True)


@router.get("/registry-alerts")
def alerts(ctx: Ctx, kind: str | None = Query(None, max_length=64), limit: Limit = 100,
           before: Annotated[int | None, Query(ge=1, le=2**62)] = None,
           caller: Principal = Reader) -> dict[str, Any]:
    """Alerts raised by registry monitoring, newest first."""
    from stackwarden.server.registry_alerts import alert_to_dict

    query = select(RegistryAlert).order_by(RegistryAlert.id.desc()).limit(limit)
    if kind:
        query = query.where(RegistryAlert.kind == kind)
    if before:
        query = query.where(RegistryAlert.id < before)
    with ctx.db.session() as session:
        return {"items": [alert_to_dict(r) for r in session.execute(query).scalars()]}


@router.get("/registry-notifications")
def notifications(ctx: Ctx, accepted: bool | None = None, limit: Limit = 100,
                  caller: Principal = Reader) -> dict[str, Any]:
    """Push notifications received, accepted and rejected, newest first."""
    query = select(RegistryNotification).order_by(RegistryNotification.id.desc()).limit(limit)
    if accepted is not None:
        query = query.where(RegistryNotification.accepted.is_(accepted))
    with ctx.db.session() as session:
        return {"items": [{"id": r.id, "received_at": _iso(r.received_at),
                           "registry_id": r.registry_id, "remote": r.remote, "format": r.format,
                           "accepted": r.accepted, "reason": r.reason or None,
                           "events": r.events, "queued": r.queued}
                          for r in session.execute(query).scalars()]}


@router.post("/registry-notifications/{registry_id}", status_code=202)
async def notify(registry_id: IdPath, request: Request, ctx: Ctx,
                 authorization: Annotated[str | None, Header()] = None) -> dict[str, Any]:
    """Where a registry sends push notifications (its own token, not an API token)."""
    from starlette.concurrency import run_in_threadpool

    from stackwarden.server.registry_events import (
        NotificationError,
        authenticate_notification,
        receive_notification,
    )

    remote = request.client.host if request.client else ""
    row = await run_in_threadpool(authenticate_notification, ctx, registry_id, authorization,
                                  remote)
    if row is None:
        raise unauthorized("the notification token is missing or wrong (the attempt is "
                           "recorded)")
    body = await read_body(request, MAX_NOTIFICATION)
    try:
        return await run_in_threadpool(receive_notification, ctx, row, body, remote)
    except NotificationError as exc:
        raise bad_request(exc.message, code="malformed_notification", status=422) from None
