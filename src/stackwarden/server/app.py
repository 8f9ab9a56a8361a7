"""The FastAPI application factory: routers under /api/v1, errors as JSON, metrics, lifespan."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError, SQLAlchemyError
from starlette.exceptions import HTTPException

from stackwarden import __version__
from stackwarden.server.api import (
    admission,
    agents,
    assets,
    audit,
    auth,
    findings,
    hosts,
    jobs,
    registries,
    scans,
    users,
)
from stackwarden.server.api.deps import requires
from stackwarden.server.context import ServerContext
from stackwarden.server.errors import ApiError
from stackwarden.server.metrics import Metrics
from stackwarden.server.settings import ServerSettings

log = logging.getLogger("stackwarden.server")
API = "/api/v1"


def _error(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": {"status": status, "code": code, "message": message, **extra}},
                        status_code=status)


def create_app(settings: ServerSettings | None = None, ctx: ServerContext | None = None,
               *, start_runner: bool = True, start_notifier: bool | None = None) -> FastAPI:
    """Build the API; opens (and migrates) the database unless a context is given.

    `start_notifier` (default: as `start_runner`): run the notification dispatcher thread.
    """
    own_ctx = ctx is None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        context: ServerContext = app.state.ctx
        notifier = None
        if start_runner if start_notifier is None else start_notifier:
            from stackwarden.server.notify import Dispatcher

            notifier = Dispatcher(context).start()
        if start_runner and context.runner is None:
            from stackwarden.server.jobs import InProcessRunner, make_runner

            context.runner = make_runner(context)
            if isinstance(context.runner, InProcessRunner):
                context.runner.resume()
        from stackwarden.server.agents.watch import SilenceWatch

        watcher = None
        if start_runner and context.settings.registry_watch:
            from stackwarden.server.registry_scheduler import WatchScheduler

            watcher = WatchScheduler(context)
            watcher.start()
        watch = SilenceWatch(context).start()
        try:
            yield
        finally:
            if notifier is not None:
                notifier.close()
            watch.close()
            if watcher is not None:
                watcher.stop()
            if own_ctx:
                context.close()
            elif start_runner and context.runner is not None:
                context.runner.close()
                context.runner = None

    if ctx is None:
        ctx = ServerContext.open(settings or ServerSettings())
    app = FastAPI(title="StackWarden", version=__version__, lifespan=lifespan,
                  openapi_url=None, docs_url=None, redoc_url=None,
                  description="Continuous security scanning, monitoring and auditing. Every "
                  "endpoint but /healthz and /readyz needs `Authorization: Bearer swt_…`.")
    app.state.ctx = ctx
    app.state.metrics = metrics = Metrics(ctx.db)
    for module in (auth, users, scans, assets, findings, jobs, audit, admission, registries,
                   agents, hosts):
        app.include_router(module.router, prefix=API)
    from stackwarden.server.web import install as install_dashboard

    install_dashboard(app)
    _install_errors(app)
    _install_operational(app, ctx, metrics)
    return app


def app_from_environment() -> FastAPI:
    """The app for `uvicorn --factory` (each API process reads STACKWARDEN_SERVER_* itself)."""
    from stackwarden.server.settings import load_settings

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: "
                        "%(message)s")
    return create_app(load_settings())


def _install_operational(app: FastAPI, ctx: ServerContext, metrics: Metrics) -> None:
    @app.middleware("http")
    async def measure(request: Request, call_next: Any) -> Response:
        started = time.perf_counter()
        response: Response = await call_next(request)
        route = getattr(request.scope.get("route"), "path", None)
        # routers are included under API; their routes know only their own part of the path
        path = ("unmatched" if route is None else
                API + route if request.url.path.startswith(API + "/") else route)
        metrics.requests.labels(request.method, path, str(response.status_code)).inc()
        metrics.latency.labels(request.method, path).observe(time.perf_counter() - started)
        return response

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        """The process is up (no authentication)."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], responses={503: {"description": "Database down"}})
    def readyz() -> Response:
        """The database answers (no authentication); 503 otherwise."""
        try:
            with ctx.db.session() as session:
                session.execute(text("SELECT 1"))
        except SQLAlchemyError:
            return _error(503, "database_unavailable", "the database is not reachable")
        return JSONResponse({"status": "ready"})

    @app.get("/metrics", tags=["health"], response_class=Response,
             dependencies=[Depends(requires("read"))])
    def prometheus() -> Response:
        """Prometheus metrics (needs a token with `read`; see docs/server.md)."""
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/api/openapi.json", tags=["health"], dependencies=[Depends(requires("read"))])
    def openapi() -> dict[str, Any]:
        """The OpenAPI description of this API."""
        return app.openapi()


def _install_errors(app: FastAPI) -> None:
    from stackwarden.server.web.core import is_page_request, render_error

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        if is_page_request(request):
            return render_error(request, exc.status, exc.message)
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        # Never echo the submitted value: it may be a password or a token.
        problems = [{"loc": ".".join(str(p) for p in err.get("loc", ())),
                     "msg": str(err.get("msg", ""))} for err in exc.errors()[:20]]
        first = problems[0] if problems else {"loc": "", "msg": "invalid request"}
        if is_page_request(request):
            return render_error(request, 422, f"{first['loc']}: {first['msg']}")
        return _error(422, "invalid_request", f"{first['loc']}: {first['msg']}",
                      problems=problems)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if is_page_request(request) and exc.status_code in (404, 405):
            return render_error(request, exc.status_code, "no such page" if
                                exc.status_code == 404 else "method not allowed")
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        response = _error(exc.status_code, code, str(exc.detail))
        for key, value in (exc.headers or {}).items():
            response.headers[key] = value
        return response

    @app.exception_handler(IntegrityError)
    async def conflict(_request: Request, exc: IntegrityError) -> JSONResponse:
        # two submissions raced for the same new row; the loser's transaction rolled back whole
        return _error(409, "conflict", "a concurrent change conflicted with this one; retry")

    @app.exception_handler(DataError)
    async def unstorable(_request: Request, exc: DataError) -> JSONResponse:
        # PostgreSQL refuses what SQLite takes: NUL characters, unpaired surrogates, numbers out
        # of range. The client sent it; the transaction rolled back whole.
        return _error(422, "unstorable_value", "the request holds a value the database cannot "
                      "store (a NUL character, invalid text or an out-of-range number)")

    @app.exception_handler(OperationalError)
    @app.exception_handler(DBAPIError)
    async def database_down(_request: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, OperationalError) or getattr(exc, "connection_invalidated", False):
            log.warning("database unavailable: %s", type(exc.__cause__ or exc).__name__)
            return _error(503, "database_unavailable",
                          "the database is not reachable; retry shortly")
        log.error("database error: %s", type(exc).__name__)
        return _error(500, "internal_error", "internal server error")

    @app.exception_handler(Exception)
    async def crash(_request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled %s", type(exc).__name__, exc_info=exc)
        return _error(500, "internal_error", "internal server error")
