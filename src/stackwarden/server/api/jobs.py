"""/api/v1/jobs: background job status, and starting the jobs people may start by hand."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field
from sqlalchemy import select

from stackwarden.server.api.deps import Ctx, requires
from stackwarden.server.api.scans import _queue
from stackwarden.server.auth import Principal
from stackwarden.server.db.models import Job, Sbom
from stackwarden.server.errors import not_found

router = APIRouter(tags=["jobs"])
Reader = Depends(requires("read"))
Triager = Depends(requires("triage", "admin"))


class JobRequest(BaseModel):
    """A job to start: re-match a stored SBOM, or sign an audit checkpoint now."""

    kind: Literal["rematch_sbom", "audit_checkpoint"]
    sbom_id: int | None = Field(None, ge=1, le=2**62)


@router.get("/jobs")
def list_jobs(ctx: Ctx, state: Literal["queued", "running", "succeeded", "failed"] | None = None,
              limit: Annotated[int, Query(ge=1, le=500)] = 50,
              caller: Principal = Reader) -> dict[str, Any]:
    """The most recent jobs."""
    from stackwarden.server.jobs import job_to_dict

    query = select(Job).order_by(Job.created_at.desc(), Job.id).limit(limit)
    if state:
        query = query.where(Job.state == state)
    with ctx.db.session() as session:
        return {"items": [job_to_dict(j) for j in session.execute(query).scalars()]}


@router.get("/jobs/{job_id}")
def get_job(job_id: Annotated[str, Path(max_length=36)], ctx: Ctx,
            caller: Principal = Reader) -> dict[str, Any]:
    """One job's state, result or error."""
    from stackwarden.server.jobs import job_to_dict

    with ctx.db.session() as session:
        job = session.get(Job, job_id)
        if job is None:
            raise not_found(f"job {job_id}")
        return job_to_dict(job)


@router.post("/jobs", status_code=202)
def start_job(body: JobRequest, ctx: Ctx, caller: Principal = Triager) -> dict[str, Any]:
    """Queue a job; poll /jobs/{id} for its outcome."""
    params: dict[str, Any] = {}
    if body.kind == "rematch_sbom":
        with ctx.db.session() as session:
            if body.sbom_id is None or session.get(Sbom, body.sbom_id) is None:
                raise not_found(f"SBOM {body.sbom_id}")
        params = {"sbom_id": body.sbom_id}
    return _queue(ctx, body.kind, caller.username, None, params)
