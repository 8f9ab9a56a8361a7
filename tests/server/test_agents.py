"""The agent API on SQLite and PostgreSQL: single-use expiring enrollment, pushed configuration
with ETags, idempotent event ingest (gzip, per-event rejection, concurrent redelivery), host
alerts and cross-host incidents, silence detection, host views."""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from stackwarden.agent.logs.response import Action
from stackwarden.server.auth import utcnow
from stackwarden.server.db.agent_models import Agent, AgentEventRow, EnrollmentToken
from tests.server.agent_helpers import T0, alert, debian_root, enroll, event, gz, send
from tests.server.conftest import Server, make_server
from tests.vulndb.helpers import make_db, osv


def agent_auth(credential: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential}"}


def test_enrollment_tokens_are_single_use_expiring_and_revocable(server: Server) -> None:
    made = server.post("/api/v1/agents/enrollment-tokens",
                       json={"expires_in": 600, "name": "rack 4"})
    assert made.status_code == 201 and made.json()["token"].startswith("swe_")
    token = made.json()["token"]
    first = server.client.post("/api/v1/agents/enroll", json={"token": token,
                                                              "hostname": "web-1"})
    assert first.status_code == 201, first.text
    credential = first.json()["credential"]
    assert credential.startswith("swt_") and token.split("_", 2)[2] not in first.text
    # the credential is an agent's: its configuration yes, the findings no
    assert server.get("/api/v1/agents/config", token=credential).status_code == 200
    assert server.get("/api/v1/findings", token=credential).status_code == 403

    again = server.client.post("/api/v1/agents/enroll", json={"token": token,
                                                              "hostname": "web-2"})
    assert again.status_code == 401 and "already used" in again.json()["error"]["message"]

    expired = server.post("/api/v1/agents/enrollment-tokens", json={"expires_in": 600}).json()
    with server.ctx.db.transaction() as session:
        session.execute(update(EnrollmentToken).where(EnrollmentToken.id == expired["id"])
                        .values(expires_at=utcnow() - timedelta(seconds=1)))
    late = server.client.post("/api/v1/agents/enroll", json={"token": expired["token"],
                                                             "hostname": "web-3"})
    assert late.status_code == 401 and "expired at" in late.json()["error"]["message"]

    revoked = server.post("/api/v1/agents/enrollment-tokens", json={"expires_in": 60}).json()
    assert server.client.delete(f"/api/v1/agents/enrollment-tokens/{revoked['id']}",
                                headers=server.auth()).json()["state"] == "revoked"
    gone = server.client.post("/api/v1/agents/enroll", json={"token": revoked["token"],
                                                             "hostname": "web-4"})
    assert gone.status_code == 401 and "revoked" in gone.json()["error"]["message"]

    listed = server.get("/api/v1/agents/enrollment-tokens")
    assert sorted(t["state"] for t in listed.json()["items"]) == ["expired", "revoked", "used"]
    assert all("token" not in t for t in listed.json()["items"])  # secrets are never listed
    assert token.split("_", 2)[2] not in listed.text

    # only admins create tokens; an admin token is not an agent credential
    dev = server.user("dev", "developer")
    assert server.post("/api/v1/agents/enrollment-tokens", token=dev,
                       json={"expires_in": 60}).status_code == 403
    refused = server.get("/api/v1/agents/config")
    assert refused.status_code == 403 and "not an agent credential" in refused.text
    # every refusal is audited
    actions = [e["action"] for e in server.get("/api/v1/audit/entries",
                                               params={"limit": 200}).json()["items"]]
    assert actions.count("agent.enroll") == 1
    assert actions.count("agent.enrollment_token.create") == 3


def test_failed_enrollments_are_refused_then_rate_limited(server: Server) -> None:
    def spend(token: str, hostname: str = "h") -> Any:
        return server.client.post("/api/v1/agents/enroll",
                                  json={"token": token, "hostname": hostname})

    bad = spend("swe_1_x", hostname="bad host\n")
    assert bad.status_code == 422 and "hostname" in bad.text  # not counted as a failure
    for token, message in [("not-a-token", "not an enrollment token"),
                           ("swe_x_y", "not an enrollment token"),
                           ("swe_1_guess", "unknown enrollment token"),
                           ("swe_999_guess", "unknown enrollment token"),
                           ("swe_2_guess", "unknown enrollment token")]:
        r = spend(token)
        assert r.status_code == 401 and message in r.json()["error"]["message"], r.text
    blocked = spend("swe_1_guess")
    assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) > 0


