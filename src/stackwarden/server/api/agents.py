"""/api/v1/agents: enrollment tokens, enrollment, pushed configuration, event ingest,
heartbeats, and the agents themselves (docs/agent.md)."""

from __future__ import annotations

import json
import zlib
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from stackwarden.agent.config import canonical, config_etag
from stackwarden.server.agents.config import (
    default_override,
    effective_config,
    set_agent_config,
    set_default_config,
)
from stackwarden.server.agents.enroll import (
    HostInfo,
    agent_for,
    create_enrollment_token,
    enroll_agent,
    enrollment_token_to_dict,
    revoke_agent,
    revoke_enrollment_token,
)
from stackwarden.server.agents.ingest import MAX_EVENTS, ingest_events, touch
from stackwarden.server.api.deps import Ctx, IdPath, read_body, require_json, requires, too_large
from stackwarden.server.auth import (
    iso,
    Principal,
    login_blocked,
    record_login_failure,
    too_many_attempts,
    utcnow,
)
from stackwarden.server.db.agent_models import Agent, EnrollmentToken
from stackwarden.server.errors import ApiError, bad_request, not_found
from stackwarden.server.ingest import parse_json

router = APIRouter(tags=["agents"])
Admin = Depends(requires("admin"))
Reader = Depends(requires("read"))
AgentScope = Depends(requires("agent"))
NO_CONTROL = r"^[^\x00-\x1f\x7f]*$"
MAX_STATUS_BYTES = 64 * 1024


def _client(request: Request) -> str:
    return request.client.host if request.client else ""


def agent_to_dict(agent: Agent, *, full: bool = False) -> dict[str, Any]:
    """The API form of an agent (never its credential)."""
    status = ("revoked" if agent.revoked_at else "silent" if agent.silent_since else "online")
    out: dict[str, Any] = {
        "id": agent.id, "uid": agent.uid, "asset_id": agent.asset_id,
        "hostname": agent.hostname, "os": agent.os, "agent_version": agent.agent_version,
        "enrolled_at": iso(agent.enrolled_at), "last_seen_at": iso(agent.last_seen_at),
        "last_address": agent.last_address, "silent_since": iso(agent.silent_since),
        "revoked_at": iso(agent.revoked_at), "status": status}
    if full:
        out["heartbeat"] = json.loads(agent.status or "{}")
        out["config_override"] = json.loads(agent.config or "{}")
    return out


# ------------------------------------------------------------------- enrollment tokens

