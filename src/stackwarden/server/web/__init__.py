"""The dashboard: server-rendered pages (Jinja2 templates, inline SVG charts, no script) on
the same app as the API, signed in with a session cookie (docs/dashboard.md)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, Response

from stackwarden.server.web.core import HERE, LoginRequired, login_redirect, router

STATIC = HERE / "static"


def install(app: FastAPI) -> None:
    """Add the dashboard's pages, its static files and the login redirect to `app`."""
    # Each page module adds its routes to `router` and its link to the navigation when
    # imported. A new page: one module here, one template (docs/dashboard.md).
    from stackwarden.server.web.pages import (  # noqa: F401
        assets,
        audit,
        compliance,
        findings,
        hosts,
        overview,
        registries,
        session,
        settings,
    )

    app.include_router(router)

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str) -> Response:
        path = STATIC / name
        if "/" in name or name.startswith(".") or not path.is_file():
            return Response("not found", status_code=404, media_type="text/plain")
        return FileResponse(path, headers={"Cache-Control": "public, max-age=3600",
                                           "X-Content-Type-Options": "nosniff"})

    @app.exception_handler(LoginRequired)
    async def login_required(_request: Request, exc: LoginRequired) -> Response:
        return login_redirect(exc.next_path)