def test_configuration_is_pushed_with_etags_and_validated(server: Server) -> None:
    credential = enroll(server)["credential"]
    first = server.get("/api/v1/agents/config", token=credential)
    etag = first.headers["etag"]
    assert first.json()["collectors"]["logs"]["enabled"] is True
    cached = server.client.get("/api/v1/agents/config",
                               headers={**agent_auth(credential), "If-None-Match": etag})
    assert cached.status_code == 304 and cached.headers["etag"] == etag

    change = {"heartbeat_interval": 30, "collectors": {"logs": {"inputs": [
        {"path": "/var/log/secure"}], "interval": 2}}}
    put = server.client.put("/api/v1/agents/config/default", json=change, headers=server.auth())
    assert put.status_code == 200, put.text
    now = server.client.get("/api/v1/agents/config",
                            headers={**agent_auth(credential), "If-None-Match": etag})
    assert now.status_code == 200 and now.headers["etag"] != etag
    assert now.json()["collectors"]["logs"]["inputs"] == [{"path": "/var/log/secure"}]
    assert now.json()["collectors"]["host_vulnerabilities"] == {"enabled": True}

    for bad, where in [({"collectors": {"logs": {"interval": -1}}}, "collectors.logs.interval"),
                       ({"collectors": {"logs": {"inputs": [{"path": "relative.log"}]}}},
                        "collectors.logs.inputs.0"),
                       ({"collectors": {"nonsense": {}}}, "collectors.nonsense"),
                       ({"transport": {"batch_max_events": 0}}, "transport.batch_max_events"),
                       ({"heartbeat_interval": "soon"}, "heartbeat_interval")]:
        r = server.client.put("/api/v1/agents/config/default", json=bad, headers=server.auth())
        assert r.status_code == 422 and where in r.json()["error"]["message"], (bad, r.text)

    agent_id = server.get("/api/v1/agents").json()["items"][0]["id"]
    own = server.client.put(f"/api/v1/agents/{agent_id}/config",
                            json={"collectors": {"host_vulnerabilities": {"enabled": False}}},
                            headers=server.auth())
    assert own.status_code == 200
    merged = server.get("/api/v1/agents/config", token=credential).json()
    assert merged["collectors"]["host_vulnerabilities"] == {"enabled": False}
    assert merged["collectors"]["logs"]["interval"] == 2  # the default override still applies
    beat = server.post("/api/v1/agents/heartbeat", token=credential,
                       json={"status": {"queue": {"depth": 3}}})
    assert beat.json()["config_etag"] == server.get("/api/v1/agents/config",
                                                    token=credential).headers["etag"]
    shown = server.get(f"/api/v1/agents/{agent_id}").json()
    assert shown["heartbeat"] == {"queue": {"depth": 3}} and shown["config"] == merged


def stored(server: Server, host_id: int, kind: str | None = None) -> list[dict[str, Any]]:
    """Every stored event of a host, through the API's pagination."""
    items: list[dict[str, Any]] = []
    after = None
    while True:
        params: dict[str, Any] = {"limit": 40}
        if after:
            params["after"] = after
        if kind:
            params["kind"] = kind
        page = server.get(f"/api/v1/hosts/{host_id}/events", params=params).json()
        items += page["items"]
        after = page["next_after"]
        if after is None:
            return items


