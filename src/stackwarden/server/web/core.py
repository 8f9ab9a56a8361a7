"""What every dashboard page shares: templates (autoescaped), the session cookie, CSRF, the
navigation, form parsing and rendering with security headers.

A new page is one template extending `base.html` and one route on `router`:

    from stackwarden.server.web.core import Page, nav, router

    nav("Registries", "/registries", order=35)

    @router.get("/registries")
    def registries(page: Page) -> Response:
        return page.render("registries.html", items=...)
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qsl, quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from stackwarden import __version__
from stackwarden.server.auth import Principal, authenticate
from stackwarden.server.context import ServerContext
from stackwarden.server.errors import ApiError, forbidden

HERE = Path(__file__).parent
SESSION_COOKIE = "sw_session"
LOGIN_CSRF_COOKIE = "sw_login_csrf"
MAX_FORM_BYTES = 256 * 1024
# No script at all: an injected value could not run even if escaping failed somewhere.
CSP = ("default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")
SECURITY_HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
                    "Referrer-Policy": "same-origin", "X-Frame-Options": "DENY",
                    "Cache-Control": "no-store"}
# Fixed messages shown after a redirect (`?done=KEY`): nothing from the URL is ever echoed.
FLASH = {
    "ignored": "Finding ignored.", "risk_accepted": "Risk accepted.", "none": "Triage cleared.",
    "assigned": "Assignment saved.", "bulk": "Bulk change applied.",
    "labels": "Labels saved.", "user": "User saved.", "team": "Team saved.",
    "token_revoked": "Token revoked.", "channel": "Channel saved.",
    "channel_test": "Test message queued; see the deliveries below.",
    "policy": "Policy saved.", "verified": "Audit log verified.",
    "sweep": "Sweep queued; reload to follow it.",
}

router = APIRouter(include_in_schema=False)
templates = Environment(loader=FileSystemLoader(str(HERE / "templates")),
                        autoescape=select_autoescape(default=True, default_for_string=True),
                        trim_blocks=True, lstrip_blocks=True)


@dataclass(frozen=True, slots=True)
class NavItem:
    """A link in the navigation bar."""

    label: str
    path: str
    order: int
    roles: frozenset[str] | None  # None: every role


NAV: list[NavItem] = []


def nav(label: str, path: str, *, order: int = 50, roles: frozenset[str] | None = None) -> None:
    """Add a page to the navigation (ordered by `order`; `roles` limits who sees the link)."""
    NAV[:] = sorted([*(n for n in NAV if n.path != path), NavItem(label, path, order, roles)],
                    key=lambda n: (n.order, n.label))


class LoginRequired(Exception):
    """No valid session: the handler redirects to the login page."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def csrf_token(session_token: str) -> str:
    """The form token for a session: HMAC of the session secret, so only a page served to that
    session can know it (the cookie itself is HttpOnly)."""
    return hmac.new(session_token.encode(), b"stackwarden-csrf", hashlib.sha256).hexdigest()


@dataclass
class Form:
    """A submitted urlencoded form (repeated fields kept)."""

    pairs: list[tuple[str, str]] = field(default_factory=list)

    def get(self, name: str, default: str = "") -> str:
        """The first value of a field."""
        return next((v for k, v in self.pairs if k == name), default)

    def getlist(self, name: str) -> list[str]:
        """Every value of a field."""
        return [v for k, v in self.pairs if k == name]

    def as_dict(self) -> dict[str, str]:
        """First values by name."""
        out: dict[str, str] = {}
        for k, v in self.pairs:
            out.setdefault(k, v)
        return out


