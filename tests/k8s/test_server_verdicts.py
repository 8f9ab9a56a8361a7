"""Image verdicts from a real StackWarden server process (cached), decisions into its audit
trail, and what happens when the server goes away."""

from __future__ import annotations

import copy
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from stackwarden.artifact.registry import parse_reference
from stackwarden.core.findings import Severity
from stackwarden.k8s.verdicts import ServerVerdicts
from stackwarden.policy.gate import GatePolicy, fail_on_rule
from tests.helpers.registry import free_port
from tests.k8s.conftest import ScannedImages
from tests.k8s.helpers import SECURE_CONTAINER, Webhook, env, start_webhook, workload, wrap

PASSWORD = "a long enough admin password"


@dataclass
class RunningServer:
    url: str
    token: str
    process: subprocess.Popen[bytes]

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return httpx.get(self.url + path, headers={"Authorization": f"Bearer {self.token}"},
                         timeout=10, **kw)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=15)


@pytest.fixture(scope="module")
def stackwarden_server(tmp_path_factory: pytest.TempPathFactory,
                       scanned_images: ScannedImages) -> Iterator[RunningServer]:
    from stackwarden.server.client import upload_report

    data = tmp_path_factory.mktemp("server-data")
    flags = ["--data-dir", str(data)]
    init = subprocess.run([sys.executable, "-m", "stackwarden", "server", "init",
                           "--password-stdin", *flags], input=PASSWORD.encode() + b"\n",
                          capture_output=True, env=env(), timeout=120, check=True)
    token = init.stdout.decode().strip()
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "stackwarden", "server", "--port",
                                str(port), *flags], stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env())
    server = RunningServer(f"http://127.0.0.1:{port}", token, process)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(server.url + "/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    else:
        server.stop()
        pytest.fail("the server did not start")
    for name in ("bad", "clean"):
        upload_report(server.url, token, (scanned_images.reports / f"{name}.json").read_bytes())
    yield server
    server.stop()


@pytest.fixture(scope="module")
def hook(tmp_path_factory: pytest.TempPathFactory, certs: Path, scanned_images: ScannedImages,
         stackwarden_server: RunningServer) -> Iterator[Webhook]:
    tmp = tmp_path_factory.mktemp("webhook-server")
    policy = tmp / "admission.yaml"
    policy.write_text("mode: enforce\nimages:\n  tag_not_digest: allow\n  gate:\n"
                      "    fail_on: high\n")
    webhook = start_webhook(tmp, certs, "--policy", str(policy), "--server",
                            stackwarden_server.url, "--token", stackwarden_server.token,
                            "--audit-to-server", "--cache-ttl", "1", "--server-timeout", "0.5")
    yield webhook
    webhook.stop()


def _pod(image: str) -> dict[str, Any]:
    return wrap(workload("Pod", [{"name": "app", "image": image,
                                  **copy.deepcopy(SECURE_CONTAINER)}]))


def _audit_actions(server: RunningServer) -> list[dict[str, Any]]:
    items = server.get("/api/v1/audit/entries", params={"limit": 1000}).json()["items"]
    return [e for e in items if e["action"].startswith("admission.")]


def test_verdicts_from_the_server_and_decisions_in_its_audit_trail(
        hook: Webhook, stackwarden_server: RunningServer, scanned_images: ScannedImages) -> None:
    bad = _pod(scanned_images.bad)
    denied = hook.review(bad)
    assert denied["allowed"] is False
    assert "fails fail-on-high: 1 finding: EICAR_Test_File" in denied["status"]["message"]
    assert hook.review(_pod(scanned_images.by_digest("bad")))["allowed"] is False
    clean = _pod(scanned_images.clean)
    assert hook.review(clean) == {"uid": clean["request"]["uid"], "allowed": True}
    logged = {d["uid"]: d for d in hook.decisions()}
    assert logged[clean["request"]["uid"]]["images"][0]["origin"] == "server"
    # shipped in the background: wait for the batch
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        entries = {e["details"]["uid"]: e for e in _audit_actions(stackwarden_server)}
        if bad["request"]["uid"] in entries and clean["request"]["uid"] in entries:
            break
        time.sleep(0.2)
    else:
        pytest.fail("decisions never reached the audit trail")
    assert entries[bad["request"]["uid"]]["action"] == "admission.deny"
    assert entries[bad["request"]["uid"]]["object"] == "Pod/shop/app"
    assert entries[clean["request"]["uid"]]["action"] == "admission.allow"
    assert stackwarden_server.get("/api/v1/audit/verify").json()["ok"] is True


def test_triage_on_the_server_changes_the_verdict_after_the_ttl(
        hook: Webhook, stackwarden_server: RunningServer, scanned_images: ScannedImages) -> None:
    rows = stackwarden_server.get("/api/v1/findings",
                                  params={"vuln_id": "EICAR_Test_File"}).json()["items"]
    answer = httpx.post(f"{stackwarden_server.url}/api/v1/findings/{rows[0]['id']}/triage",
                        json={"status": "risk_accepted", "reason": "the test file"},
                        headers={"Authorization": f"Bearer {stackwarden_server.token}"})
    assert answer.status_code == 200, answer.text
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # the cached verdict lives 1 s, then is refreshed
        if hook.review(_pod(scanned_images.by_digest("bad")))["allowed"]:
            break
        time.sleep(0.3)
    else:
        pytest.fail("the triage never reached the webhook")


def test_server_gone_known_images_stay_cached_unknown_ones_fail_fast(
        hook: Webhook, stackwarden_server: RunningServer, scanned_images: ScannedImages) -> None:
    hook.review(_pod(scanned_images.clean))  # warm
    stackwarden_server.stop()
    time.sleep(1.2)  # past the TTL: the stale verdict is served while refreshes fail
    assert hook.review(_pod(scanned_images.clean))["allowed"] is True
    started = time.monotonic()
    unknown = hook.review(_pod(f"{scanned_images.host}/acme/never@sha256:" + "12" * 32))
    assert time.monotonic() - started < 2.0  # --server-timeout 0.5
    assert unknown["allowed"] is False
    assert "has no known scan (server unreachable: ConnectError)" in \
        unknown["status"]["message"]


def _verdicts(calls: list[str], clock: list[float], status: int = 200) -> ServerVerdicts:
    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.params["ref"])
        if status != 200:
            return httpx.Response(status)
        return httpx.Response(200, json={"found": True, "digest": None, "asset_id": 1,
                                         "scanned_at": "2026-11-29T00:00:00Z", "findings": []})

    gate = GatePolicy(rules=(fail_on_rule(Severity.HIGH),))
    return ServerVerdicts("http://stackwarden.test", "swt_x", gate, ttl=10, negative_ttl=5,
                          max_stale=100, clock=lambda: clock[0],
                          transport=httpx.MockTransport(handler))


def test_cache_is_fresh_then_stale_while_revalidating_then_gone() -> None:
    calls: list[str] = []
    clock = [0.0]
    verdicts = _verdicts(calls, clock)
    ref = parse_reference("ghcr.io/acme/app:1")
    assert verdicts.lookup(ref).origin == "server"
    assert verdicts.lookup(ref).origin == "server-cache"
    assert len(calls) == 1
    clock[0] = 11  # stale: answered from cache at once, refreshed in the background
    assert verdicts.lookup(ref).origin == "server-stale"
    deadline = time.monotonic() + 5
    while len(calls) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert calls == ["ghcr.io/acme/app:1"] * 2
    assert verdicts.lookup(ref).origin == "server-cache"
    clock[0] = 500  # beyond max_stale: asked again, waiting for the answer
    assert verdicts.lookup(ref).origin == "server"
    assert len(calls) == 3
    verdicts.close()