def test_event_ingest_is_idempotent(server: Server) -> None:
    done = enroll(server)
    credential, host = done["credential"], done["asset_id"]
    batch = [event(n) for n in range(1, 51)]
    first = send(server, credential, batch)
    assert first.status_code == 200 and first.json() == {"accepted": 50, "duplicates": 0,
                                                         "rejected": []}
    again = send(server, credential, batch)  # the answer was lost; the agent retries
    assert again.json() == {"accepted": 0, "duplicates": 50, "rejected": []}
    overlap = send(server, credential, [event(n) for n in range(26, 76)])
    assert overlap.json() == {"accepted": 25, "duplicates": 25, "rejected": []}
    twice = send(server, credential, [event(80), event(80)])  # one id twice in a batch
    assert twice.json() == {"accepted": 1, "duplicates": 1, "rejected": []}
    # plain JSON works as well as gzip
    plain = server.post("/api/v1/agents/events", token=credential,
                        json={"events": [event(81)]})
    assert plain.json()["accepted"] == 1
    events = stored(server, host)
    assert [e["seq"] for e in events] == [*range(1, 76), 80, 81]
    assert len({e["event_id"] for e in events}) == len(events)
    # another agent may use the same ids: they are its own
    other = enroll(server, "web-2")
    assert send(server, other["credential"], batch[:3]).json()["accepted"] == 3


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_concurrent_redelivery_stores_each_event_once(server: Server) -> None:
    """Two deliveries of one batch racing (a retry while the first request still runs)."""
    from stackwarden.server.agents.ingest import ingest_events

    done = enroll(server)
    batch = [event(n) for n in range(1, 201)]
    barrier = threading.Barrier(2)
    results: list[Any] = []

    def deliver() -> None:
        with server.ctx.db.transaction() as session:
            agent = session.get(Agent, done["agent_id"])
            barrier.wait()
            results.append(ingest_events(session, agent, batch, audit=server.ctx.audit,
                                         now=utcnow(), window=3600))

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(r.accepted for r in results) == [0, 200]
    assert sorted(r.duplicates for r in results) == [0, 200]
    with server.ctx.db.session() as session:
        assert session.execute(select(func.count()).select_from(AgentEventRow)).scalar() == 200


@pytest.fixture()
def small_server(database_url: str, tmp_path: Path) -> Iterator[Server]:
    yield from make_server(database_url, tmp_path, max_report_bytes=64 * 1024)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_bad_batches_are_refused_with_a_reason(small_server: Server) -> None:
    server = small_server
    credential = enroll(server)["credential"]
    headers = {**agent_auth(credential), "Content-Type": "application/json"}

    def post(body: bytes, encoding: str | None = "gzip") -> Any:
        extra = {"Content-Encoding": encoding} if encoding else {}
        return server.client.post("/api/v1/agents/events", content=body,
                                  headers={**headers, **extra})

    cases = [
        (post(b"not gzip at all"), 400, "not valid gzip"),
        (post(gz([event(1)])[:-12]), 400, "truncated"),
        (post(gzip.compress(b"\0" * (10 * 1024 * 1024))), 413, "limit"),  # a gzip bomb
        (post(gzip.compress(b'{"events": [')), 400, "malformed JSON"),
        (post(gzip.compress(b'{"events": "many"}')), 422, "events"),
        (post(b'{"events": []}', encoding="br"), 415, "Content-Encoding"),
        (post(json.dumps({"events": [{}] * 5001}).encode(), encoding=None), 413, "5000"),
    ]
    for response, status, text in cases:
        assert response.status_code == status and text in response.text, response.text
    mixed = [event(1), event(2, kind="Not A Kind"), {"id": "x", "seq": 3},
             event(4, kind="fim.change", data={"path": "/etc/passwd", "change": "exploded"}),
             event(5, kind="log.alert", data={"title": "no id"}),
             {**event(6), "time": float("nan")}, event(7)]
    answer = server.post("/api/v1/agents/events", token=credential,
                         content=json.dumps({"events": mixed}),
                         headers={"Content-Type": "application/json"}).json()
    assert answer["accepted"] == 2 and answer["duplicates"] == 0
    reasons = {r["id"]: r["reason"] for r in answer["rejected"]}
    assert set(reasons) == {mixed[i]["id"] for i in (1, 2, 3, 4, 5)}
    assert "kind" in reasons[mixed[1]["id"]] and "change" in reasons[mixed[3]["id"]]


