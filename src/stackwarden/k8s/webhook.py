"""The webhook over HTTPS: a small Starlette app served by Uvicorn with TLS.

Routes: `POST /validate` (AdmissionReview v1), `GET /healthz`, `GET /readyz`, `GET /metrics`
(Prometheus). Every POST to the review path gets HTTP 200 and a well-formed AdmissionReview,
even for garbage: an HTTP error would leave the API server to its failurePolicy with no
reason a user can read. The serving certificate is re-read when its files change
(cert-manager rotates the Secret in place), without a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from stackwarden.k8s.admission import AdmissionController
from stackwarden.k8s.review import MAX_BODY_BYTES, MalformedReview, build_response, recover_uid

log = logging.getLogger("stackwarden.admission")
DEFAULT_PATH = "/validate"
DEFAULT_PORT = 8443
CERT_CHECK_SECONDS = 30.0
_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class WebhookMetrics:
    """Prometheus metrics of one webhook process."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.reviews = Counter("stackwarden_admission_reviews", "Admission reviews answered",
                               ["verdict", "allowed", "mode"], registry=self.registry)
        self.latency = Histogram("stackwarden_admission_review_seconds",
                                 "Time to decide one admission review", buckets=_BUCKETS,
                                 registry=self.registry)
        self.images = Counter("stackwarden_admission_image_lookups",
                              "Image verdict lookups by origin", ["origin", "found"],
                              registry=self.registry)


async def _read_body(request: Request) -> bytes:
    """The body, cut just past the limit (parse_review then refuses it, keeping the uid)."""
    chunks, size = [], 0
    async for chunk in request.stream():
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            break
    return b"".join(chunks)


def create_app(controller: AdmissionController, *, path: str = DEFAULT_PATH,
               metrics: WebhookMetrics | None = None, ready: Any = None,
               lifespan: Any = None) -> Starlette:
    """The ASGI app: the review route, health, readiness and metrics."""
    metrics = metrics or WebhookMetrics()
    blocking = controller.store.may_block

    async def validate(request: Request) -> Response:
        body = b""
        try:
            body = await _read_body(request)
            # In-memory verdicts take well under a millisecond: decide on the event loop. A
            # server source may wait on the network for a cold miss: decide in a thread then.
            review = await run_in_threadpool(controller.review, body) if blocking \
                else controller.review(body)
        except Exception:  # the controller never raises; this is the last net (client gone …)
            log.exception("answering an admission review failed")
            audit = controller.policy.mode == "audit"
            failure = MalformedReview("internal error in the webhook (see its log)",
                                      recover_uid(body))
            return JSONResponse(build_response(failure.uid, audit, message=failure.reason,
                                               code=400))
        decision = review.decision
        metrics.reviews.labels(decision.verdict, str(decision.allowed).lower(),
                               decision.mode).inc()
        metrics.latency.observe(decision.duration_ms / 1000)
        for image in decision.images:
            if "scanned" in image:
                metrics.images.labels(image.get("origin") or "none",
                                      str(image["scanned"]).lower()).inc()
        return Response(json.dumps(review.response, separators=(",", ":")).encode(),
                        media_type="application/json")

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        ok = ready() if ready is not None else True
        return JSONResponse({"status": "ok" if ok else "starting"}, status_code=200 if ok else 503)

    async def metrics_route(request: Request) -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    routes = [Route(path, validate, methods=["POST"]), Route("/healthz", healthz),
              Route("/readyz", readyz), Route("/metrics", metrics_route)]
    return Starlette(routes=routes, lifespan=lifespan)


@dataclass
class TLSFiles:
    """The serving certificate and key, re-read into the live SSL context when they change."""

    cert: Path
    key: Path
    stamp: tuple[int, int] = (0, 0)

    def current(self) -> tuple[int, int]:
        """Modification times of both files (0 when missing)."""
        def mtime(path: Path) -> int:
            try:
                return os.stat(path).st_mtime_ns
            except OSError:
                return 0
        return mtime(self.cert), mtime(self.key)

    def reload_if_changed(self, context: Any) -> bool:
        """Load the new pair into `context` (new handshakes use it); keep the old on error."""
        now = self.current()
        if now == self.stamp or 0 in now:
            return False
        try:
            context.load_cert_chain(str(self.cert), str(self.key))
        except (OSError, ValueError) as exc:  # e.g. caught mid-rotation: try again next time
            log.warning("serving certificate not reloaded: %s", exc)
            return False
        self.stamp = now
        log.info("serving certificate reloaded from %s", self.cert)
        return True


def serve(controller: AdmissionController, *, cert: Path, key: Path, host: str = "127.0.0.1",
          port: int = DEFAULT_PORT, path: str = DEFAULT_PATH, log_level: str = "info",
          on_started: Any = None) -> None:
    """Run the webhook over HTTPS until interrupted (blocks)."""
    import uvicorn

    tls = TLSFiles(cert, key)
    holder: dict[str, Any] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        tls.stamp = tls.current()
        controller.store.start()

        async def watch() -> None:
            while True:
                await asyncio.sleep(CERT_CHECK_SECONDS)
                context = getattr(holder.get("config"), "ssl", None)
                if context is not None:
                    tls.reload_if_changed(context)

        task = asyncio.create_task(watch())
        if on_started is not None:
            on_started()
        try:
            yield
        finally:
            task.cancel()

    app = create_app(controller, path=path, lifespan=lifespan)
    config = uvicorn.Config(app, host=host, port=port, ssl_certfile=str(cert),
                            ssl_keyfile=str(key), log_level=log_level, access_log=False,
                            proxy_headers=False, server_header=False, timeout_keep_alive=30,
                            lifespan="on")
    holder["config"] = config
    try:
        uvicorn.Server(config).run()
    finally:
        controller.close()
