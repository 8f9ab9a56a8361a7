"""/api/v1/users: accounts and roles (admin only)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from stackwarden.server.api.deps import Ctx, IdPath, requires
from stackwarden.server.auth import ROLES, Principal, hash_password, utcnow, validate_password
from stackwarden.server.db.models import User
from stackwarden.server.errors import ApiError, bad_request, not_found

router = APIRouter(tags=["users"])
Admin = Depends(requires("admin"))
USERNAME = r"^[A-Za-z0-9][A-Za-z0-9._@-]*$"


class NewUser(BaseModel):
    """A user to create."""

    username: str = Field(min_length=1, max_length=64, pattern=USERNAME)
    password: str = Field(min_length=1, max_length=1024)
    role: str


class UserChange(BaseModel):
    """Fields to change; absent ones stay."""

    role: str | None = None
    disabled: bool | None = None
    password: str | None = Field(None, min_length=1, max_length=1024)


def user_to_dict(user: User) -> dict[str, Any]:
    """The API form (never the password hash)."""
    return {"id": user.id, "username": user.username, "role": user.role,
            "disabled": user.disabled, "created_at": user.created_at.strftime("%Y-%m-%dT%H:%M:%SZ")}


def _role(role: str) -> str:
    if role not in ROLES:
        raise bad_request(f"unknown role {role!r} (one of {', '.join(ROLES)})", status=422,
                          code="unknown_role")
    return role


def create_user(session: Any, username: str, password: str, role: str) -> User:
    """Insert a user (used by the API and by `stackwarden server init`)."""
    validate_password(password)
    user = User(username=username, password_hash=hash_password(password), role=_role(role),
                disabled=False, created_at=utcnow())
    session.add(user)
    try:
        session.flush()
    except IntegrityError:
        raise ApiError(409, "conflict", f"user {username!r} already exists") from None
    return user


@router.get("/users")
def list_users(ctx: Ctx, caller: Principal = Admin) -> dict[str, Any]:
    """Every user."""
    with ctx.db.session() as session:
        return {"items": [user_to_dict(u) for u in
                          session.execute(select(User).order_by(User.id)).scalars()]}


@router.post("/users", status_code=201)
def add_user(body: NewUser, ctx: Ctx, caller: Principal = Admin) -> dict[str, Any]:
    """Create a user with a role."""
    with ctx.db.transaction() as session:
        if session.execute(select(User.id).where(User.username == body.username)).first():
            raise ApiError(409, "conflict", f"user {body.username!r} already exists")
        user = create_user(session, body.username, body.password, body.role)
        ctx.audit.append(session, caller.username, "user.create", f"user:{user.username}",
                         {"role": user.role})
        return user_to_dict(user)


@router.patch("/users/{user_id}")
def change_user(user_id: IdPath, body: UserChange, ctx: Ctx,
                caller: Principal = Admin) -> dict[str, Any]:
    """Change a user's role, disable or enable them, or set a new password."""
    with ctx.db.transaction() as session:
        user = session.get(User, user_id)
        if user is None:
            raise not_found(f"user {user_id}")
        changes: dict[str, Any] = {}
        if body.role is not None and body.role != user.role:
            changes["role"] = [user.role, _role(body.role)]
            user.role = body.role
        if body.disabled is not None and body.disabled != user.disabled:
            changes["disabled"] = body.disabled
            user.disabled = body.disabled
        if body.password is not None:
            validate_password(body.password)
            user.password_hash = hash_password(body.password)
            changes["password"] = "changed"  # the fact, never the value
        if user.id == caller.user_id and (user.disabled or user.role != "admin"):
            raise bad_request("an admin cannot disable or demote themselves", status=409,
                              code="conflict")
        if changes:
            ctx.audit.append(session, caller.username, "user.update", f"user:{user.username}",
                             changes)
        return user_to_dict(user)