async def read_form(request: Request) -> Form:
    """Parse a urlencoded body (at most MAX_FORM_BYTES)."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/x-www-form-urlencoded":
        raise ApiError(415, "unsupported_media_type", "forms are application/x-www-form-"
                       "urlencoded")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_FORM_BYTES:
            raise ApiError(413, "too_large", "the form is too large")
        chunks.append(chunk)
    text = b"".join(chunks).decode("utf-8", "replace")
    return Form(parse_qsl(text, keep_blank_values=True, max_num_fields=2000))


def security_headers(response: Response) -> Response:
    """Add the page security headers."""
    for key, value in SECURITY_HEADERS.items():
        response.headers[key] = value
    return response


def is_page_request(request: Request) -> bool:
    """Whether a request is for the dashboard (HTML), not the API."""
    path = request.url.path
    return not path.startswith(("/api/", "/metrics", "/healthz", "/readyz"))


def render_error(request: Request, status: int, message: str) -> Response:
    """An HTML error page (messages are escaped like everything else)."""
    body = templates.get_template("error.html").render(
        status=status, message=message, user=None, nav=[], csrf="", flash="", path="",
        version=__version__, title=f"Error {status}")
    return security_headers(HTMLResponse(body, status_code=status))


class Page:
    """The request, its signed-in user and helpers to render and redirect (a dependency)."""

    def __init__(self, request: Request, ctx: ServerContext, who: Principal,
                 session_token: str) -> None:
        self.request = request
        self.ctx = ctx
        self.who = who
        self.csrf = csrf_token(session_token)

    @property
    def can_triage(self) -> bool:
        """Ignore, accept risk, assign, label assets."""
        return "triage" in self.who.scopes

    @property
    def is_admin(self) -> bool:
        """Users, teams, channels, policies."""
        return "admin" in self.who.scopes

    def require(self, scope: str) -> None:
        """403 unless the user's session holds `scope`."""
        if scope not in self.who.scopes:
            raise forbidden(f"your role ({self.who.role}) may not do this")

    async def form(self) -> Form:
        """The submitted form, after checking its CSRF token (403 when wrong or missing)."""
        form = await read_form(self.request)
        if not hmac.compare_digest(form.get("csrf"), self.csrf):
            raise forbidden("the form's security token is missing or stale; reload the page "
                            "and submit again")
        return form

    def render(self, template: str, status: int = 200, **values: Any) -> Response:
        """Render a template with the common values (user, navigation, CSRF token, flash)."""
        done = self.request.query_params.get("done", "")
        items = [n for n in NAV if n.roles is None or self.who.role in n.roles]
        body = templates.get_template(template).render(
            user=self.who, nav=items, csrf=self.csrf, flash=FLASH.get(done, ""),
            path=self.request.url.path, version=__version__, page=self, **values)
        return security_headers(HTMLResponse(body, status_code=status))

    def redirect(self, path: str, done: str = "") -> Response:
        """303 See Other to a dashboard path (after a POST)."""
        if not path.startswith("/") or path.startswith("//"):
            path = "/"
        if done:
            path += ("&" if "?" in path else "?") + "done=" + quote(done)
        return security_headers(RedirectResponse(path, status_code=303))


def _session(request: Request) -> tuple[ServerContext, Principal, str]:
    ctx: ServerContext = request.app.state.ctx
    token = request.cookies.get(SESSION_COOKIE, "")
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if not token:
        raise LoginRequired(target)
    try:
        with ctx.db.session() as session:
            who = authenticate(session, f"Bearer {token}")
    except ApiError as exc:
        if exc.status == 401:
            raise LoginRequired(target) from None
        raise
    request.state.principal = who.username
    return ctx, who, token


def get_page(request: Request) -> Page:
    """The dependency behind `Page`: a valid session or a redirect to the login page."""
    ctx, who, token = _session(request)
    return Page(request, ctx, who, token)


PageDep = Annotated[Page, Depends(get_page)]


def login_redirect(next_path: str) -> Response:
    """303 to the login page, remembering where the user was going."""
    return security_headers(RedirectResponse("/login?next=" + quote(next_path, safe=""),
                                             status_code=303))


def new_login_csrf() -> str:
    """A random value for the login form's double-submit cookie."""
    return secrets.token_urlsafe(24)


# --- template helpers ----------------------------------------------------------------------

def fmt_time(value: datetime | str | None) -> str:
    """A timestamp as `YYYY-MM-DD HH:MM` (UTC)."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        return value.replace("T", " ")[:16]
    return value.strftime("%Y-%m-%d %H:%M")


def fmt_date(value: datetime | None) -> str:
    """A date as `YYYY-MM-DD`."""
    return "" if value is None else value.strftime("%Y-%m-%d")


def query_with(request: Request, **changes: Any) -> str:
    """The current query string with some parameters replaced (None removes one)."""
    params = [(k, v) for k, v in request.query_params.multi_items()
              if k not in changes and k != "done"]
    for key, value in changes.items():
        if value is None:
            continue
        for item in value if isinstance(value, list | tuple) else [value]:
            params.append((key, str(item)))
    return "?" + "&".join(f"{quote(k)}={quote(v, safe='')}" for k, v in params)


templates.filters["time"] = fmt_time
templates.filters["date"] = fmt_date
templates.globals["query_with"] = query_with


def from_json(text: str) -> dict[str, Any]:
    """Parse stored JSON for display (an empty dict when it is not an object)."""
    import json

    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


templates.filters["fromjson"] = from_json
