"""A real server for agent tests: uvicorn on loopback in a thread of the test process (quick to
start and stop), on the embedded database, with the first admin created."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

ADMIN_PASSWORD = "correct horse battery staple"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    """A server listening on http://127.0.0.1:PORT, its context and an admin token."""

    url: str
    port: int
    ctx: Any
    token: str
    uvicorn: Any = None
    thread: threading.Thread | None = None

    def api(self, method: str, path: str, **kw: Any) -> httpx.Response:
        return httpx.request(method, f"{self.url}{path}", timeout=30,
                             headers={"Authorization": f"Bearer {self.token}"}, **kw)

    def enrollment_token(self, expires_in: float = 600) -> str:
        made = self.api("POST", "/api/v1/agents/enrollment-tokens",
                        json={"expires_in": expires_in})
        assert made.status_code == 201, made.text
        return str(made.json()["token"])

    def start(self) -> None:
        """Listen (again) on the same port."""
        import uvicorn

        from stackwarden.server.app import create_app

        config = uvicorn.Config(create_app(ctx=self.ctx), host="127.0.0.1", port=self.port,
                                log_level="warning", lifespan="on")
        self.uvicorn = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.uvicorn.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.uvicorn.started:
            assert time.monotonic() < deadline and self.thread.is_alive(), "server never started"
            time.sleep(0.02)

    def stop(self) -> None:
        """Stop listening (the database stays)."""
        if self.uvicorn is not None and self.thread is not None:
            self.uvicorn.should_exit = True
            self.thread.join(timeout=30)
            self.uvicorn = self.thread = None


def live_server(tmp: Path, **settings: Any) -> Iterator[LiveServer]:
    from stackwarden.server.bootstrap import init_server
    from stackwarden.server.context import ServerContext
    from stackwarden.server.settings import ServerSettings

    config = ServerSettings(data_dir=tmp / "server", **settings)
    ctx = ServerContext.open(config, migrate=True)
    token = init_server(ctx, "admin", ADMIN_PASSWORD).token
    port = free_port()
    server = LiveServer(f"http://127.0.0.1:{port}", port, ctx, token)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        ctx.close()


@pytest.fixture()
def live(tmp_path: Path) -> Iterator[LiveServer]:
    yield from live_server(tmp_path)


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2 with test-sized costs."""
    from argon2 import PasswordHasher

    from stackwarden.server import auth

    hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(auth, "_hasher", hasher)
    monkeypatch.setattr(auth, "_DUMMY_HASH", hasher.hash("dummy"))


class Misbehaving:
    """A plain HTTP server on loopback answering every request with one fixed response (what
    a broken proxy or a crashed upstream looks like to the agent)."""

    def __init__(self, status: int, body: bytes, content_type: str = "text/html") -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                self.rfile.read(length)
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = _answer  # noqa: N815

            def log_message(self, *_args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