def test_alerts_from_several_hosts_make_one_incident(server: Server) -> None:
    web1, web2, db1 = (enroll(server, name) for name in ("web-1", "web-2", "db-1"))
    attacker, other = "203.0.113.7", "198.51.100.9"
    send(server, web1["credential"], [event(1, "log.alert", alert("a1", attacker))])
    send(server, web2["credential"], [event(1, "log.alert", alert(
        "b1", f"::ffff:{attacker}", first="2026-11-29T06:10:00Z", last="2026-11-29T06:10:20Z"))])
    send(server, db1["credential"], [event(1, "log.alert", alert("c1", other))])
    # the same incident closing on web-1: one row updated, not a second alert
    send(server, web1["credential"], [event(2, "log.alert", alert("a1", attacker, count=9,
                                                                   closed=True))])
    send(server, web1["credential"], [event(3, "log.alert", alert(
        "a2", None, title="sudo to root by an unexpected user", rule="sudo"))])

    incidents = server.get("/api/v1/incidents").json()["items"]
    assert len(incidents) == 2
    wide = server.get("/api/v1/incidents", params={"min_hosts": 2}).json()["items"]
    assert len(wide) == 1
    one = server.get(f"/api/v1/incidents/{wide[0]['id']}").json()
    assert one["source_address"] == attacker and one["host_count"] == 2 \
        and one["alert_count"] == 2
    assert one["title"] == f"SSH brute force from {attacker} on 2 hosts"
    assert one["first"] == "2026-11-29T06:00:00Z" and one["last"] == "2026-11-29T06:10:20Z"
    assert sorted(a["host"] for a in one["alerts"]) == ["web-1", "web-2"]

    alerts = server.get(f"/api/v1/hosts/{web1['asset_id']}/alerts").json()["items"]
    assert sorted((a["alert_id"], a["state"], a["count"]) for a in alerts) == [
        ("a1", "closed", 9), ("a2", "open", 5)]
    assert [a["incident_id"] for a in alerts if a["alert_id"] == "a2"] == [None]
    assert server.get(f"/api/v1/hosts/{web1['asset_id']}/alerts",
                      params={"state": "open"}).json()["items"][0]["alert_id"] == "a2"
    assert [i["id"] for i in server.get(
        f"/api/v1/hosts/{db1['asset_id']}/incidents").json()["items"]] != [wide[0]["id"]]
    hosts = {h["name"]: h for h in server.get("/api/v1/hosts").json()["items"]}
    assert set(hosts) == {"web-1", "web-2", "db-1"}
    assert hosts["web-1"]["open_alerts"] == 1 and hosts["web-1"]["status"] == "online"

    # past the window, the same address starts a new incident
    late = alert("b2", attacker, first="2026-11-29T09:00:00Z", last="2026-11-29T09:00:30Z")
    send(server, web2["credential"], [event(2, "log.alert", late)])
    assert len(server.get("/api/v1/incidents").json()["items"]) == 3


def test_silent_agents_are_detected_and_come_back(server: Server) -> None:
    from stackwarden.server.agents.watch import mark_silent

    done = enroll(server)
    host = done["asset_id"]
    assert mark_silent(server.ctx) == []
    with server.ctx.db.transaction() as session:
        session.execute(update(Agent).values(last_seen_at=utcnow() - timedelta(minutes=10)))
    assert mark_silent(server.ctx) == [done["agent_id"]]
    assert mark_silent(server.ctx) == []  # reported once
    assert server.get(f"/api/v1/hosts/{host}").json()["status"] == "silent"
    silent = server.get(f"/api/v1/hosts/{host}/alerts").json()["items"]
    assert [(a["title"], a["state"], a["level"]) for a in silent] == [
        ("Agent silent", "open", "high")]
    assert server.get("/api/v1/hosts", params={"status": "silent"}).json()["items"][0]["id"] \
        == host
    beat = server.post("/api/v1/agents/heartbeat", token=done["credential"], json={})
    assert beat.status_code == 200
    assert server.get(f"/api/v1/hosts/{host}").json()["status"] == "online"
    assert server.get(f"/api/v1/hosts/{host}/alerts").json()["items"][0]["state"] == "closed"
    actions = [e["action"] for e in server.get("/api/v1/audit/entries",
                                               params={"limit": 200}).json()["items"]]
    assert "agent.silent" in actions and "agent.back" in actions
    # a revoked agent is no longer silent, and its credential stops working
    agent_id = done["agent_id"]
    assert server.client.delete(f"/api/v1/agents/{agent_id}",
                                headers=server.auth()).json()["status"] == "revoked"
    assert send(server, done["credential"], [event(1)]).status_code == 401
    assert server.get(f"/api/v1/hosts/{host}").json()["status"] == "revoked"


