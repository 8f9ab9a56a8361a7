"""/api/v1/admission: what the admission webhook asks (an image's verdict inputs) and tells
(its decisions, into the audit trail)."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from stackwarden.artifact.registry import DOCKER_HUB, ImageReference, parse_reference
from stackwarden.artifact.registry_auth import HUB_HOSTS
from stackwarden.core.errors import UsageError
from stackwarden.server.api.deps import Ctx, requires
from stackwarden.server.auth import Principal
from stackwarden.server.db.models import Asset, AssetTag
from stackwarden.server.errors import bad_request
from stackwarden.server.findings import FindingFilter, list_findings

router = APIRouter(tags=["admission"])
Reader = Depends(requires("read"))
Recorder = Depends(requires("agent"))
MAX_FINDINGS = 5000


def tag_spellings(ref: ImageReference) -> list[str]:
    """Every way a tag may have been recorded (Docker Hub images have short forms)."""
    tag = ref.tag or "latest"
    names = [f"{ref.registry}/{ref.repository}"]
    if ref.registry == DOCKER_HUB:
        names += [f"{host}/{ref.repository}" for host in HUB_HOSTS if host != DOCKER_HUB]
        names.append(ref.repository)
        if ref.repository.startswith("library/"):
            names.append(ref.repository.removeprefix("library/"))
    return [f"{name}:{tag}" for name in names]


@router.get("/admission/image")
def image_verdict(ctx: Ctx, ref: Annotated[str, Query(min_length=1, max_length=600)],
                  caller: Principal = Reader) -> dict[str, Any]:
    """The latest scan of an image (by digest, else by tag) and its open, untriaged findings,
    worst first (at most 5000): the webhook judges them with its own policy."""
    try:
        image = parse_reference(ref)
    except UsageError as exc:
        raise bad_request(f"ref: {exc.message}", code="bad_reference", status=422) from None
    with ctx.db.session() as session:
        if image.digest:
            query = select(Asset).where(Asset.kind == "image", Asset.digest == image.digest)
        else:
            query = (select(Asset).join(AssetTag, AssetTag.asset_id == Asset.id)
                     .where(Asset.kind == "image", AssetTag.tag.in_(tag_spellings(image))))
        asset = session.execute(query.order_by(Asset.last_scan_at.desc(), Asset.id.desc())
                                .limit(1)).scalars().first()
        if asset is None or asset.last_scan_at is None:
            return {"found": False, "ref": str(image)}
        rows, more = list_findings(session, FindingFilter(asset_id=asset.id,
                                                          state=["new", "open", "reopened"],
                                                          triage="none"),
                                   limit=MAX_FINDINGS, sort="severity")
        findings = [json.loads(row.data) for row in rows]
    return {"found": True, "ref": str(image), "asset_id": asset.id, "name": asset.name,
            "digest": asset.digest,
            "scanned_at": asset.last_scan_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "scan_id": asset.last_scan_id, "findings": findings, "truncated": more is not None}


class DecisionIn(BaseModel):
    """One webhook decision as its decision log holds it."""

    model_config = ConfigDict(extra="ignore")
    time: str = Field("", max_length=40)
    uid: str = Field(..., max_length=128)
    allowed: bool
    verdict: Literal["allow", "warn", "deny"]
    mode: Literal["enforce", "audit"]
    operation: str = Field("", max_length=16)
    kind: str = Field("", max_length=100)
    namespace: str = Field("", max_length=253)
    name: str = Field("", max_length=253)
    user: str = Field("", max_length=300)
    dry_run: bool = False
    reasons: list[dict[str, Any]] = Field(default_factory=list, max_length=500)
    images: list[dict[str, Any]] = Field(default_factory=list, max_length=200)
    note: str = Field("", max_length=2000)
    duration_ms: float = 0.0
    policy: str = Field("", max_length=1000)


class DecisionBatch(BaseModel):
    """Decisions the webhook sends in one call."""

    decisions: list[DecisionIn] = Field(..., min_length=1, max_length=500)


@router.post("/admission/decisions", status_code=201)
def record_decisions(body: DecisionBatch, ctx: Ctx,
                     caller: Principal = Recorder) -> dict[str, Any]:
    """Append each decision to the audit trail (`admission.allow|warn|deny`), in one
    transaction: all are recorded or none."""
    with ctx.db.transaction() as session:
        seqs = []
        for decision in body.decisions:
            target = "/".join(p for p in (decision.kind, decision.namespace, decision.name) if p)
            entry = ctx.audit.append(session, caller.username, f"admission.{decision.verdict}",
                                     target or decision.uid, decision.model_dump())
            seqs.append(entry.seq)
    return {"recorded": len(seqs), "first_seq": seqs[0], "last_seq": seqs[-1]}
