"""Notifications end to end with real receivers on loopback: a signed webhook, Slack's shape,
SMTP (aiosmtpd), syslog (RFC 5424, JSON and CEF, UDP and TCP); grouping, retries with
back-off, every attempt recorded, and a dead channel never blocking ingestion."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from email import message_from_bytes
from typing import Any

import pytest
from sqlalchemy import select

from tests.server.conftest import Server
from tests.server.dashboard.conftest import post_form, sign_in
from tests.server.dashboard.receivers import (
    free_port,
    http_receiver,
    smtp_receiver,
    syslog_receiver,
)
from tests.server.helpers import finding, report

SECRET = "s3cret-for-hmac-signing"
RFC5424 = re.compile(rb"^<(\d{1,3})>1 (\S+) (\S+) stackwarden - (\S+) (\[stackwarden@32473 "
                     rb'event="[^"]+" delivery="\d+"\]) \xef\xbb\xbf(.*)$', re.S)


def add_channel(server: Server, kind: str, events: list[str], **fields: str) -> None:
    client = sign_in(server)
    r = post_form(client, "/settings/channels", "/settings/channels",
                  {"name": f"{kind}-{len(fields)}-{time.monotonic_ns()}", "kind": kind,
                   "events": events, **fields})
    assert r.status_code == 303, r.text


def deliveries(server: Server) -> list[Any]:
    from stackwarden.server.db.models_dashboard import NotificationDelivery

    with server.ctx.db.session() as session:
        return list(session.execute(select(NotificationDelivery)
                                    .order_by(NotificationDelivery.id)).scalars())


def test_webhook_one_signed_message_for_500_findings(dash_lite: Server) -> None:
    with http_receiver() as (url, got):
        add_channel(dash_lite, "webhook", ["new_critical_finding"], url=url, secret=SECRET)
        findings = [finding(f"fp{i:03}", vuln=f"CVE-2025-{i:04}", severity="critical")
                    for i in range(500)]
        r = dash_lite.post("/api/v1/scans", json=report(findings))
        assert r.status_code == 201
        headers, body = got.wait(1)[0]
        time.sleep(0.5)
        assert len(got.items) == 1  # grouped: one message for the scan
    doc = json.loads(body)
    assert doc["event"] == "new_critical_finding" and doc["count"] == 500
    assert len(doc["items"]) == 100 and doc["truncated"] is True
    assert doc["items"][0]["severity"] == "critical"
    stamp = headers["X-StackWarden-Timestamp"]
    expected = hmac.new(SECRET.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    assert headers["X-StackWarden-Signature"] == f"sha256={expected}"
    assert headers["X-StackWarden-Event"] == "new_critical_finding"
    # a second scan of the same image with the same findings: nothing new, nothing sent
    assert dash_lite.post("/api/v1/scans", json=report(findings)).status_code == 201
    assert len(deliveries(dash_lite)) == 1
    (sent,) = deliveries(dash_lite)
    assert sent.state == "sent" and sent.attempts == 1


def test_slack_payload_and_gate_failure(dash_lite: Server) -> None:
    with http_receiver() as (url, got):
        add_channel(dash_lite, "slack", ["gate_failure"], url=url)
        doc = report([finding("a", severity="high", package="<b>lib</b>")], gate={
            "passed": False, "failed": [{"rule": "fail-on-high", "message": "1 finding <&>"}]})
        assert dash_lite.post("/api/v1/scans", json=doc).status_code == 201
        _, body = got.wait(1)[0]
    slack = json.loads(body)
    assert slack["text"].startswith("Gate failed: registry.example/app")
    assert slack["blocks"][0]["type"] == "header"
    assert "fail-on-high: 1 finding &lt;&amp;&gt;" in json.dumps(slack["blocks"])


def test_email_through_a_real_smtp_server(dash_lite: Server) -> None:
    with smtp_receiver() as (port, got):
        add_channel(dash_lite, "email", ["new_critical_finding"], host="127.0.0.1",
                    port=str(port), sender="stackwarden@example.com",
                    recipients="sec@example.com\nops@example.com")
        doc = report([finding("a", severity="critical", kev=True)])
        assert dash_lite.post("/api/v1/scans", json=doc).status_code == 201
        envelope = got.wait(1)[0]
    assert sorted(envelope.rcpt_tos) == ["ops@example.com", "sec@example.com"]
    mail = message_from_bytes(envelope.content)
    assert mail["Subject"] == "[StackWarden] 1 new critical/KEV finding(s) on " \
                              "registry.example/app"
    assert "CRITICAL [KEV] CVE-2024-0001 openssl 1.0" in mail.get_payload(decode=True).decode()


@pytest.mark.parametrize(("protocol", "fmt"), [("udp", "json"), ("tcp", "cef")])
def test_syslog_rfc5424(dash_lite: Server, protocol: str, fmt: str) -> None:
    with syslog_receiver(protocol) as (port, got):
        add_channel(dash_lite, "syslog", ["new_critical_finding"], host="127.0.0.1", port=str(port),
                    protocol=protocol, format=fmt, facility="local3")
        assert dash_lite.post("/api/v1/scans", json=report(
            [finding("a", severity="critical")])).status_code == 201
        line = got.wait(1)[0]
    parsed = RFC5424.match(line)
    assert parsed, line[:200]
    assert int(parsed.group(1)) == 19 * 8 + 2  # local3, critical
    assert parsed.group(4) == b"new_critical_finding"
    payload = parsed.group(6).decode()
    if fmt == "json":
        assert json.loads(payload)["items"][0]["vuln_id"] == "CVE-2024-0001"
    else:
        header = payload.split("|")
        assert header[:5] == ["CEF:0", "StackWarden", "StackWarden", "0.1.0",
                              "new_critical_finding"] and header[6] == "10"
        assert "cnt=1 " in header[7] and "cs1Label=items" in header[7]


def test_dead_channel_never_blocks_ingestion_and_every_attempt_is_kept(dash_lite: Server) -> None:
    from stackwarden.server.db.models_dashboard import DeliveryAttempt

    dash_lite.ctx.settings.notify_retry_seconds = 0.01  # back-off 0.01 s × 4^n: 3.4 s in all
    add_channel(dash_lite, "webhook", ["new_critical_finding"],
                url=f"http://127.0.0.1:{free_port()}/nobody-listens")
    started = time.monotonic()
    r = dash_lite.post("/api/v1/scans", json=report([finding("a", severity="critical")]))
    assert r.status_code == 201 and time.monotonic() - started < 5
    for _ in range(200):  # retries with back-off until it gives up (6 attempts)
        (delivery,) = deliveries(dash_lite)
        if delivery.state == "failed":
            break
        time.sleep(0.1)
    assert delivery.state == "failed" and delivery.attempts == 6
    assert "cannot reach 127.0.0.1" in delivery.last_error
    with dash_lite.ctx.db.session() as session:
        attempts = list(session.execute(select(DeliveryAttempt).order_by(DeliveryAttempt.id))
                        .scalars())
    assert len(attempts) == 6 and not any(a.ok for a in attempts)
    gaps = [(b.at - a.at).total_seconds() for a, b in zip(attempts, attempts[1:])]
    assert gaps[-1] > gaps[0]  # back-off grows
    page = sign_in(dash_lite).get("/settings/channels/1").text
    assert page.count("cannot reach 127.0.0.1") >= 6  # every attempt is visible


def test_backoff_and_grouping_merge(dash_lite: Server) -> None:
    from stackwarden.server.notify import backoff, notify
    from stackwarden.server.settings import ServerSettings

    defaults = ServerSettings()
    assert [backoff(defaults, n) for n in (1, 2, 3, 4)] == [30, 120, 480, 1920]
    assert backoff(defaults, 20) == 6 * 3600
    add_channel(dash_lite, "webhook", ["agent_silent"], url="http://127.0.0.1:9/x")
    dash_lite.ctx.settings.notify_poll_seconds = 3600  # keep the dispatcher out of this
    with dash_lite.ctx.db.transaction() as session:
        for host in ("web-1", "web-2", "db-1"):
            notify(session, "agent_silent", {"title": "agents silent",
                                             "items": [{"text": host}]}, group_key="agents")
    (delivery,) = deliveries(dash_lite)
    payload = json.loads(delivery.payload)
    assert payload["count"] == 3 and [i["text"] for i in payload["items"]] == [
        "web-1", "web-2", "db-1"]
    with pytest.raises(ValueError, match="unknown notification event"):
        with dash_lite.ctx.db.transaction() as session:
            notify(session, "no_such_event", {})


def test_channel_form_validates_and_hides_secrets(dash_lite: Server) -> None:
    client = sign_in(dash_lite)
    r = post_form(client, "/settings/channels", "/settings/channels",
                  {"name": "", "kind": "webhook", "url": "ftp://x", "secret": "short"})
    assert r.status_code == 422
    for msg in ("required, at most 100", "an http or https URL", "at least 16 characters",
                "choose at least one event"):
        assert msg in r.text, msg
    assert "short" not in r.text.split('id="channel-form"')[1]
    r = post_form(client, "/settings/channels", "/settings/channels",
                  {"name": "mail", "kind": "email", "events": ["gate_failure"], "host": "",
                   "port": "99999", "sender": "nobody", "recipients": "a@b.c\nnot an address"})
    assert r.status_code == 422
    for msg in ("required: the SMTP server", "a port number", "an address such as",
                "not an address: not an address"):
        assert msg in r.text, msg
    add_channel(dash_lite, "webhook", ["gate_failure"], url="https://hooks.example/x",
                secret=SECRET)
    assert SECRET not in client.get("/settings/channels/1").text
    assert "(set)" in client.get("/settings/channels/1").text


def test_audit_verification_failure_notifies(dash_lite: Server) -> None:
    from sqlalchemy import text

    from stackwarden.server.web.pages.audit import record_verification

    with http_receiver() as (url, got):
        add_channel(dash_lite, "webhook", ["audit_verification_failure"], url=url)
        with dash_lite.ctx.db.engine.begin() as conn:  # tamper the way an attacker with SQL would
            conn.execute(text("DROP TRIGGER audit_entries_no_update"))
            conn.execute(text("UPDATE audit_entries SET actor = 'mallory' WHERE seq = 1"))
        summary = record_verification(dash_lite.ctx, "admin")
        assert summary["ok"] is False and summary["first_bad_seq"] == 1
        doc = json.loads(got.wait(1)[0][1])
    assert doc["event"] == "audit_verification_failure" and doc["severity"] == "critical"
    page = sign_in(dash_lite).get("/audit").text
    assert "Verification FAILED" in page


def test_scan_upload_carries_the_gate_decision() -> None:
    from stackwarden.core.findings import Finding, FindingKind, FindingLocation, Severity
    from stackwarden.policy.gate import GateDecision, RuleOutcome
    from stackwarden.server.client import upload_report

    hit = Finding(FindingKind.VULNERABILITY, "CVE-1", "t", Severity.HIGH, FindingLocation())
    decision = GateDecision(False, 1, (RuleOutcome("fail-on-high", "1 finding", "--fail-on",
                                                   (hit,)),))
    assert decision.to_dict() == {"passed": False, "failed": [
        {"rule": "fail-on-high", "message": "1 finding", "origin": "--fail-on", "findings": 1}]}
    with http_receiver(201, b'{"scan_id": 1}') as (url, got):
        answer = upload_report(url.rsplit("/", 1)[0], "swt_1_x", json.dumps(report([])).encode(),
                               gate=decision.to_dict())
        _, body = got.wait(1)[0]
    assert answer == {"scan_id": 1}
    assert json.loads(body)["gate"]["failed"][0]["rule"] == "fail-on-high"


def test_silent_agents_notify_once_and_decide_agent_controls(dash_lite: Server) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from stackwarden.policy.compliance import load_framework
    from stackwarden.server.agents.watch import mark_silent
    from stackwarden.server.auth import utcnow
    from stackwarden.server.compliance import evaluate
    from stackwarden.server.db.agent_models import Agent
    from tests.server.agent_helpers import enroll

    def si4() -> Any:
        return next(r for r in evaluate(dash_lite.ctx, load_framework("nist-800-53-r5")).results
                    if r.control.id == "SI-4")

    with http_receiver() as (url, got):
        add_channel(dash_lite, "webhook", ["agent_silent"], url=url)
        agents = [enroll(dash_lite, f"web-{n}") for n in (1, 2)]
        assert si4().status == "not_assessed"  # enrolled, but no agent runs `logs` yet
        for agent in agents:
            beat = dash_lite.post("/api/v1/agents/heartbeat", token=agent["credential"],
                                  json={"status": {"collectors": {"logs": {"error": None}}}})
            assert beat.status_code == 200, beat.text
        assert si4().status == "pass"
        with dash_lite.ctx.db.transaction() as session:
            session.execute(update(Agent).values(last_seen_at=utcnow() - timedelta(minutes=10)))
        assert len(mark_silent(dash_lite.ctx)) == 2
        doc = json.loads(got.wait(1)[0][1])
        time.sleep(0.5)
        assert len(got.items) == 1  # one message for both agents
    assert doc["event"] == "agent_silent" and doc["count"] == 2
    assert sorted(i["hostname"] for i in doc["items"]) == ["web-1", "web-2"]
    failed = si4()
    assert failed.status == "fail" and len(failed.evidence[0].items) == 2


def test_golden_image_alert_from_registry_monitoring_notifies(dash_lite: Server) -> None:
    from stackwarden.server.registry_alerts import AlertDraft, raise_alerts

    with http_receiver() as (url, got):
        add_channel(dash_lite, "webhook", ["golden_image_threat"], url=url)
        raise_alerts(dash_lite.ctx, [
            AlertDraft("image.newly_affected", "2 new vulnerabilities in golden image base@sha",
                       {"findings": [{"id": "CVE-2025-1", "severity": "critical",
                                      "package": "openssl", "version": "3.0.1"},
                                     {"id": "CVE-2025-2", "severity": "high",
                                      "package": "zlib", "version": "1.2"}],
                        "worst_severity_rank": 5, "asset_id": 7},
                       digest="sha256:" + "b" * 64, golden=True),
            AlertDraft("image.newly_affected", "1 new vulnerability in app@sha",
                       {"findings": [], "worst_severity_rank": 4}, digest="sha256:" + "c" * 64)])
        doc = json.loads(got.wait(1)[0][1])
        time.sleep(0.5)
        assert len(got.items) == 1  # only the golden image's alert is a golden threat
    assert doc["event"] == "golden_image_threat" and doc["severity"] == "critical"
    assert [i["text"] for i in doc["items"]] == ["CRITICAL CVE-2025-1 openssl 3.0.1",
                                                 "HIGH CVE-2025-2 zlib 1.2"]
