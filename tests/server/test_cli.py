"""The commands as a user runs them: server init/migrate, a real server process, `scan --server`
uploading, `audit export` and `audit verify` (database and offline bundle), `worker` on Celery."""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from stackwarden.server.db.migrate import head_revision
from tests.helpers.env import reachable, unavailable
from tests.server.conftest import make_server
from tests.server.helpers import finding, report
from tests.vulndb.helpers import make_db, osv

CLI = [sys.executable, "-m", "stackwarden"]
PASSWORD = "a long enough admin password"


@dataclass
class Done:
    """What a command did (the CLI runs in-process: starting Python costs seconds here)."""

    returncode: int
    stdout: str
    stderr: str


def run(*args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> Done:
    from typer.testing import CliRunner

    from stackwarden.cli.main import app

    result = CliRunner().invoke(app, list(args), input=stdin, env=env, catch_exceptions=False)
    return Done(result.exit_code, result.stdout, result.stderr)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} never answered")


@pytest.fixture()
def initialised(database_url: str, tmp_path: Path) -> tuple[list[str], str]:
    flags = ["--database-url", database_url, "--data-dir", str(tmp_path / "data")]
    done = run("server", "init", "--password-stdin", *flags, stdin=PASSWORD + "\n")
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip()
    assert token.startswith("swt_") and "shown once" in done.stderr
    again = run("server", "init", "--password-stdin", *flags, stdin=PASSWORD + "\n")
    assert again.returncode == 2 and "already has users" in again.stderr
    from stackwarden.server.db.migrate import head_revision

    migrated = run("server", "migrate", *flags)
    head = head_revision()  # the newest migration, whichever branch added it
    assert migrated.returncode == 0 and migrated.stdout.strip() == \
        f"database schema: {head} -> {head}"
    return flags, token