class TokenRequest(BaseModel):
    """A new enrollment token."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field("", max_length=100, pattern=NO_CONTROL)
    expires_in: float = Field(3600, gt=0, le=30 * 86400, description="Seconds it stays usable.")


@router.post("/agents/enrollment-tokens", status_code=201)
def create_token(body: TokenRequest, ctx: Ctx, caller: Principal = Admin) -> dict[str, Any]:
    """A one-time enrollment token (its secret is in this response only)."""
    with ctx.db.transaction() as session:
        row, token = create_enrollment_token(session, caller.username, ctx.audit,
                                             expires_in=body.expires_in, name=body.name)
        return {**enrollment_token_to_dict(row), "token": token}


@router.get("/agents/enrollment-tokens")
def list_tokens(ctx: Ctx, caller: Principal = Admin) -> dict[str, Any]:
    """Every enrollment token with its state (usable, used, expired, revoked)."""
    with ctx.db.session() as session:
        rows = session.execute(select(EnrollmentToken).order_by(EnrollmentToken.id.desc())
                               .limit(1000)).scalars()
        return {"items": [enrollment_token_to_dict(r) for r in rows]}


@router.delete("/agents/enrollment-tokens/{token_id}")
def revoke_token(token_id: IdPath, ctx: Ctx, caller: Principal = Admin) -> dict[str, Any]:
    """Revoke an enrollment token."""
    with ctx.db.transaction() as session:
        return enrollment_token_to_dict(revoke_enrollment_token(session, token_id,
                                                                caller.username, ctx.audit))


# --------------------------------------------------------------------------- enrollment

class EnrollRequest(BaseModel):
    """An agent spending an enrollment token, and what it says about its host."""

    model_config = ConfigDict(extra="forbid")
    token: str = Field(min_length=1, max_length=200)
    hostname: str = Field(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9._-]+$")
    machine_id: str = Field("", max_length=64, pattern=NO_CONTROL)
    os: str = Field("", max_length=200, pattern=NO_CONTROL)
    agent_version: str = Field("", max_length=64, pattern=NO_CONTROL)


@router.post("/agents/enroll", status_code=201)
def enroll(body: EnrollRequest, request: Request, ctx: Ctx) -> dict[str, Any]:
    """Exchange an enrollment token for the agent's own credential (no other authentication;
    failures are rate-limited per client address like sign-ins)."""
    client = _client(request)
    keys = [f"enroll:{client}"]
    settings = ctx.settings
    with ctx.db.transaction() as session:
        wait = login_blocked(session, keys, settings.login_max_failures,
                             settings.login_window_seconds)
    if wait:
        raise too_many_attempts(wait)
    host = HostInfo(body.hostname, body.machine_id, body.os, body.agent_version)
    try:
        with ctx.db.transaction() as session:
            done = enroll_agent(session, body.token, host, client, ctx.audit)
            return {"agent_id": done.agent.id, "agent_uid": done.agent.uid,
                    "asset_id": done.asset.id, "hostname": done.agent.hostname,
                    "credential": done.credential}
    except ApiError as exc:
        if exc.status == 401:
            with ctx.db.transaction() as session:
                record_login_failure(session, keys, settings.login_window_seconds)
        raise


# ------------------------------------------------------------------------ configuration

@router.get("/agents/config", response_class=Response,
            responses={200: {"content": {"application/json": {}}}, 304: {}})
def agent_config(request: Request, ctx: Ctx, caller: Principal = AgentScope) -> Response:
    """The calling agent's configuration, with a strong ETag (If-None-Match: 304)."""
    with ctx.db.transaction() as session:
        agent = agent_for(session, caller)
        document = effective_config(session, agent)
        touch(session, agent, _client(request), ctx.audit, utcnow())
    etag = config_etag(document)
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    wanted = [t.strip() for t in request.headers.get("if-none-match", "").split(",")]
    if etag in wanted:
        return Response(status_code=304, headers=headers)
    return Response(canonical(document), media_type="application/json", headers=headers)


@router.get("/agents/config/default")
def get_default_config(ctx: Ctx, caller: Principal = Reader) -> dict[str, Any]:
    """The server-wide override of the built-in agent configuration."""
    with ctx.db.session() as session:
        return default_override(session)


@router.put("/agents/config/default")
async def put_default_config(request: Request, ctx: Ctx,
                             caller: Principal = Admin) -> dict[str, Any]:
    """Replace the server-wide override (validated; 422 naming the bad key)."""
    document = await _json_body(request, ctx)

    def save() -> dict[str, Any]:
        with ctx.db.transaction() as session:
            set_default_config(session, document, caller.username, ctx.audit)
        return {"config": document}
    return await run_in_threadpool(save)


async def _json_body(request: Request, ctx: Any) -> Any:
    require_json(request)
    return parse_json(await read_body(request, ctx.settings.max_report_bytes))


# --------------------------------------------------------------------- events, heartbeat

