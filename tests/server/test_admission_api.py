"""/api/v1/admission: an image's open findings for the webhook, and its decisions into the
audit trail (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from typing import Any

from tests.server.conftest import Server
from tests.server.helpers import body, finding, report

DIGEST = "sha256:" + "b" * 64


def _submit(server: Server, doc: dict[str, Any]) -> dict[str, Any]:
    done = server.post("/api/v1/scans", content=body(doc),
                       headers={"Content-Type": "application/json"})
    assert done.status_code == 201, done.text
    return dict(done.json())


def _decision(uid: str, verdict: str = "deny", **kw: Any) -> dict[str, Any]:
    return {"time": "2026-11-29T09:00:00.000Z", "uid": uid, "allowed": verdict != "deny",
            "verdict": verdict, "mode": "enforce", "operation": "CREATE", "kind": "Pod",
            "namespace": "shop", "name": "web", "user": "alice", "dry_run": False,
            "reasons": [{"action": "deny", "source": "misconfig", "code": "SW-K8S-001",
                         "message": "container web is privileged", "severity": "critical"}],
            "images": [], "note": "", "duration_ms": 0.4, "policy": "admission.yaml", **kw}


def test_image_lookup_by_tag_digest_and_hub_spellings(server: Server) -> None:
    _submit(server, report([finding("a", severity="critical"), finding("b", severity="low")],
                           digest=DIGEST, tags=("nginx:1.25",)))
    for ref in ("nginx:1.25", "docker.io/library/nginx:1.25", "index.docker.io/nginx:1.25",
                f"nginx@{DIGEST}", f"registry-1.docker.io/library/nginx:1.25@{DIGEST}"):
        got = server.get("/api/v1/admission/image", params={"ref": ref})
        assert got.status_code == 200, got.text
        doc = got.json()
        assert doc["found"] is True, ref
        assert doc["digest"] == DIGEST
        assert [f["severity"] for f in doc["findings"]] == ["critical", "low"]  # worst first
        assert doc["scanned_at"].endswith("Z") and doc["truncated"] is False
    missing = server.get("/api/v1/admission/image", params={"ref": "nginx:1.26"}).json()
    assert missing == {"found": False, "ref": "registry-1.docker.io/library/nginx:1.26"}
    bad = server.get("/api/v1/admission/image", params={"ref": "Not A Ref"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "bad_reference"


def test_triaged_and_fixed_findings_are_left_out(server: Server) -> None:
    _submit(server, report([finding("a", severity="critical"), finding("b", severity="high")],
                           digest=DIGEST, tags=("ghcr.io/acme/api:1",)))
    rows = server.get("/api/v1/findings", params={"vuln_id": "CVE-2024-0001"}).json()["items"]
    first = next(r for r in rows if r["severity"] == "critical")
    triaged = server.post(f"/api/v1/findings/{first['id']}/triage",
                          json={"status": "risk_accepted", "reason": "not reachable"})
    assert triaged.status_code == 200, triaged.text
    doc = server.get("/api/v1/admission/image", params={"ref": "ghcr.io/acme/api:1"}).json()
    assert [f["severity"] for f in doc["findings"]] == ["high"]
    _submit(server, report([], digest=DIGEST, tags=("ghcr.io/acme/api:1",)))  # both fixed
    assert server.get("/api/v1/admission/image",
                      params={"ref": "ghcr.io/acme/api:1"}).json()["findings"] == []


def test_decisions_go_to_the_audit_trail(server: Server) -> None:
    sent = server.post("/api/v1/admission/decisions",
                       json={"decisions": [_decision("u-1"), _decision("u-2", "warn")]})
    assert sent.status_code == 201, sent.text
    assert sent.json()["recorded"] == 2
    entries = server.get("/api/v1/audit/entries").json()["items"]
    mine = [e for e in entries if e["action"].startswith("admission.")]
    assert [(e["action"], e["object"], e["actor"]) for e in mine] == [
        ("admission.deny", "Pod/shop/web", "admin"), ("admission.warn", "Pod/shop/web", "admin")]
    assert mine[0]["details"]["uid"] == "u-1"
    assert mine[0]["details"]["reasons"][0]["code"] == "SW-K8S-001"
    assert server.get("/api/v1/audit/verify").json()["ok"] is True


def test_decisions_need_the_agent_scope_and_a_valid_body(server: Server) -> None:
    developer = server.user("dev", "developer")
    refused = server.post("/api/v1/admission/decisions", token=developer,
                          json={"decisions": [_decision("u-1")]})
    assert refused.status_code == 403
    assert server.get("/api/v1/admission/image", token=developer,
                      params={"ref": "nginx"}).status_code == 200  # reading is enough
    for bad in ({"decisions": []}, {"decisions": [_decision("u", "maybe")]},
                {"decisions": [{**_decision("u"), "uid": "x" * 200}]}, {"nope": 1}):
        answer = server.post("/api/v1/admission/decisions", json=bad)
        assert answer.status_code == 422, bad
    assert not [e for e in server.get("/api/v1/audit/entries").json()["items"]
                if e["action"].startswith("admission.")]


def test_a_value_the_database_cannot_store_is_a_client_error(server: Server) -> None:
    # A NUL character in the object's name: PostgreSQL's text refuses it (422, never a 500).
    odd = _decision("nul", name="web\u0000")
    raw = json.dumps({"decisions": [odd]})
    sent = server.post("/api/v1/admission/decisions", content=raw.encode(),
                       headers={"Content-Type": "application/json"})
    if server.backend == "postgresql":
        assert sent.status_code == 422, sent.text
        assert sent.json()["error"]["code"] == "unstorable_value"
    else:
        assert sent.status_code == 201, sent.text
    assert server.get("/api/v1/admission/image", params={"ref": "nginx:1"}).status_code == 200
