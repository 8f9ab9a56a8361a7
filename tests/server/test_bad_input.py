"""Bad input gets a 4xx JSON error naming the problem; ingestion is all-or-nothing; a lost
database gives 503 and the server recovers without a restart."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import func, select

from tests.server.conftest import Server, make_server
from tests.server.helpers import PG_ADMIN_URL, body, finding, report

JSON = {"Content-Type": "application/json"}
GOOD = report([finding("a")])


def without(doc: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k != key}


def with_finding(**changes: Any) -> dict[str, Any]:
    return report([{**finding("a"), **changes}])


# (case, body bytes, headers, status, error code, words in the message)
CASES: list[tuple[str, bytes, dict[str, str], int, str, str]] = [
    ("not JSON", b"{not json", JSON, 400, "malformed_json", "line 1 column 2"),
    ("not UTF-8", b"\xff\xfe{}", JSON, 400, "malformed_json", "UTF-8"),
    ("empty body", b"", JSON, 400, "empty_body", "empty"),
    ("a JSON array", b"[]", JSON, 422, "schema_violation", "JSON object"),
    ("no findings key", body(without(GOOD, "findings")), JSON, 422, "schema_violation",
     "findings"),
    ("no artifact", body(without(GOOD, "artifact")), JSON, 422, "schema_violation", "artifact"),
    ("newer major version", body({**GOOD, "schema_version": "2.0"}), JSON, 422,
     "schema_violation", "unsupported schema_version"),
    ("bad severity", body(with_finding(severity="apocalyptic")), JSON, 422, "schema_violation",
     "findings.0.severity"),
    ("no fingerprint", body(report([without(finding("a"), "fingerprint")])), JSON, 422,
     "schema_violation", "findings.0.fingerprint"),
    ("fingerprint of wrong type", body(with_finding(fingerprint=["x"])), JSON, 422,
     "schema_violation", "findings.0.fingerprint"),
    ("wrong content type", body(GOOD), {"Content-Type": "text/plain"}, 415,
     "unsupported_media_type", "application/json"),
    ("too large", b"{" + b" " * 5000 + b"}", JSON, 413, "too_large", "4096 bytes"),
]


@pytest.fixture()
def small_server(database_url: str, tmp_path: Path) -> Iterator[Server]:
    yield from make_server(database_url, tmp_path, max_report_bytes=4096)


@pytest.mark.parametrize(("data", "headers", "status", "code", "words"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_submissions(small_server: Server, data: bytes, headers: dict[str, str],
                         status: int, code: str, words: str) -> None:
    r = small_server.post("/api/v1/scans", content=data, headers=headers)
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["code"] == code and words in json.dumps(error), error
    assert count_rows(small_server) == (0, 0)


def test_unknown_keys_are_kept(server: Server) -> None:
    doc = report([{**finding("a"), "reachability": {"reachable": False}}],
                 compliance={"pci": ["6.3.3"]})
    assert server.post("/api/v1/scans", json=doc).status_code == 201
    item = server.get("/api/v1/findings").json()["items"][0]
    full = server.get(f"/api/v1/findings/{item['id']}").json()
    assert full["finding"]["reachability"] == {"reachable": False}


def count_rows(server: Server) -> tuple[int, int]:
    from stackwarden.server.db.models import FindingRow, Scan

    with server.ctx.db.session() as session:
        return (session.execute(select(func.count()).select_from(Scan)).scalar_one(),
                session.execute(select(func.count()).select_from(FindingRow)).scalar_one())


def test_failed_ingestion_leaves_nothing(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    from stackwarden.server.db.models import Asset, AuditEntryRow

    with server.ctx.db.session() as session:
        entries_before = session.execute(select(func.count()).select_from(AuditEntryRow)
                                         ).scalar_one()

    def crash(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("disk on fire")  # after the scan and findings rows were written

    monkeypatch.setattr(server.ctx.audit, "append", crash)
    rows = [finding(f"f{i}") for i in range(500)]
    from fastapi.testclient import TestClient

    client = TestClient(server.client.app, raise_server_exceptions=False)
    r = client.post("/api/v1/scans", json=report(rows), headers=server.auth())
    assert r.status_code == 500 and r.json()["error"]["code"] == "internal_error"
    assert "disk on fire" not in r.text
    assert count_rows(server) == (0, 0)
    with server.ctx.db.session() as session:
        assert session.execute(select(func.count()).select_from(Asset)).scalar_one() == 0
        assert session.execute(select(func.count()).select_from(AuditEntryRow)
                               ).scalar_one() == entries_before


def test_bad_parameters_are_4xx(server: Server) -> None:
    for path, params in [("/api/v1/findings", {"severity": "bad"}),
                         ("/api/v1/findings", {"limit": 0}),
                         ("/api/v1/findings", {"limit": 10**6}),
                         ("/api/v1/findings", {"asset_id": 2**70}),
                         ("/api/v1/findings/99999999999999999999999", {}),
                         ("/api/v1/scans/0", {}),
                         ("/api/v1/nowhere", {})]:
        r = server.get(path, params=params)
        assert 400 <= r.status_code < 500, (path, params, r.status_code)
        assert "error" in r.json()


def _pg_set_connections(dbname: str, allow: bool) -> None:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"ALTER DATABASE {dbname} WITH ALLOW_CONNECTIONS {str(allow).lower()}")
        if not allow:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                         "WHERE datname = %s AND pid <> pg_backend_pid()", (dbname,))


# The embedded SQLite database has no connection to lose: PostgreSQL only.
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_lost_database_gives_503_then_recovers(server: Server) -> None:
    dbname = server.url.rsplit("/", 1)[1]
    assert server.get("/api/v1/findings").status_code == 200
    # connections killed under the server: the pool notices and reconnects by itself
    _pg_set_connections(dbname, allow=False)
    _pg_set_connections(dbname, allow=True)
    assert server.get("/api/v1/findings").status_code == 200
    # the database refusing connections: 503 with a JSON body, never a traceback
    _pg_set_connections(dbname, allow=False)
    try:
        for path in ("/api/v1/findings", "/readyz"):
            r = server.get(path)
            assert r.status_code == 503, (path, r.text)
            assert r.json()["error"]["code"] == "database_unavailable"
        r = server.post("/api/v1/scans", json=GOOD)
        assert r.status_code == 503
    finally:
        _pg_set_connections(dbname, allow=True)
    # back without a restart
    assert server.get("/readyz").status_code == 200
    assert server.post("/api/v1/scans", json=GOOD).status_code == 201
