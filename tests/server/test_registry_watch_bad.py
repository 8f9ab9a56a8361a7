"""Registries that misbehave: down, slow, 401, 429 with Retry-After, 5xx, malformed manifests.

Each sweep retries with back-off, goes on with the other repositories, and shows the error on
the registry; an image whose manifest is malformed is a failed image with its error.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stackwarden.artifact.build import write_oci_layout
from tests.helpers.registry import FakeRegistry, Reply, SeenRequest, free_port, \
    layout_responder
from tests.server.conftest import Server, make_server
from tests.server.regwatch_helpers import app_image, build_vulndb, osv_alpine, wait_for

JSON = {"Content-Type": "application/json"}
BROKEN_DIGEST = "sha256:" + "b" * 64


@pytest.fixture()
def server(tmp_path: Path, sqlite_template: Path) -> Iterator[Server]:
    db = tmp_path / "server.db"
    shutil.copy(sqlite_template, db)
    vulndb = tmp_path / "vulndb.sqlite"
    build_vulndb(vulndb, [osv_alpine("ALPINE-TEST-MUSL", "musl", "1.2.5-r1")])
    yield from make_server(f"sqlite:///{db}", tmp_path, registry_watch=False,
                           registry_timeout=1.0, registry_retries=2, registry_backoff=0.05,
                           vulndb_path=vulndb)


def _add(server: Server, host: str, **extra: Any) -> int:
    made = server.post("/api/v1/registries", json={"url": f"http://{host}", "interval": "1h",
                                                   **extra})
    assert made.status_code == 201, made.text
    return int(made.json()["id"])


def _swept(server: Server, rid: int, *, after: str | None = None) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        reg = server.get(f"/api/v1/registries/{rid}").json()
        finished = reg["sweep"]["last_finished"]
        settled = reg["sweep"]["state"] in ("ok", "error") and finished
        return reg if settled and (after is None or finished >= after) else None
    return dict(wait_for(f"registry {rid}'s sweep", done, timeout=60))


def test_misbehaving_repositories_do_not_stop_the_sweep(server: Server, tmp_path: Path) -> None:
    layout = tmp_path / "good"
    write_oci_layout(layout, app_image({"musl": "1.2.5-r0"}, "good"), tag="v1")
    good = layout_responder(layout, "good/app", "v1")
    calls: dict[str, int] = {}

    def respond(request: SeenRequest) -> Reply:
        path = request.path
        calls[path] = calls.get(path, 0) + 1
        if path.startswith("/v2/_catalog"):
            if calls[path] == 1 and "last=" not in path:
                return 429, {"Retry-After": "1", **JSON}, b'{"errors":[]}'
            if "last=" not in path:  # page 1 of 2 (Link pagination)
                return 200, {**JSON, "Link": '</v2/_catalog?last=five%2Frepo&n=100>; '
                             'rel="next"'}, b'{"repositories":["broken/manifest","five/repo"]}'
            return 200, JSON, b'{"repositories":["good/app","slow/repo","Not Valid"]}'
        if path.startswith("/v2/five/repo/tags/list"):
            return 503, JSON, b'{"errors":[{"code":"UNAVAILABLE","message":"backend down"}]}'
        if path.startswith("/v2/slow/repo/"):
            return None  # accepts, never answers
        if path.startswith("/v2/broken/manifest/tags/list"):
            return 200, JSON, b'{"name":"broken/manifest","tags":["1"]}'
        if path.startswith("/v2/broken/manifest/manifests/"):
            return 200, {"Content-Type": "application/vnd.oci.image.manifest.v1+json",
                         "Docker-Content-Digest": BROKEN_DIGEST}, b"{not json"
        if path.startswith("/v2/good/app/tags/list"):
            return 200, JSON, b'{"name":"good/app","tags":["v1"]}'
        return good(request)

    fake = FakeRegistry(respond)
    try:
        rid = _add(server, fake.host)
        started = time.monotonic()
        reg = _swept(server, rid)
        assert time.monotonic() - started >= 1.0  # Retry-After was honoured
        assert reg["sweep"]["state"] == "error"
        problems = {p["repository"]: p["error"] for p in reg["sweep"]["problems"]}
        assert set(problems) == {"Not Valid", "five/repo", "slow/repo"}
        assert "HTTP 503" in problems["five/repo"] and "UNAVAILABLE" in problems["five/repo"]
        assert "within 1s" in problems["slow/repo"]
        assert calls["/v2/five/repo/tags/list?n=100"] == 3  # first try + 2 retries
        assert "five/repo" in reg["sweep"]["last_error"]
        assert reg["counts"]["repositories"] == 4 and reg["counts"]["tags"] == 2
        done = wait_for("both images to be scanned or failed", lambda: (
            r := server.get(f"/api/v1/registries/{rid}").json())["counts"]["queued"] == 0 and r)
        assert done["counts"]["scanned"] == 1 and done["counts"]["failed"] == 1
        failed = done["failed_images"]
        assert [f["digest"] for f in failed] == [BROKEN_DIGEST]
        assert "not JSON" in failed[0]["error"] or "JSON" in failed[0]["error"]
        scanned = server.get(f"/api/v1/registries/{rid}/images",
                             params={"state": "scanned"}).json()["items"]
        assert [(i["repository"], i["tags"]) for i in scanned] == [("good/app", ["v1"])]
    finally:
        fake.close()


@pytest.mark.parametrize(("script", "expected"), [
    (lambda r: (401, {"WWW-Authenticate": 'Basic realm="x"', **JSON}, b"{}"),
     "requires authentication (HTTP 401)"),
    (lambda r: (500, JSON, b'{"errors":[{"code":"UNKNOWN","message":"boom"}]}'),
     "HTTP 500"),
    (lambda r: (429, {"Retry-After": "3600", **JSON}, b"{}"), "longer than we wait"),
    (lambda r: (200, JSON, b"{}") if r.path == "/v2/" else (200, JSON, b"[1, 2"),
     "not JSON"),
])
def test_registry_level_failures_are_shown(server: Server, script: Any, expected: str) -> None:
    fake = FakeRegistry(script)
    try:
        rid = _add(server, fake.host)
        reg = _swept(server, rid)
        assert reg["sweep"]["state"] == "error"
        assert expected in reg["sweep"]["last_error"], reg["sweep"]["last_error"]
        alerts = server.get("/api/v1/registry-alerts",
                            params={"kind": "registry.sweep_failed"}).json()["items"]
        assert alerts and alerts[0]["registry_id"] == rid
    finally:
        fake.close()


def test_a_down_registry_stays_visible_across_sweeps(server: Server) -> None:
    port = free_port()
    rid = _add(server, f"127.0.0.1:{port}")
    reg = _swept(server, rid)
    assert reg["sweep"]["state"] == "error" and "Connection refused" in reg["sweep"]["last_error"]
    empty = FakeRegistry(lambda r: (200, JSON, b'{"repositories":[]}'))
    try:
        # another registry answering meanwhile does not hide the first one's error
        other = _add(server, empty.host)
        assert _swept(server, other)["sweep"]["state"] == "ok"
        again = server.post(f"/api/v1/registries/{rid}/sweep")
        assert again.status_code == 202
        reg = _swept(server, rid, after=reg["sweep"]["last_finished"])
        assert reg["sweep"]["state"] == "error" and reg["sweep"]["last_success"] is None
    finally:
        empty.close()


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"url": "ftp://registry.example"}, 422, "invalid_registry"),
    ({"url": "http://registry.example"}, 422, "invalid_registry"),  # plain HTTP, not loopback
    ({"url": "registry.example/path"}, 422, "invalid_registry"),
    ({"url": "registry.example", "interval": "5s"}, 422, "invalid_registry"),
    ({"url": "registry.example", "interval": "soon"}, 422, "invalid_registry"),
    ({"url": "registry.example", "password": "x"}, 422, "invalid_registry"),
    ({"url": "registry.example", "ca_cert": "not pem"}, 422, "invalid_registry"),
    ({"url": "registry.example", "scanners": ["nope"]}, 422, "invalid_registry"),
    ({"url": "registry.example", "include": ["a b"]}, 422, "invalid_registry"),
])
def test_bad_registry_input_is_one_clear_error(server: Server, body: dict[str, Any],
                                               status: int, code: str) -> None:
    answer = server.post("/api/v1/registries", json=body)
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["code"] == code
    assert len(answer.json()["error"]["message"].splitlines()) == 1
    assert server.get("/api/v1/registries").json()["items"] == []


def test_only_admins_add_registries_and_readers_see_no_secrets(server: Server) -> None:
    dev = server.user("dev", "developer")
    url = f"127.0.0.1:{free_port()}"  # nothing listens: the first sweep fails, offline
    refused = server.post("/api/v1/registries", token=dev, json={"url": url})
    assert refused.status_code == 403
    made = server.post("/api/v1/registries", json={
        "url": url, "username": "u", "password": "p4ssword-value"})
    assert made.status_code == 201
    listed = server.get("/api/v1/registries", token=dev)
    assert listed.status_code == 200
    text = json.dumps(listed.json())
    assert "p4ssword-value" not in text and made.json()["notification"]["token"] not in text
    assert server.post(f"/api/v1/registries/{made.json()['id']}/sweep",
                       token=dev).status_code == 403


def test_harbor_webhook_queues_a_scan_at_once(server: Server, tmp_path: Path) -> None:
    layout = tmp_path / "harbor"
    write_oci_layout(layout, app_image({"musl": "1.2.5-r0"}, "harbor"), tag="2.0")
    digest = json.loads((layout / "index.json").read_text())["manifests"][0]["digest"]
    respond = layout_responder(layout, "library/web", "2.0")
    fake = FakeRegistry(lambda r: (200, JSON, b'{"repositories":[]}')
                        if r.path.startswith("/v2/_catalog") else respond(r))
    try:
        made = server.post("/api/v1/registries", json={"url": fake.host, "interval": "1h"})
        rid, token = made.json()["id"], made.json()["notification"]["token"]
        _swept(server, rid)  # the catalog is empty: nothing found by sweeping
        webhook = {"type": "PUSH_ARTIFACT", "occur_at": 1700000000, "operator": "ci",
                   "event_data": {"resources": [{"digest": digest, "tag": "2.0",
                                                 "resource_url": f"{fake.host}/library/web:2.0"}],
                                  "repository": {"name": "web", "namespace": "library",
                                                 "repo_full_name": "library/web",
                                                 "repo_type": "private"}}}
        path = f"/api/v1/registry-notifications/{rid}"
        answer = server.client.post(path, json=webhook, headers={"Authorization": token})
        assert answer.status_code == 202, answer.text
        assert answer.json()["format"] == "harbor" and answer.json()["queued"] == 1
        again = server.client.post(path, json=webhook,
                                   headers={"Authorization": f"Bearer {token}"})
        assert again.json()["queued"] == 0  # the digest is already queued or scanned
        wait_for("the pushed image's scan", lambda: server.get(
            f"/api/v1/registries/{rid}").json()["counts"]["scanned"] == 1)
        malformed = server.client.post(path, content=b"{]", headers={"Authorization": token})
        assert malformed.status_code == 422
        assert malformed.json()["error"]["code"] == "malformed_notification"
    finally:
        fake.close()


def test_scheduler_queues_a_due_sweep_once(server: Server) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from stackwarden.server.auth import utcnow
    from stackwarden.server.db.registry_models import WatchedRegistry
    from stackwarden.server.registry_scheduler import WatchScheduler

    fake = FakeRegistry(lambda r: (200, JSON, b'{"repositories":[]}'))
    try:
        rid = _add(server, fake.host)
        _swept(server, rid)
        scheduler = WatchScheduler(server.ctx)
        assert scheduler.tick()["sweeps"] == []  # the next sweep is an hour away
        with server.ctx.db.transaction() as session:
            session.execute(update(WatchedRegistry).values(
                next_sweep_at=utcnow() - timedelta(seconds=1)))
        queued = scheduler.tick()["sweeps"]
        assert len(queued) == 1
        assert scheduler.tick()["sweeps"] == []  # claimed: not queued twice
        job = wait_for("the scheduled sweep", lambda: (j := server.get(
            f"/api/v1/jobs/{queued[0]}").json())["state"] == "succeeded" and j)
        assert job["result"]["registry_id"] == rid
        reg = server.get(f"/api/v1/registries/{rid}").json()
        assert reg["sweep"]["next"] > reg["sweep"]["last_finished"]
    finally:
        fake.close()