def test_fim_changes_and_inventory_snapshots(server: Server) -> None:
    done = enroll(server)
    host, credential = done["asset_id"], done["credential"]
    changes = [event(1, "fim.change", {"path": "/etc/passwd", "change": "modified",
                                       "before": {"sha256": "a"}, "after": {"sha256": "b"}}),
               event(2, "fim.change", {"path": "/usr/bin/ls", "change": "modified",
                                       "label": "package_update"}),
               event(3, "inventory.snapshot", {"processes": 3}),
               event(4, "inventory.snapshot", {"processes": 4})]
    changes[2]["time"], changes[3]["time"] = 2000.0, 1000.0  # the older one arrives last
    assert send(server, credential, changes).json()["accepted"] == 4
    fim = server.get(f"/api/v1/hosts/{host}/fim").json()["items"]
    assert [(c["path"], c["change"], c["label"]) for c in fim] == [
        ("/usr/bin/ls", "modified", "package_update"), ("/etc/passwd", "modified", "")]
    assert fim[1]["before"] == {"sha256": "a"}
    assert server.get(f"/api/v1/hosts/{host}/fim", params={"path": "/etc/passwd"}
                      ).json()["items"][0]["after"] == {"sha256": "b"}
    assert server.get(f"/api/v1/hosts/{host}/inventory").json()["inventory"] == {
        "processes": 3}
    assert server.get("/api/v1/hosts/999/inventory").status_code == 404


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_host_sbom_becomes_the_hosts_vulnerabilities(database_url: str,
                                                       tmp_path: Path) -> None:
    from stackwarden.catalog.sbom import generate_sbom, sbom_to_dict

    db = make_db(tmp_path, [osv("DSA-5532-1", "Debian:12", "openssl", ("introduced", "0"),
                                ("fixed", "3.0.11-1~deb12u2"), aliases=("CVE-2023-5363",))])
    db.close()
    gen = make_server(database_url, tmp_path, vulndb_path=db.path)
    server = next(gen)
    try:
        done = enroll(server, "db-1")
        doc = sbom_to_dict(generate_sbom(f"rootfs:{debian_root(tmp_path / 'root')}"))
        sent = send(server, done["credential"], [event(1, "host.sbom", {"sbom": doc})])
        assert sent.json()["accepted"] == 1, sent.text
        host = done["asset_id"]
        deadline = time.monotonic() + 60
        found: list[dict[str, Any]] = []
        while time.monotonic() < deadline and not found:
            found = server.get(f"/api/v1/hosts/{host}/vulnerabilities").json()["items"]
            time.sleep(0.2)
        assert [(f["vuln_id"], f["package"]["name"], f["package"]["version"]) for f in found] \
            == [("CVE-2023-5363", "openssl", "3.0.11-1~deb12u1")]
        shown = server.get(f"/api/v1/hosts/{host}").json()
        assert shown["vulnerabilities"] == {found[0]["severity"]: 1}
        # the findings belong to the host asset itself, not to a new one
        assets = server.get("/api/v1/assets").json()["items"]
        assert [(a["kind"], a["name"]) for a in assets] == [("host", "db-1")]
    finally:
        next(gen, None)


def test_active_response_actions_land_in_the_audit_trail(server: Server) -> None:
    """Each `response.action` an agent ships (block, skip, error) is one entry of the
    hash-chained audit trail, however often the batch is retried."""
    done = enroll(server)
    credential = done["credential"]
    decisions = [Action(T0, "block", "203.0.113.7", "offending address", "ssh", "a1", 600),
                 Action(T0 + 1, "skip", "10.1.2.3", "inside admin network 10.0.0.0/8", "ssh",
                        "a2"),
                 Action(T0 + 2, "error", "203.0.113.8", "nft add element failed: …", "ssh",
                        "a3")]
    batch = [event(n, "response.action", asdict(a)) for n, a in enumerate(decisions, 1)]
    bad = event(9, "response.action", {**asdict(decisions[0]), "action": "ban"})
    answer = send(server, credential, [*batch, bad]).json()
    assert (answer["accepted"], [r["id"] for r in answer["rejected"]]) == (3, [bad["id"]])
    assert send(server, credential, batch).json()["duplicates"] == 3  # a retry: audited once

    def audited() -> list[dict[str, Any]]:
        items = server.get("/api/v1/audit/entries", params={"limit": 1000}).json()["items"]
        return [e for e in items if e["action"].startswith("response.")]

    entries = audited()
    actor, obj = f"agent:{done['agent_uid']}", f"agent:{done['agent_id']}"
    assert [(e["action"], e["actor"], e["object"], e["details"]["address"])
            for e in entries] == [("response.block", actor, obj, "203.0.113.7"),
                                  ("response.skip", actor, obj, "10.1.2.3"),
                                  ("response.error", actor, obj, "203.0.113.8")]
    assert entries[0]["details"]["timeout"] == 600
    assert entries[1]["details"]["reason"] == "inside admin network 10.0.0.0/8"
    assert entries[0]["details"]["event_id"] == batch[0]["id"]
    assert entries[0]["details"]["host"] == "web-1"
    verified = server.get("/api/v1/audit/verify").json()
    assert verified["ok"] is True and verified["entries"] >= 3
