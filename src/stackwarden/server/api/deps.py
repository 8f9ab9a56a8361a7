"""What route functions share: the server context, the caller, body reading with a limit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from stackwarden.server.auth import Principal, authenticate
from stackwarden.server.context import ServerContext
from stackwarden.server.errors import ApiError

bearer = HTTPBearer(auto_error=False, description="An API or session token: `swt_…`")


def get_ctx(request: Request) -> ServerContext:
    """The server context the app was built with."""
    ctx: ServerContext = request.app.state.ctx
    return ctx


Ctx = Annotated[ServerContext, Depends(get_ctx)]
MAX_ID = 2**62  # ids beyond this cannot exist; refusing them keeps databases from overflowing
IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]


def get_principal(request: Request, creds: Annotated[HTTPAuthorizationCredentials | None,
                                                     Depends(bearer)]) -> Principal:
    """The authenticated caller (401 without a valid token)."""
    ctx = get_ctx(request)
    header = None if creds is None else f"{creds.scheme} {creds.credentials}"
    with ctx.db.session() as session:
        principal = authenticate(session, header)
    request.state.principal = principal.username
    return principal


Caller = Annotated[Principal, Depends(get_principal)]


def requires(*scopes: str, roles: frozenset[str] | None = None
             ) -> Callable[[Principal], Principal]:
    """A dependency: the caller must hold one of `scopes` and, if given, one of `roles`."""
    def check(principal: Caller) -> Principal:
        held = next((s for s in scopes if s in principal.scopes), scopes[0])
        principal.require(held, roles)
        return principal
    return check


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it passes `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large(limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
    body = b"".join(chunks)
    if not body:
        raise ApiError(400, "empty_body", "the request body is empty")
    return body


def too_large(limit: int) -> ApiError:
    """413 naming the limit."""
    return ApiError(413, "too_large", f"the body is larger than the server's limit of {limit} "
                    "bytes (max_report_bytes)")


def require_json(request: Request) -> None:
    """415 unless the body is declared as JSON."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype and ctype != "application/json" and not ctype.endswith("+json"):
        raise ApiError(415, "unsupported_media_type", f"expected application/json, got {ctype}")
