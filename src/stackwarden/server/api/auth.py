"""/api/v1/auth: sign in (rate-limited), who am I, sign out; /api/v1/tokens: API tokens."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from sqlalchemy import select, update

from stackwarden.server.api.deps import Caller, Ctx, IdPath
from stackwarden.server.auth import (
    iso,
    ROLE_SCOPES,
    SCOPES,
    check_password,
    clear_login_failures,
    issue_token,
    login_blocked,
    parse_scopes,
    record_login_failure,
    too_many_attempts,
    unauthorized,
    utcnow,
)
from stackwarden.server.db.models import ApiToken, User
from stackwarden.server.errors import forbidden, not_found

router = APIRouter(tags=["auth"])


class LoginRequest(BaseModel):
    """User name and password."""

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class TokenRequest(BaseModel):
    """A new API token for the caller."""

    name: str = Field(min_length=1, max_length=100)
    scopes: list[str] = Field(min_length=1, max_length=len(SCOPES))
    expires_in_days: float | None = Field(None, gt=0, le=3650)


def token_to_dict(row: ApiToken) -> dict[str, Any]:
    """A token's metadata (never its secret or hash)."""
    return {"id": row.id, "name": row.name, "kind": row.kind, "scopes": row.scopes.split(),
            "user_id": row.user_id, "created_at": iso(row.created_at),
            "expires_at": iso(row.expires_at), "revoked_at": iso(row.revoked_at)}


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A session token (the only copy of its secret), when it expires, and for whom."""

    token: str
    token_id: int
    expires_at: datetime
    username: str
    role: str


def sign_in(ctx: Any, username: str, password: str, client: str) -> SignedIn:
    """Check a password (rate-limited per user and client, audited either way) and issue a
    session token; raises 401 or 429. Used by the API and the dashboard's login form."""
    settings = ctx.settings
    keys = [f"user:{username.lower()}", f"ip:{client}"]
    with ctx.db.transaction() as session:
        wait = login_blocked(session, keys, settings.login_max_failures,
                             settings.login_window_seconds)
    if wait:
        raise too_many_attempts(wait)
    with ctx.db.transaction() as session:
        user = session.execute(select(User).where(User.username == username)
                               ).scalar_one_or_none()
        ok = check_password(user.password_hash if user else "", password)
        if not ok or user is None or user.disabled:  # one answer for every failure
            record_login_failure(session, keys, settings.login_window_seconds)
            ctx.audit.append(session, username, "auth.login_failed",
                             f"user:{username}", {"client": client})
            result = None
        else:
            clear_login_failures(session, keys[0])
            expires = utcnow() + timedelta(hours=settings.session_hours)
            scopes = [s for s in SCOPES if s in ROLE_SCOPES[user.role]]
            row, token = issue_token(session, user, "session", scopes, kind="session",
                                     expires_at=expires)
            ctx.audit.append(session, user.username, "auth.login", f"user:{user.username}",
                             {"client": client, "token_id": row.id})
            result = SignedIn(token, row.id, expires, user.username, user.role)
    if result is None:
        raise unauthorized("wrong user name or password")
    return result


@router.post("/auth/login")
def login(body: LoginRequest, request: Request, ctx: Ctx) -> dict[str, Any]:
    """Exchange a user name and password for a session token (rate-limited per user and client)."""
    client = request.client.host if request.client else "unknown"
    done = sign_in(ctx, body.username, body.password, client)
    return {"token": done.token, "token_type": "bearer", "expires_at": iso(done.expires_at),
            "user": {"username": done.username, "role": done.role}}


@router.get("/auth/me")
def me(caller: Caller) -> dict[str, Any]:
    """Who the token belongs to and what it may do."""
    return {"username": caller.username, "role": caller.role,
            "scopes": [s for s in SCOPES if s in caller.scopes], "token_id": caller.token_id}


@router.post("/auth/logout")
def logout(caller: Caller, ctx: Ctx) -> dict[str, Any]:
    """Revoke the token used for this call."""
    with ctx.db.transaction() as session:
        session.execute(update(ApiToken).where(ApiToken.id == caller.token_id)
                        .values(revoked_at=utcnow()))
        ctx.audit.append(session, caller.username, "token.revoke", f"token:{caller.token_id}",
                         {"reason": "logout"})
    return {"revoked": caller.token_id}


@router.get("/tokens")
def list_tokens(caller: Caller, ctx: Ctx, all_users: bool = False) -> dict[str, Any]:
    """The caller's tokens (admins: everyone's with all_users=true)."""
    query = select(ApiToken).order_by(ApiToken.id)
    if not (all_users and "admin" in caller.scopes):
        query = query.where(ApiToken.user_id == caller.user_id)
    with ctx.db.session() as session:
        return {"items": [token_to_dict(r) for r in session.execute(query).scalars()]}


@router.post("/tokens", status_code=201)
def create_token(body: TokenRequest, caller: Caller, ctx: Ctx) -> dict[str, Any]:
    """Create an API token for the caller; the secret is in this response only."""
    scopes = parse_scopes(body.scopes)
    beyond = [s for s in scopes if s not in caller.scopes]
    if beyond:
        raise forbidden(f"this token cannot grant scope(s) it lacks: {', '.join(beyond)}")
    expires = utcnow() + timedelta(days=body.expires_in_days) if body.expires_in_days else None
    with ctx.db.transaction() as session:
        user = session.get(User, caller.user_id)
        if user is None:
            raise unauthorized()
        row, token = issue_token(session, user, body.name, scopes, expires_at=expires)
        ctx.audit.append(session, caller.username, "token.create", f"token:{row.id}",
                         {"name": body.name, "scopes": scopes, "expires_at": iso(expires)})
        return {**token_to_dict(row), "token": token}


@router.delete("/tokens/{token_id}")
def revoke_token(token_id: IdPath, caller: Caller,
                 ctx: Ctx) -> dict[str, Any]:
    """Revoke one of the caller's tokens (admins: anyone's)."""
    with ctx.db.transaction() as session:
        row = session.get(ApiToken, token_id)
        if row is None or (row.user_id != caller.user_id and "admin" not in caller.scopes):
            raise not_found(f"token {token_id}")
        if row.revoked_at is None:
            row.revoked_at = utcnow()
            ctx.audit.append(session, caller.username, "token.revoke", f"token:{row.id}",
                             {"owner_id": row.user_id})
        return token_to_dict(row)
