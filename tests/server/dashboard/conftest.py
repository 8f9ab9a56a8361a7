"""Dashboard tests: a server on SQLite (and PostgreSQL where it matters), signed-in clients."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.server.conftest import ADMIN_PASSWORD, Server, make_server

# the server's cookies are Secure: the test client must speak "https" to get them back
BASE = "https://testserver"


SETTINGS = {"checkpoint_every": 5, "notify_retry_seconds": 0.05, "notify_poll_seconds": 0.2}


@pytest.fixture()
def dash(database_url: str, tmp_path: Path) -> Iterator[Server]:
    """A server on SQLite and on PostgreSQL (the pages' SQL must work on both)."""
    yield from make_server(database_url, tmp_path, **SETTINGS)


@pytest.fixture()
def dash_lite(sqlite_template: Path, tmp_path: Path) -> Iterator[Server]:
    """A server on SQLite only (tests about channels, not SQL)."""
    import shutil

    target = tmp_path / "server.db"
    shutil.copy(sqlite_template, target)
    yield from make_server(f"sqlite:///{target}", tmp_path, **SETTINGS)


def csrf_of(html: str) -> str:
    """The CSRF token of the first form on a page."""
    found = re.search(r'name="csrf" value="([^"]*)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


def browser_client(server: Server) -> TestClient:
    """A separate client (own cookie jar) on the same app."""
    return TestClient(server.client.app, base_url=BASE)


def sign_in(server: Server, username: str = "admin", password: str = ADMIN_PASSWORD
            ) -> TestClient:
    """A client holding a dashboard session for `username`."""
    client = browser_client(server)
    form = client.get("/login")
    r = client.post("/login", data={"csrf": csrf_of(form.text), "username": username,
                                    "password": password, "next": "/"},
                    follow_redirects=False)
    assert r.status_code == 303, r.text
    return client


def make_user(server: Server, username: str, role: str) -> str:
    """Create a user through the API; returns the password."""
    password = f"{username}-password-long-enough"
    r = server.post("/api/v1/users", json={"username": username, "password": password,
                                           "role": role})
    assert r.status_code == 201, r.text
    return password


def post_form(client: TestClient, page_path: str, action: str, data: dict[str, Any],
              **kw: Any) -> Any:
    """Load `page_path`, take its CSRF token and post `data` (values may be lists)."""
    token = csrf_of(client.get(page_path).text)
    return client.post(action, data={"csrf": token, **data}, follow_redirects=False, **kw)