def decode_body(data: bytes, encoding: str, limit: int) -> bytes:
    """The body, gunzipped when sent with Content-Encoding: gzip (413 past `limit` bytes)."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return data
    if encoding != "gzip":
        raise ApiError(415, "unsupported_media_type", f"Content-Encoding {encoding!r} "
                       "(gzip or identity)")
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error:
        raise bad_request("the body is not valid gzip", code="bad_encoding") from None
    if len(out) > limit:
        raise too_large(limit)
    if not inflater.eof:
        raise bad_request("the gzip body is truncated", code="bad_encoding")
    return out


def _events_of(document: Any) -> list[Any]:
    events = document.get("events") if isinstance(document, dict) else None
    if not isinstance(events, list):
        raise bad_request('expected {"events": [...]}', code="schema_violation", status=422)
    if len(events) > MAX_EVENTS:
        raise ApiError(413, "too_large", f"at most {MAX_EVENTS} events per batch")
    return events


@router.post("/agents/events", openapi_extra={"requestBody": {"required": True, "content": {
    "application/json": {"schema": {"type": "object", "required": ["events"], "properties": {
        "events": {"type": "array", "maxItems": MAX_EVENTS, "items": {"type": "object"}}}}}}}})
async def post_events(request: Request, ctx: Ctx,
                      caller: Principal = AgentScope) -> dict[str, Any]:
    """A batch of events (gzip accepted). Each event is stored once per (agent, id): a retried
    batch answers with `duplicates` instead of storing twice; invalid events are `rejected`
    one by one with the reason, the others stored."""
    require_json(request)
    limit = ctx.settings.max_report_bytes
    raw = await read_body(request, limit)
    events = _events_of(parse_json(decode_body(raw, request.headers.get(
        "content-encoding", ""), limit)))
    client = _client(request)

    def ingest() -> dict[str, Any]:
        now = utcnow()
        with ctx.db.transaction() as session:
            agent = agent_for(session, caller)
            outcome = ingest_events(session, agent, events, audit=ctx.audit, now=now,
                                    window=ctx.settings.incident_window_seconds)
            touch(session, agent, client, ctx.audit, now)
        _submit(ctx, outcome.jobs)
        return outcome.to_dict()
    return await run_in_threadpool(ingest)


def _submit(ctx: Any, job_ids: list[str]) -> None:
    if ctx.runner is None:
        return
    from stackwarden.server.jobs import mark_failed

    for job_id in job_ids:
        try:
            ctx.runner.submit(job_id)
        except Exception as exc:  # noqa: BLE001 - the events are stored; the job says why
            mark_failed(ctx, job_id, f"the job broker is unreachable ({type(exc).__name__})")


class Heartbeat(BaseModel):
    """What a running agent says about itself (queue depth, collectors, last error…)."""

    model_config = ConfigDict(extra="forbid")
    status: dict[str, Any] = Field(default_factory=dict)


@router.post("/agents/heartbeat")
def heartbeat(body: Heartbeat, request: Request, ctx: Ctx,
              caller: Principal = AgentScope) -> dict[str, Any]:
    """Record the agent's status; answers the ETag of its configuration (fetch it on change)."""
    text = json.dumps(body.status, default=str)
    if len(text) > MAX_STATUS_BYTES:
        raise too_large(MAX_STATUS_BYTES)
    with ctx.db.transaction() as session:
        agent = agent_for(session, caller)
        agent.status = text
        touch(session, agent, _client(request), ctx.audit, utcnow())
        return {"config_etag": config_etag(effective_config(session, agent))}


# ------------------------------------------------------------------------------- agents

@router.get("/agents")
def list_agents(ctx: Ctx, caller: Principal = Reader) -> dict[str, Any]:
    """Every agent, newest first."""
    with ctx.db.session() as session:
        rows = session.execute(select(Agent).order_by(Agent.id.desc()).limit(5000)).scalars()
        return {"items": [agent_to_dict(a) for a in rows]}


@router.get("/agents/{agent_id}")
def get_agent(agent_id: IdPath, ctx: Ctx, caller: Principal = Reader) -> dict[str, Any]:
    """One agent: its last heartbeat, its override and the configuration it gets."""
    with ctx.db.session() as session:
        agent = session.get(Agent, agent_id)
        if agent is None:
            raise not_found(f"agent {agent_id}")
        config = effective_config(session, agent)
        return {**agent_to_dict(agent, full=True), "config": config,
                "config_etag": config_etag(config)}


@router.put("/agents/{agent_id}/config")
async def put_agent_config(agent_id: IdPath, request: Request, ctx: Ctx,
                           caller: Principal = Admin) -> dict[str, Any]:
    """Replace one agent's override (validated on top of the defaults; 422 naming the key)."""
    document = await _json_body(request, ctx)

    def save() -> dict[str, Any]:
        with ctx.db.transaction() as session:
            agent = session.get(Agent, agent_id)
            if agent is None:
                raise not_found(f"agent {agent_id}")
            set_agent_config(session, agent, document, caller.username, ctx.audit)
            config = effective_config(session, agent)
            return {"config": config, "config_etag": config_etag(config)}
    return await run_in_threadpool(save)


@router.delete("/agents/{agent_id}")
def delete_agent(agent_id: IdPath, ctx: Ctx, caller: Principal = Admin) -> dict[str, Any]:
    """Revoke an agent's credential (its host and events stay)."""
    with ctx.db.transaction() as session:
        return agent_to_dict(revoke_agent(session, agent_id, caller.username, ctx.audit))
