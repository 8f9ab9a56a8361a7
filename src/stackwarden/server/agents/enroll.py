"""Enrollment: one-time, expiring tokens an admin creates; an agent exchanges one for its own
credential (an `agent`-scoped API token of a service user made for it) and its host asset."""

from __future__ import annotations

import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from stackwarden.server.auth import AGENT_ROLE, Principal, iso, issue_token, secret_hash, utcnow
from stackwarden.server.db.agent_models import Agent, EnrollmentToken
from stackwarden.server.db.models import ApiToken, Asset, User
from stackwarden.server.errors import ApiError, bad_request, forbidden, not_found, unauthorized
from stackwarden.server.ingest import AssetIdentity, upsert_asset

ENROLL_PREFIX = "swe_"
MAX_LIFETIME = timedelta(days=30)


def create_enrollment_token(session: Session, actor: str, audit: Any, *, expires_in: float,
                            name: str = "") -> tuple[EnrollmentToken, str]:
    """A new token, valid once for `expires_in` seconds; returns the row and the only copy of
    the secret."""
    if not 0 < expires_in <= MAX_LIFETIME.total_seconds():
        raise bad_request("an enrollment token lives between 1 second and 30 days",
                          code="bad_expiry", status=422)
    now = utcnow()
    secret = secrets.token_urlsafe(32)
    row = EnrollmentToken(name=(name or "enrollment")[:100], secret_hash=secret_hash(secret),
                          created_by=actor, created_at=now,
                          expires_at=now + timedelta(seconds=expires_in))
    session.add(row)
    session.flush()
    audit.append(session, actor, "agent.enrollment_token.create", f"enrollment_token:{row.id}",
                 {"name": row.name, "expires_at": iso(row.expires_at)})
    return row, f"{ENROLL_PREFIX}{row.id}_{secret}"


def revoke_enrollment_token(session: Session, token_id: int, actor: str,
                            audit: Any) -> EnrollmentToken:
    """Make an unused token unusable."""
    row = session.get(EnrollmentToken, token_id)
    if row is None:
        raise not_found(f"enrollment token {token_id}")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        audit.append(session, actor, "agent.enrollment_token.revoke",
                     f"enrollment_token:{row.id}", {})
    return row


def enrollment_token_to_dict(row: EnrollmentToken, now: datetime | None = None) -> dict[str, Any]:
    """Metadata of a token (never its secret) with its state."""
    now = now or utcnow()
    state = ("revoked" if row.revoked_at else "used" if row.used_at else
             "expired" if row.expires_at <= now else "usable")
    return {"id": row.id, "name": row.name, "created_by": row.created_by,
            "created_at": iso(row.created_at), "expires_at": iso(row.expires_at),
            "used_at": iso(row.used_at), "used_by": row.used_by,
            "revoked_at": iso(row.revoked_at), "state": state}


@dataclass(frozen=True, slots=True)
class HostInfo:
    """What an enrolling agent says about its host."""

    hostname: str
    machine_id: str = ""
    os: str = ""
    agent_version: str = ""


@dataclass(frozen=True, slots=True)
class Enrollment:
    """The agent row, its host asset and the only copy of its credential."""

    agent: Agent
    asset: Asset
    credential: str


def _refused(message: str) -> ApiError:
    return ApiError(401, "enrollment_refused", message)


def _find_token(session: Session, token: str) -> EnrollmentToken:
    ident, _, secret = token.removeprefix(ENROLL_PREFIX).partition("_")
    if not token.startswith(ENROLL_PREFIX) or not ident.isdigit() or len(ident) > 18 \
            or not secret:
        raise _refused("not an enrollment token (expected swe_…)")
    row = session.get(EnrollmentToken, int(ident))
    if row is None or not hmac.compare_digest(row.secret_hash, secret_hash(secret)):
        raise _refused("unknown enrollment token")
    return row


def enroll_agent(session: Session, token: str, host: HostInfo, address: str,
                 audit: Any) -> Enrollment:
    """Spend an enrollment token: a new agent, its service user and credential, its host."""
    row = _find_token(session, token)
    now = utcnow()
    if row.revoked_at is not None:
        raise _refused("this enrollment token was revoked")
    if row.used_at is not None:
        raise _refused(f"this enrollment token was already used (at {iso(row.used_at)}); "
                       "create a new one")
    if row.expires_at <= now:
        raise _refused(f"this enrollment token expired at {iso(row.expires_at)}; "
                       "create a new one")
    uid = str(uuid.uuid4())
    # the conditional update is what makes the token single-use under concurrent enrollments
    claimed = session.execute(update(EnrollmentToken).where(
        EnrollmentToken.id == row.id, EnrollmentToken.used_at.is_(None)).values(
        used_at=now, used_by=uid)).rowcount  # type: ignore[attr-defined]
    if claimed != 1:
        raise _refused("this enrollment token was already used; create a new one")
    name = host.hostname.strip()
    asset = upsert_asset(session, AssetIdentity("host", name, name, None, ()))
    user = User(username=f"agent:{uid}", password_hash="", role=AGENT_ROLE, disabled=False,
                created_at=now)
    session.add(user)
    session.flush()
    token_row, credential = issue_token(session, user, f"agent {name}"[:100], ["agent"])
    agent = Agent(uid=uid, asset_id=asset.id, user_id=user.id, token_id=token_row.id,
                  hostname=name, machine_id=host.machine_id, os=host.os,
                  agent_version=host.agent_version, enrolled_at=now,
                  enrollment_token_id=row.id, last_seen_at=now, last_address=address[:64],
                  status="{}", config="{}")
    session.add(agent)
    session.flush()
    audit.append(session, user.username, "agent.enroll", f"agent:{agent.id}",
                 {"hostname": name, "asset_id": asset.id, "enrollment_token_id": row.id,
                  "address": address})
    return Enrollment(agent, asset, credential)


def agent_for(session: Session, principal: Principal) -> Agent:
    """The agent whose credential made this call (403 for any other token)."""
    agent = session.execute(select(Agent).where(Agent.token_id == principal.token_id)
                            ).scalar_one_or_none()
    if agent is None or principal.role != AGENT_ROLE:
        raise forbidden("this token is not an agent credential")
    if agent.revoked_at is not None:
        raise unauthorized("this agent was revoked; enroll it again")
    return agent


def revoke_agent(session: Session, agent_id: int, actor: str, audit: Any) -> Agent:
    """Revoke an agent's credential (its events stay)."""
    agent = session.get(Agent, agent_id)
    if agent is None:
        raise not_found(f"agent {agent_id}")
    if agent.revoked_at is None:
        now = utcnow()
        agent.revoked_at = now
        session.execute(update(ApiToken).where(ApiToken.id == agent.token_id,
                                               ApiToken.revoked_at.is_(None))
                        .values(revoked_at=now))
        audit.append(session, actor, "agent.revoke", f"agent:{agent.id}",
                     {"hostname": agent.hostname})
    return agent
