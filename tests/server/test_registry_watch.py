"""Registry monitoring against real docker-registry processes and a live API server.

Images are built by the tests, pushed, discovered (catalog + tags, and push notifications the
registry itself sends), scanned once, re-matched after a database update, and golden builds
diffed. See docs/registry-monitoring.md.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from stackwarden.artifact.registry import RegistryOptions
from stackwarden.cli.main import app as cli
from stackwarden.server.db.models import AuditEntryRow, Job
from tests.helpers.registry import free_port, htpasswd_file, make_tls, run_registry
from tests.server.conftest import ADMIN_PASSWORD
from tests.server.regwatch_helpers import (
    app_image,
    build_vulndb,
    live_server,
    osv_alpine,
    push,
    wait_for,
)

MUSL = osv_alpine("ALPINE-TEST-MUSL", "musl", "1.2.5-r1")
BUSYBOX = osv_alpine("ALPINE-TEST-BUSYBOX", "busybox", "1.36.1-r30", severity="CRITICAL")
V1 = {"musl": "1.2.5-r0", "busybox": "1.36.1-r29"}
V2 = {"musl": "1.2.5-r1", "busybox": "1.36.1-r29", "curl": "8.9.0-r0"}


class Api:
    """A token-carrying client for the live server."""

    def __init__(self, url: str, token: str) -> None:
        self.url, self.token = url, token
        self.http = httpx.Client(base_url=url + "/api/v1", timeout=30,
                                 headers={"Authorization": f"Bearer {token}"})

    def get(self, path: str, **kw: Any) -> Any:
        response = self.http.get(path, **kw)
        assert response.status_code == 200, response.text
        return response.json()

    def registry(self, registry_id: int) -> dict[str, Any]:
        return dict(self.get(f"/registries/{registry_id}"))

    def settled(self, registry_id: int, scanned: int) -> dict[str, Any] | None:
        """The registry once `scanned` images are scanned and nothing is queued."""
        reg = self.registry(registry_id)
        counts = reg["counts"]
        done = counts["scanned"] + counts["failed"] >= scanned and counts["queued"] == 0
        return reg if done and reg["sweep"]["state"] not in ("queued", "running") else None


def _server(database_url: str, tmp: Path, **settings: Any) -> Iterator[tuple[Any, str]]:
    from stackwarden.server.bootstrap import init_server
    from stackwarden.server.context import ServerContext
    from stackwarden.server.settings import ServerSettings

    config = ServerSettings(database_url=database_url, data_dir=tmp / "data",
                            registry_watch=False, registry_timeout=5, registry_retries=1,
                            registry_backoff=0.05, **settings)
    ctx = ServerContext.open(config, migrate=True)
    token = init_server(ctx, "admin", ADMIN_PASSWORD).token
    try:
        yield ctx, token
    finally:
        ctx.close()


def _notify_endpoint(url: str, registry_id: int, token: str) -> dict[str, Any]:
    return {"name": "stackwarden", "url": f"{url}/api/v1/registry-notifications/{registry_id}",
            "headers": {"Authorization": [f"Bearer {token}"]}, "timeout": "3s",
            "threshold": 5, "backoff": "1s"}


def _scan_jobs(ctx: Any) -> int:
    with ctx.db.session() as session:
        return int(session.execute(select(func.count()).select_from(Job)
                                   .where(Job.kind == "registry_scan")).scalar())


def test_discovery_notifications_rematch_and_golden(database_url: str, tmp_path: Path) -> None:
    vulndb = tmp_path / "vulndb.sqlite"
    build_vulndb(vulndb, [MUSL])
    for ctx, token in _server(database_url, tmp_path, vulndb_path=vulndb):
        with live_server(ctx) as url:
            api = Api(url, token)
            port = free_port()
            runner = CliRunner()
            added = runner.invoke(cli, ["registry", "add", f"http://127.0.0.1:{port}",
                                        "--server", url, "--token", token,
                                        "--include", "team/*", "--exclude", "*/tmp-*",
                                        "--interval", "1h", "--json"])
            assert added.exit_code == 0, added.output
            reg = json.loads(added.stdout)
            rid, notify_token = reg["id"], reg["notification"]["token"]

            # The first sweep ran before the registry was up: the error is on the registry.
            down = wait_for("the first sweep to fail", lambda: (
                r := api.registry(rid))["sweep"]["state"] == "error" and r)
            assert "cannot talk to 127.0.0.1" in down["sweep"]["last_error"]
            listed = runner.invoke(cli, ["registry", "list", "--server", url, "--token", token])
            assert listed.exit_code == 0 and "error" in listed.output

            with run_registry(tmp_path / "registry", port=port,
                              notify=[_notify_endpoint(url, rid, notify_token)]) as registry:
                host = registry.host
                # Pushed: the registry notifies the server, which scans without a sweep.
                app_digest = push(tmp_path, f"{host}/team/app:1.0", app_image(V1, "app-1"))
                push(tmp_path, f"{host}/team/tmp-build:1", app_image(V1, "tmp"))
                push(tmp_path, f"{host}/other/thing:1", app_image(V1, "other"))
                wait_for("the notified image to be scanned",
                         lambda: api.settled(rid, 1), timeout=90)
                seen = api.get("/registry-notifications", params={"accepted": True})["items"]
                assert seen and all(n["format"] == "distribution" for n in seen)
                images = api.get(f"/registries/{rid}/images")["items"]
                assert [(i["repository"], i["digest"], i["tags"]) for i in images] == [
                    ("team/app", app_digest, ["1.0"])]  # include/exclude honoured
                assert api.registry(rid)["sweep"]["state"] == "error"  # no sweep ran since

                # The same digest under a new tag, then a sweep: history grows, no new scan.
                push(tmp_path, f"{host}/team/app:latest", app_image(V1, "app-1"))
                swept = runner.invoke(cli, ["registry", "sweep", str(rid), "--server", url,
                                            "--token", token])
                assert swept.exit_code == 0, swept.output
                reg = wait_for("the sweep", lambda: (r := api.settled(rid, 1)) and
                               r["sweep"]["state"] == "ok" and r)
                assert reg["counts"] == {"repositories": 1, "tags": 2, "images": 1,
                                         "scanned": 1, "queued": 0, "failed": 0}
                assert reg["sweep"]["last_success"] and reg["sweep"]["problems"] == []
                assert _scan_jobs(ctx) == 1  # one digest, scanned once, ever
                history = api.get(f"/registries/{rid}/history",
                                  params={"repository": "team/app"})["items"]
                assert {(h["tag"], h["digest"]) for h in history} == {
                    ("1.0", app_digest), ("latest", app_digest)}
                detail = api.get(f"/registries/{rid}/images/{app_digest}")
                assert [f["id"] for f in detail["findings"]
                        if f["kind"] == "vulnerability"] == ["ALPINE-TEST-MUSL"]

                _golden_builds(api, runner, url, token, tmp_path, host, rid)
                _rematch_after_db_update(ctx, api, vulndb, rid, app_digest)
            _forged_notifications(ctx, url, rid)


def _golden_builds(api: Api, runner: CliRunner, url: str, token: str, tmp: Path, host: str,
                   rid: int) -> None:
    made = runner.invoke(cli, ["registry", "golden", "add", str(rid), "team/base", "--tag",
                               "stable*", "--server", url, "--token", token])
    assert made.exit_code == 0, made.output
    first = push(tmp, f"{host}/team/base:stable-1", app_image(
        V1, "base-1", config={"User": "root", "ExposedPorts": {"80/tcp": {}}}))
    wait_for("the first golden build", lambda: api.settled(rid, 2))
    second = push(tmp, f"{host}/team/base:stable-2", app_image(
        V2, "base-2", config={"User": "app", "ExposedPorts": {"8080/tcp": {}},
                              "Env": ["MODE=prod"]}))
    wait_for("the second golden build", lambda: api.settled(rid, 3))
    diffs = wait_for("the golden diff", lambda: api.get("/golden-diffs")["items"])
    assert [(d["previous_digest"], d["digest"]) for d in diffs] == [(first, second)]
    diff = api.get(f"/golden-diffs/{diffs[0]['id']}")["diff"]
    assert diff["packages"]["added"] == [{"type": "apk", "name": "curl", "version": "8.9.0-r0"}]
    assert diff["packages"]["upgraded"] == [
        {"type": "apk", "name": "musl", "from": "1.2.5-r0", "to": "1.2.5-r1"}]
    assert diff["packages"]["removed"] == [] and diff["packages"]["downgraded"] == []
    # the musl fix, and the image no longer runs as root
    assert sorted(f["id"] for f in diff["findings"]["fixed"]) == ["ALPINE-TEST-MUSL",
                                                                  "SW-IMG-001"]
    assert diff["findings"]["new"] == []
    drift = {d["field"]: d for d in diff["config"]}
    assert drift["User"]["before"] == "root" and drift["User"]["after"] == "app"
    assert drift["ExposedPorts"]["after"] == {"8080/tcp": {}}
    assert drift["Env"]["added"] == ["MODE"]
    alerts = api.get("/registry-alerts", params={"kind": "golden.changed"})["items"]
    assert len(alerts) == 1 and alerts[0]["golden"] and alerts[0]["digest"] == second
    shown = runner.invoke(cli, ["registry", "golden", "diff", str(diffs[0]["id"]), "--server",
                                url, "--token", token])
    assert "musl 1.2.5-r0 -> 1.2.5-r1" in shown.output and "User" in shown.output


def _rematch_after_db_update(ctx: Any, api: Api, vulndb: Path, rid: int,
                             app_digest: str) -> None:
    from stackwarden.server.registry_scheduler import WatchScheduler

    scheduler = WatchScheduler(ctx)
    first = scheduler.tick()  # the database the images were scanned with: remembered
    assert first["sweeps"] == []
    before = {i["digest"] for i in api.get(f"/registries/{rid}/images")["items"]}
    assert scheduler.tick()["rematch"] is None  # unchanged database: nothing to do
    build_vulndb(vulndb, [MUSL, BUSYBOX])  # the update: busybox is now vulnerable
    job_id = scheduler.tick()["rematch"]
    assert job_id
    job = wait_for("the re-match", lambda: (j := api.get(f"/jobs/{job_id}"))["state"] in (
        "succeeded", "failed") and j)
    assert job["state"] == "succeeded", job
    # busybox 1.36.1-r29 is in every image
    assert job["result"]["newly_affected"] == 3 and job["result"]["images"] == 3
    alerts = api.get("/registry-alerts", params={"kind": "image.newly_affected"})["items"]
    assert {a["digest"] for a in alerts} == before
    ordered = sorted(alerts, key=lambda a: a["id"])
    assert [a["golden"] for a in ordered] == [True, True, False]  # golden images first
    finding = ordered[-1]["payload"]["findings"][0]
    assert finding["id"] == "ALPINE-TEST-BUSYBOX" and finding["severity"] == "critical"
    assert finding["affected_since"] <= finding["detected_at"]
    detail = api.get(f"/registries/{rid}/images/{app_digest}")
    vulns = {f["id"]: f for f in detail["findings"] if f["kind"] == "vulnerability"}
    assert set(vulns) == {"ALPINE-TEST-MUSL", "ALPINE-TEST-BUSYBOX"}
    assert vulns["ALPINE-TEST-BUSYBOX"]["affected_since"] == detail["first_seen"]
    assert _scan_jobs(ctx) == 3  # no image was pulled again


def _forged_notifications(ctx: Any, url: str, rid: int) -> None:
    envelope = {"events": [{"action": "push", "target": {
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "repository": "team/evil",
        "tag": "1", "digest": "sha256:" + "e" * 64}}]}
    path = f"{url}/api/v1/registry-notifications/{rid}"
    cases = [({}, "no notification token"),
             ({"Authorization": "Bearer swn_forged"}, "wrong notification token")]
    for headers, reason in cases:
        answer = httpx.post(path, json=envelope, headers=headers, timeout=10)
        assert answer.status_code == 401, answer.text
        assert answer.json()["error"]["code"] == "unauthorized"
    answer = httpx.post(f"{url}/api/v1/registry-notifications/999", json=envelope,
                        headers={"Authorization": "Bearer swn_x"}, timeout=10)
    assert answer.status_code == 401
    with ctx.db.session() as session:
        from stackwarden.server.db.registry_models import RegistryNotification, WatchedImage

        rejected = list(session.execute(select(RegistryNotification).where(
            RegistryNotification.accepted.is_(False)).order_by(RegistryNotification.id))
            .scalars())
        assert [r.reason for r in rejected] == [
            "no notification token", "wrong notification token", "unknown registry"]
        assert session.execute(select(WatchedImage).where(
            WatchedImage.repository == "team/evil")).first() is None
        audited = session.execute(select(func.count()).select_from(AuditEntryRow).where(
            AuditEntryRow.action == "registry.notification_rejected")).scalar()
        assert audited == 3


def test_tls_basic_auth_registry(tmp_path: Path, sqlite_template: Path,
                                 caplog: pytest.LogCaptureFixture) -> None:
    import shutil

    db_file = tmp_path / "server.db"
    shutil.copy(sqlite_template, db_file)
    vulndb = tmp_path / "vulndb.sqlite"
    build_vulndb(vulndb, [MUSL])
    password = "s3cret-registry-passw0rd"
    tls = make_tls(tmp_path / "tls")
    htpasswd = htpasswd_file(tmp_path / "htpasswd", {"robot": password})
    with run_registry(tmp_path / "registry", tls=tls, htpasswd=htpasswd) as registry:
        options = RegistryOptions(username="robot", password=password, ca_bundle=tls.ca_cert)
        digest = push(tmp_path, f"{registry.host}/secure/app:1", app_image(V1, "secure"),
                      options=options)
        for ctx, token in _server(f"sqlite:///{db_file}", tmp_path, vulndb_path=vulndb):
            with live_server(ctx) as url:
                api = Api(url, token)
                wrong = api.http.post("/registries", json={
                    "url": f"https://{registry.host}", "username": "robot", "password": "nope",
                    "ca_cert": tls.ca_cert.read_text(), "name": "wrong"})
                assert wrong.status_code == 201
                made = api.http.post("/registries", json={
                    "url": f"https://{registry.host}", "username": "robot",
                    "password": password, "ca_cert": tls.ca_cert.read_text()})
                assert made.status_code == 201, made.text
                rid = made.json()["id"]
                reg = wait_for("the TLS registry's image", lambda: api.settled(rid, 1))
                assert reg["counts"]["scanned"] == 1 and reg["sweep"]["state"] == "ok"
                assert reg["has_password"] and password not in json.dumps(reg)
                assert reg["sweep"]["last_started"] <= reg["sweep"]["last_finished"]
                images = api.get(f"/registries/{rid}/images")["items"]
                assert [i["digest"] for i in images] == [digest]
                bad = wait_for("the wrong password's sweep", lambda: (
                    r := api.registry(wrong.json()["id"]))["sweep"]["state"] == "error" and r)
                assert "refused the credentials" in bad["sweep"]["last_error"]
                assert "nope" not in bad["sweep"]["last_error"]
    # sealed at rest, never logged
    assert password.encode() not in db_file.read_bytes()
    assert password not in caplog.text and "nope" not in caplog.text
