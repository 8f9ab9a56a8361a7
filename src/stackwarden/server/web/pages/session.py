"""Sign in and out: the session cookie (Secure, HttpOnly, SameSite=Strict) holds a session
token issued by the same code as `POST /api/v1/auth/login`."""

from __future__ import annotations

import hmac

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import update

from stackwarden import __version__
from stackwarden.server.api.auth import sign_in
from stackwarden.server.auth import utcnow
from stackwarden.server.db.models import ApiToken
from stackwarden.server.errors import ApiError
from stackwarden.server.web.core import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    PageDep,
    new_login_csrf,
    read_form,
    router,
    security_headers,
    templates,
)


def _safe_next(value: str) -> str:
    # only paths on this site: never //host or a scheme (open redirect)
    return value if value.startswith("/") and not value.startswith("//") and \
        "\\" not in value else "/"


def _login_page(request: Request, *, error: str = "", username: str = "", next_path: str = "/",
                status: int = 200) -> Response:
    token = new_login_csrf()
    body = templates.get_template("login.html").render(
        user=None, nav=[], csrf="", flash="", path="/login", version=__version__,
        title="Sign in", error=error, username=username, next=_safe_next(next_path),
        login_csrf=token)
    response = security_headers(HTMLResponse(body, status_code=status))
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict",
                        secure=request.app.state.ctx.settings.cookie_secure, path="/login",
                        max_age=3600)
    return response


@router.get("/login")
def login_form(request: Request, next: str = "/") -> Response:  # noqa: A002 - query name
    """The sign-in form."""
    return _login_page(request, next_path=next)


@router.post("/login")
async def login(request: Request) -> Response:
    """Check the password, set the session cookie, go where the user was going."""
    from starlette.concurrency import run_in_threadpool

    form = await read_form(request)
    next_path = _safe_next(form.get("next", "/"))
    username = form.get("username").strip()
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not cookie or not hmac.compare_digest(cookie, form.get("csrf")):
        return _login_page(request, error="The form expired; please sign in again.",
                           username=username, next_path=next_path, status=403)
    if not username or not form.get("password"):
        return _login_page(request, error="Enter your user name and password.",
                           username=username, next_path=next_path, status=422)
    ctx = request.app.state.ctx
    client = request.client.host if request.client else "unknown"
    try:
        done = await run_in_threadpool(sign_in, ctx, username[:64], form.get("password")[:1024],
                                       client)
    except ApiError as exc:
        message = ("Too many failed sign-ins; wait a few minutes and try again."
                   if exc.status == 429 else "Wrong user name or password.")
        return _login_page(request, error=message, username=username, next_path=next_path,
                           status=exc.status)
    response = security_headers(RedirectResponse(next_path, status_code=303))
    response.set_cookie(SESSION_COOKIE, done.token, httponly=True, samesite="strict",
                        secure=ctx.settings.cookie_secure, path="/",
                        max_age=int(ctx.settings.session_hours * 3600))
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
async def logout(page: PageDep) -> Response:
    """Revoke the session token and clear the cookie."""
    await page.form()
    with page.ctx.db.transaction() as session:
        session.execute(update(ApiToken).where(ApiToken.id == page.who.token_id)
                        .values(revoked_at=utcnow()))
        page.ctx.audit.append(session, page.who.username, "token.revoke",
                              f"token:{page.who.token_id}", {"reason": "logout"})
    response = security_headers(RedirectResponse("/login", status_code=303))
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
