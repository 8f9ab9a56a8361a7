"""Access control: Argon2 passwords, hashed bearer tokens with scopes, roles, rate-limited login."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from stackwarden.server.db.models import ApiToken, LoginFailure, User
from stackwarden.server.errors import ApiError, bad_request, forbidden, unauthorized

SCOPES = ("scan:submit", "read", "triage", "admin", "agent")
ROLE_SCOPES: dict[str, frozenset[str]] = {
    "admin": frozenset(SCOPES),
    "security-engineer": frozenset({"scan:submit", "read", "triage", "agent"}),
    "developer": frozenset({"scan:submit", "read"}),
    "auditor": frozenset({"read"}),  # reads everything, exports evidence, changes nothing
    # an enrolled host agent's service user (no password): ships events, reads its config
    "agent": frozenset({"agent"}),
}
AGENT_ROLE = "agent"
ROLES = tuple(r for r in ROLE_SCOPES if r != AGENT_ROLE)  # the roles a person can be given
EVIDENCE_ROLES = frozenset({"admin", "auditor"})
TOKEN_PREFIX = "swt_"
_hasher = PasswordHasher()
# Verifying against this when the user does not exist keeps the timing the same.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def utcnow() -> datetime:
    """Naive UTC now: every timestamp column stores naive UTC."""
    return datetime.now(UTC).replace(tzinfo=None)


def iso(value: datetime | None) -> str | None:
    """A stored (naive UTC) timestamp as the API writes it: `2026-11-29T09:00:00Z`."""
    return None if value is None else value.strftime("%Y-%m-%dT%H:%M:%SZ")


def hash_password(password: str) -> str:
    """Argon2id hash (argon2-cffi's defaults, RFC 9106 low-memory profile)."""
    return _hasher.hash(password)


def check_password(stored: str, password: str) -> bool:
    """Whether the password matches (constant work whether or not the user exists)."""
    try:
        return _hasher.verify(stored or _DUMMY_HASH, password) and bool(stored)
    except (VerificationError, InvalidHashError):
        return False


def validate_password(password: str) -> None:
    """Refuse passwords too short to mean anything (the message never repeats the password)."""
    if len(password) < 12:
        raise bad_request("the password must be at least 12 characters long",
                          code="weak_password", status=422)


def secret_hash(secret: str) -> str:
    """What is stored of a token's secret (API and enrollment tokens)."""
    # Tokens are 256-bit random: a fast hash is enough (nothing to brute-force), and every
    # request checks one, so Argon2 here would cost ~50 ms a call for nothing.
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_scopes(scopes: list[str] | tuple[str, ...]) -> list[str]:
    """Validate scope names, keeping their canonical order."""
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise bad_request(f"unknown scope(s) {', '.join(unknown)} (known: {', '.join(SCOPES)})",
                          code="unknown_scope", status=422)
    return [s for s in SCOPES if s in scopes]


def issue_token(session: Session, user: User, name: str, scopes: list[str], *,
                kind: str = "api", expires_at: datetime | None = None) -> tuple[ApiToken, str]:
    """Create a token; returns the row and the only copy of the secret (shown once)."""
    allowed = ROLE_SCOPES[user.role]
    beyond = [s for s in scopes if s not in allowed]
    if beyond:
        raise forbidden(f"role {user.role} cannot hold scope(s) {', '.join(beyond)}")
    secret = secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, name=name, kind=kind, secret_hash=secret_hash(secret),
                   scopes=" ".join(scopes), created_at=utcnow(), expires_at=expires_at)
    session.add(row)
    session.flush()
    return row, f"{TOKEN_PREFIX}{row.id}_{secret}"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the user, their role, and the scopes this token really grants."""

    user_id: int
    username: str
    role: str
    scopes: frozenset[str]
    token_id: int

    def require(self, scope: str, roles: frozenset[str] | None = None) -> None:
        """Raise 403 unless the token has `scope` (and the user one of `roles`)."""
        if scope not in self.scopes:
            raise forbidden(f"this token lacks the {scope!r} scope")
        if roles is not None and self.role not in roles:
            raise forbidden(f"role {self.role} may not do this")


def authenticate(session: Session, authorization: str | None) -> Principal:
    """The principal for an `Authorization: Bearer …` header, or 401 (never naming the token)."""
    if not authorization:
        raise unauthorized()
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.startswith(TOKEN_PREFIX):
        raise unauthorized("expected `Authorization: Bearer swt_…`")
    ident, _, secret = token[len(TOKEN_PREFIX):].strip().partition("_")
    if not ident.isdigit() or not secret or len(ident) > 18:
        raise unauthorized("invalid token")
    row = session.get(ApiToken, int(ident))
    now = utcnow()
    if (row is None or not hmac.compare_digest(row.secret_hash, secret_hash(secret))
            or row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= now)):
        raise unauthorized("invalid, expired or revoked token")
    user = session.get(User, row.user_id)
    if user is None or user.disabled:
        raise unauthorized("invalid, expired or revoked token")
    scopes = frozenset(row.scopes.split()) & ROLE_SCOPES.get(user.role, frozenset())
    return Principal(user.id, user.username, user.role, scopes, row.id)


def login_blocked(session: Session, keys: list[str], max_failures: int, window: int) -> int:
    """Seconds to wait when any of `keys` (user name, client address) failed too often, else 0."""
    since = utcnow() - timedelta(seconds=window)
    for key in keys:
        count, oldest = session.execute(
            select(func.count(), func.min(LoginFailure.at))
            .where(LoginFailure.key == key, LoginFailure.at > since)).one()
        if count >= max_failures:
            return max(1, int((oldest - since).total_seconds()) + 1)
    return 0


def record_login_failure(session: Session, keys: list[str], window: int) -> None:
    """Count one failure against each key (and forget failures older than the window)."""
    now = utcnow()
    session.execute(delete(LoginFailure).where(LoginFailure.at < now - timedelta(seconds=window)))
    session.add_all(LoginFailure(key=key, at=now) for key in keys)


def clear_login_failures(session: Session, key: str) -> None:
    """A successful sign-in resets the user's failure count."""
    session.execute(delete(LoginFailure).where(LoginFailure.key == key))


def too_many_attempts(retry_after: int) -> ApiError:
    """429 with Retry-After."""
    return ApiError(429, "too_many_attempts", "too many failed sign-ins; try again later",
                    headers={"Retry-After": str(retry_after)})