@pytest.fixture()
def server_process(initialised: tuple[list[str], str]) -> Iterator[tuple[str, list[str], str]]:
    flags, token = initialised
    port = free_port()
    proc = subprocess.Popen([*CLI, "server", "--port", str(port), *flags],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/healthz")
        yield url, flags, token
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
        assert token not in out and token.split("_", 2)[2] not in out  # never logged


# A real server process on the embedded database (the API on PostgreSQL is covered in-process
# by every other test; starting processes is what costs time here).
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_scan_uploads_then_audit_export_and_verify(server_process: tuple[str, list[str], str],
                                                    tmp_path: Path) -> None:
    url, flags, token = server_process
    from stackwarden.server.client import UploadError, upload_report

    sent = upload_report(url, token, json.dumps(report([finding("a")])).encode())
    assert sent["new"] == 1
    headers = {"Authorization": f"Bearer {token}"}
    wrong = token[:-4] + "AAAA"
    with pytest.raises(UploadError, match="401") as refused:
        upload_report(url, wrong, json.dumps(report([])).encode())
    assert wrong not in str(refused.value)
    if importlib.util.find_spec("stackwarden.vulndb.versions") is not None:
        scan_and_upload(url, token, tmp_path)
    # metrics and OpenAPI need a token too
    assert httpx.get(f"{url}/metrics").status_code == 401
    metrics = httpx.get(f"{url}/metrics", headers=headers).text
    assert "stackwarden_audit_chain_length" in metrics
    assert 'stackwarden_findings_open{severity="high"} 1.0' in metrics
    assert "/api/v1/scans" in httpx.get(f"{url}/api/openapi.json", headers=headers).text

    # evidence: through the API and straight from the database; both verify offline
    via_api, via_db = tmp_path / "api.zip", tmp_path / "db.zip"
    got = run("audit", "export", "-o", str(via_api), "--server", url, "--token", token)
    assert got.returncode == 0, got.stderr
    got = run("audit", "export", "-o", str(via_db), *flags)
    assert got.returncode == 0, got.stderr
    key_pem = tmp_path / "server-key.pem"
    from stackwarden.audit.signing import load_or_create_signing_key, public_key_pem

    data_dir = Path(flags[flags.index("--data-dir") + 1])
    key_pem.write_text(public_key_pem(
        load_or_create_signing_key(data_dir / "audit-signing-key.pem").public_key()))
    for bundle in (via_api, via_db):
        ok = run("audit", "verify", str(bundle), "--public-key", str(key_pem))
        assert ok.returncode == 0, ok.stdout + ok.stderr
        assert ok.stdout.startswith("audit log intact")
    ok = run("audit", "verify", *flags, "--json")
    assert ok.returncode == 0 and json.loads(ok.stdout)["ok"] is True

    # tamper with the database: the CLI names the entry
    from stackwarden.server.db import Database

    database = Database(flags[1])
    with database.engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("DROP TRIGGER audit_entries_no_update")
        else:
            conn.exec_driver_sql("DROP TRIGGER audit_entries_append_only ON audit_entries")
        conn.execute(text("UPDATE audit_entries SET actor = 'mallory' WHERE seq = 2"))
    database.dispose()
    bad = run("audit", "verify", *flags)
    assert bad.returncode == 1 and "first bad entry is seq 2" in bad.stdout, bad.stdout
    unreadable = run("audit", "verify", str(tmp_path / "nope.zip"))
    assert unreadable.returncode == 3 and "nope.zip" in unreadable.stderr


def scan_and_upload(url: str, token: str, tmp_path: Path) -> None:
    """`stackwarden scan --server` (once the matcher's version schemes are merged)."""
    db = make_db(tmp_path, [osv("GHSA-test-0001", "PyPI", "requests", ("introduced", "0"),
                                ("fixed", "2.31.0"), aliases=("CVE-2023-32681",))])
    db.close()
    project = tmp_path / "project"
    project.mkdir()
    (project / "requirements.txt").write_text("requests==2.0.0\n")
    done = run("scan", f"dir:{project}", "--db", str(db.path), "-f", "json", "-o",
               str(tmp_path / "r.json"), "-q", "--server", url, env={"STACKWARDEN_TOKEN": token})
    assert done.returncode == 0, done.stderr
    assert "uploaded to" in done.stderr and "1 new" in done.stderr
    items = httpx.get(f"{url}/api/v1/findings",
                      headers={"Authorization": f"Bearer {token}"}).json()["items"]
    # one finding per vulnerability, shown under its CVE (the GHSA is an alias)
    assert ("CVE-2023-32681", "requests") in [(f["vuln_id"], (f["package"] or {}).get("name"))
                                              for f in items]
    wrong = token[:-4] + "AAAA"
    bad = run("scan", f"dir:{project}", "--db", str(db.path), "-q", "--server", url,
              "--token", wrong)
    assert bad.returncode == 3 and "401" in bad.stderr and wrong not in bad.stderr
    missing = run("scan", f"dir:{project}", "--db", str(db.path), "--server", url,
                  env={"STACKWARDEN_TOKEN": ""})
    assert missing.returncode == 2 and "--token" in missing.stderr


def test_bad_configuration_fails_fast(tmp_path: Path) -> None:
    config = tmp_path / "server.toml"
    config.write_text('port = "eighty"\n')
    done = run("server", "migrate", "--config", str(config))
    assert done.returncode == 2 and "port" in done.stderr
    config.write_text("max_report_bytes = 10\nunknown_setting = 1\n")
    done = run("server", "migrate", "--config", str(config))
    assert done.returncode == 2 and "unknown_setting" in done.stderr
    done = run("server", "migrate", "--database-url", "mysql://x/y")
    assert done.returncode == 2 and "unsupported database" in done.stderr
    done = run("worker", "--database-url", f"sqlite:///{tmp_path}/x.db")
    assert done.returncode == 2 and "--broker" in done.stderr


# The distributed deployment: PostgreSQL, Redis, a real `stackwarden worker` process.
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_celery_worker_runs_jobs(database_url: str, tmp_path: Path) -> None:
    if not reachable("127.0.0.1", 6379, timeout=2):
        unavailable("Redis is not reachable at 127.0.0.1:6379")
    broker = "redis://127.0.0.1:6379/0"
    queue = f"sw-test-{uuid.uuid4().hex[:8]}"
    data_dir = tmp_path / "data"
    env = {"STACKWARDEN_SERVER_JOB_QUEUE": queue}
    gen = make_server(database_url, tmp_path, broker_url=broker, job_queue=queue)
    server = next(gen)
    worker = subprocess.Popen([*CLI, "worker", "--database-url", database_url, "--broker",
                               broker, "--data-dir", str(data_dir), "--concurrency", "2"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env={**os.environ, **env})
    try:
        ids = []
        for i in range(3):
            r = server.post("/api/v1/scans", params={"wait": "false"},
                            json=report([finding(f"f{i}")], digest=f"sha256:{i:064d}"))
            assert r.status_code == 202, r.text
            ids.append(r.json()["job"]["id"])
        deadline = time.monotonic() + 60
        states: dict[str, str] = {}
        while time.monotonic() < deadline:
            states = {i: server.get(f"/api/v1/jobs/{i}").json()["state"] for i in ids}
            if all(s in ("succeeded", "failed") for s in states.values()):
                break
            time.sleep(0.2)
        assert set(states.values()) == {"succeeded"}, states
        assert len(server.get("/api/v1/findings").json()["items"]) == 3
        # the worker wrote audit entries with the same signing key: the chain still verifies
        assert server.get("/api/v1/audit/verify").json()["ok"] is True
    finally:
        worker.terminate()
        try:
            worker.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
        next(gen, None)


def test_unreachable_broker_gives_503(database_url: str, tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    gen = make_server(database_url, tmp_path, broker_url=f"redis://127.0.0.1:{port}/0")
    server = next(gen)
    try:
        from stackwarden.server import jobs

        started = time.monotonic()
        r = server.post("/api/v1/scans", params={"wait": "false"}, json=report([finding("a")]))
        assert r.status_code == 503 and r.json()["error"]["code"] == "broker_unavailable"
        assert time.monotonic() - started < 20
        failed = server.get("/api/v1/jobs", params={"state": "failed"}).json()["items"]
        assert len(failed) == 1 and "unreachable" in failed[0]["error"]
        assert jobs.TASKS  # the task registry loaded with the runner
    finally:
        next(gen, None)
