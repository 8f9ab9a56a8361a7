"""One server per test, on SQLite and on PostgreSQL (a fresh database cloned from a migrated
template), with the first admin created through `init_server`."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.helpers.env import reachable, unavailable
from tests.server.helpers import PG_ADMIN_URL, pg_create, pg_drop

ADMIN_PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from stackwarden.server.db import Database
    from stackwarden.server.db.migrate import upgrade

    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    db = Database(f"sqlite:///{path}")
    upgrade(db.engine)
    with db.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    db.dispose()
    return path


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    from stackwarden.server.db import Database
    from stackwarden.server.db.migrate import upgrade

    if not reachable("127.0.0.1", 5432, timeout=2):
        yield ""
        return
    name = f"sw_tmpl_{uuid.uuid4().hex[:10]}"
    url = pg_create(name)
    db = Database(url)
    upgrade(db.engine)
    db.dispose()
    yield name
    pg_drop(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
                 ) -> Iterator[str]:
    if request.param == "sqlite":
        target = tmp_path / "server.db"
        shutil.copy(sqlite_template, target)
        yield f"sqlite:///{target}"
        return
    template = request.getfixturevalue("pg_template")
    if not template:
        unavailable(f"PostgreSQL is not reachable at {PG_ADMIN_URL}")
    name = f"sw_test_{uuid.uuid4().hex[:12]}"
    url = pg_create(name, template=template)
    yield url
    pg_drop(name)


@dataclass
class Server:
    """A running app (in-process, through TestClient) and its first admin's token."""

    client: TestClient
    ctx: Any
    token: str
    url: str
    tmp: Path

    @property
    def backend(self) -> str:
        return "postgresql" if self.url.startswith("postgresql") else "sqlite"

    def auth(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token}"}

    def get(self, path: str, token: str | None = None, **kw: Any) -> Any:
        return self.client.get(path, headers=self.auth(token), **kw)

    def post(self, path: str, token: str | None = None, **kw: Any) -> Any:
        return self.client.post(path, headers={**self.auth(token), **kw.pop("headers", {})},
                                **kw)

    def user(self, username: str, role: str) -> str:
        """Create a user with `role` and return a session token for them."""
        password = f"{username}-password-long-enough"
        made = self.post("/api/v1/users", json={"username": username, "password": password,
                                                "role": role})
        assert made.status_code == 201, made.text
        login = self.client.post("/api/v1/auth/login",
                                 json={"username": username, "password": password})
        assert login.status_code == 200, login.text
        return str(login.json()["token"])


def make_server(url: str, tmp: Path, **settings: Any) -> Iterator[Server]:
    from stackwarden.server.app import create_app
    from stackwarden.server.bootstrap import init_server
    from stackwarden.server.context import ServerContext
    from stackwarden.server.settings import ServerSettings

    config = ServerSettings(database_url=url, data_dir=tmp / "data", **settings)
    ctx = ServerContext.open(config, migrate=True)
    token = init_server(ctx, "admin", ADMIN_PASSWORD).token
    try:
        with TestClient(create_app(ctx=ctx)) as client:
            yield Server(client, ctx, token, url, tmp)
    finally:
        ctx.close()


@pytest.fixture()
def server(database_url: str, tmp_path: Path) -> Iterator[Server]:
    yield from make_server(database_url, tmp_path, checkpoint_every=5)


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2 with test-sized costs (the server's defaults take ~0.3 s a hash here)."""
    from argon2 import PasswordHasher

    from stackwarden.server import auth

    hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(auth, "_hasher", hasher)
    monkeypatch.setattr(auth, "_DUMMY_HASH", hasher.hash("dummy"))
