"""`stackwarden server init`: the first admin and a one-time token."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from stackwarden.core.errors import UsageError
from stackwarden.server.api.users import create_user
from stackwarden.server.auth import SCOPES, issue_token
from stackwarden.server.context import ServerContext
from stackwarden.server.db.models import User
from stackwarden.server.errors import ApiError


@dataclass(frozen=True, slots=True)
class InitResult:
    """The admin created and the only copy of its token."""

    username: str
    token: str
    key_id: str


def init_server(ctx: ServerContext, username: str, password: str) -> InitResult:
    """Create the first admin (refused when users exist) with an all-scopes API token."""
    with ctx.db.transaction() as session:
        if session.execute(select(func.count()).select_from(User)).scalar():
            raise UsageError("the server already has users; an admin adds more through the API")
        try:
            user = create_user(session, username, password, "admin")
        except ApiError as exc:
            raise UsageError(exc.message) from None
        row, token = issue_token(session, user, "server init", list(SCOPES))
        ctx.audit.append(session, username, "server.init", f"user:{username}",
                         {"role": "admin", "token_id": row.id})
        ctx.audit.checkpoint(session)
    return InitResult(username, token, next(iter(ctx.audit.trusted_keys)))
