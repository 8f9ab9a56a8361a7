"""Ingestion and the findings lifecycle: new -> open -> fixed -> reopened, dedup, triage, search."""

from __future__ import annotations

from typing import Any

from tests.server.conftest import Server
from tests.server.helpers import finding, report


def states(server: Server, **params: Any) -> dict[str, str]:
    r = server.get("/api/v1/findings", params={"limit": 500, **params})
    assert r.status_code == 200, r.text
    return {f["fingerprint"]: f["state"] for f in r.json()["items"]}


def submit(server: Server, doc: dict[str, Any]) -> dict[str, Any]:
    r = server.post("/api/v1/scans", json=doc)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def test_lifecycle_across_scans(server: Server) -> None:
    first = submit(server, report([finding("a"), finding("b"), finding("b")]))
    assert (first["new"], first["duplicates"], first["findings"]) == (2, 1, 2)
    assert states(server) == {"a": "new", "b": "new"}
    second = submit(server, report([finding("a"), finding("c")]))
    assert (second["new"], second["still_open"], second["fixed"]) == (1, 1, 1)
    assert states(server) == {"a": "open", "b": "fixed", "c": "new"}
    third = submit(server, report([finding("a"), finding("b"), finding("c")]))
    assert third["reopened"] == 1
    assert states(server) == {"a": "open", "b": "reopened", "c": "open"}
    # the same fingerprint on another image is another finding (per asset)
    submit(server, report([finding("a")], digest="sha256:" + "b" * 64, tags=("app:2.0",)))
    assert len(server.get("/api/v1/findings", params={"vuln_id": "CVE-2024-0001"})
               .json()["items"]) == 4


def test_scan_of_other_kind_does_not_fix(server: Server) -> None:
    submit(server, report([finding("v1"), finding("s1", kind="secret", vuln="aws-key")],
                          scanners=("vuln", "secret")))
    submit(server, report([], scanners=("vuln",)))  # a vuln-only scan says nothing of secrets
    assert states(server) == {"v1": "fixed", "s1": "new"}


def test_assets_images_by_digest_with_tags(server: Server) -> None:
    submit(server, report([finding("a")], tags=("reg/app:1.0",)))
    submit(server, report([finding("a")], tags=("reg/app:latest",)))
    assets = server.get("/api/v1/assets").json()["items"]
    assert len(assets) == 1
    asset = assets[0]
    assert asset["kind"] == "image" and asset["digest"] == "sha256:" + "a" * 64
    assert asset["tags"] == ["reg/app:1.0", "reg/app:latest"]
    detail = server.get(f"/api/v1/assets/{asset['id']}").json()
    assert detail["findings"] == {"open": {"high": 1}}
    scans = server.get("/api/v1/scans", params={"asset_id": asset["id"]}).json()["items"]
    assert len(scans) == 2 and scans[0]["id"] > scans[1]["id"]
    # hosts and clusters are named explicitly
    submit(server, report([], asset={"kind": "host", "name": "web-1"}))
    hosts = server.get("/api/v1/assets", params={"kind": "host"}).json()["items"]
    assert [h["name"] for h in hosts] == ["web-1"]


def test_report_kept_byte_for_byte(server: Server) -> None:
    import hashlib
    import json

    data = json.dumps(report([finding("a")], extra_key_from_newer_scanner={"x": 1})).encode()
    r = server.post("/api/v1/scans", content=data,
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 201, r.text
    got = server.get(f"/api/v1/scans/{r.json()['scan_id']}/report")
    assert got.content == data
    assert r.json()["report_sha256"] == hashlib.sha256(data).hexdigest()


def test_filters_and_keyset_pagination(server: Server) -> None:
    rows = []
    for i in range(30):
        rows.append(finding(f"f{i:02d}", vuln=f"CVE-2024-{i:04d}",
                            severity=["critical", "high", "medium", "low", "unknown"][i % 5],
                            kev=i % 7 == 0, fixed=i % 2 == 0, package=f"pkg{i % 3}"))
    submit(server, report(rows))
    seen: list[int] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 7, **({"cursor": cursor} if cursor else {})}
        page = server.get("/api/v1/findings", params=params).json()
        seen += [f["id"] for f in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 30 == len(set(seen)) and seen == sorted(seen, reverse=True)
    by_sev: list[str] = []
    cursor = None
    while True:
        params = {"limit": 4, "sort": "severity", **({"cursor": cursor} if cursor else {})}
        page = server.get("/api/v1/findings", params=params).json()
        by_sev += [f["severity"] for f in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    order = ["critical", "high", "medium", "low", "unknown"]
    assert len(by_sev) == 30 and by_sev == sorted(by_sev, key=order.index)
    cases: list[tuple[dict[str, Any], int]] = [
        ({"severity": "critical"}, 6), ({"severity": ["critical", "high"]}, 12),
        ({"min_severity": "medium"}, 18), ({"kev": "true"}, 5), ({"fix_available": "false"}, 15),
        ({"package": "pkg1"}, 10), ({"kind": "vulnerability"}, 30), ({"kind": "secret"}, 0),
        ({"state": "new"}, 30), ({"state": "fixed"}, 0), ({"max_age_days": 1}, 30),
        ({"min_age_days": 1}, 0), ({"kev": "true", "severity": "critical"}, 1),
        ({"vuln_id": "CVE-2024-0007"}, 1),
    ]
    for params, expected in cases:
        r = server.get("/api/v1/findings", params={**params, "limit": 500})
        assert r.status_code == 200, (params, r.text)
        assert len(r.json()["items"]) == expected, params
    assets = server.get("/api/v1/assets").json()["items"]
    r = server.get("/api/v1/findings", params={"asset_id": assets[0]["id"], "limit": 500})
    assert len(r.json()["items"]) == 30
    bad = server.get("/api/v1/findings", params={"cursor": "not-a-cursor"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "bad_cursor"


def test_triage_ignore_and_accept(server: Server) -> None:
    submit(server, report([finding("a"), finding("b")]))
    items = server.get("/api/v1/findings").json()["items"]
    fid = {f["fingerprint"]: f["id"] for f in items}
    r = server.post(f"/api/v1/findings/{fid['a']}/triage",
                    json={"status": "ignored", "reason": "not reachable",
                          "expires_at": "2099-01-01T00:00:00Z"})
    assert r.status_code == 200, r.text
    assert r.json()["triage"] == {"status": "ignored", "reason": "not reachable", "by": "admin",
                                  "approver": "", "expires_at": "2099-01-01T00:00:00Z",
                                  "at": r.json()["triage"]["at"], "expired": False}
    r = server.post(f"/api/v1/findings/{fid['b']}/triage",
                    json={"status": "risk_accepted", "reason": "compensating control"})
    assert r.json()["triage"]["approver"] == "admin"
    assert {f["fingerprint"] for f in server.get(
        "/api/v1/findings", params={"triage": "ignored"}).json()["items"]} == {"a"}
    assert server.get("/api/v1/findings", params={"triage": "none"}).json()["items"] == []
    # triage survives re-scans (same fingerprint)
    submit(server, report([finding("a"), finding("b")]))
    assert server.get(f"/api/v1/findings/{fid['a']}").json()["triage"]["status"] == "ignored"
    past = server.post(f"/api/v1/findings/{fid['a']}/triage",
                       json={"status": "ignored", "expires_at": "2000-01-01T00:00:00Z"})
    assert past.status_code == 422
    cleared = server.post(f"/api/v1/findings/{fid['a']}/triage", json={"status": "none"})
    assert cleared.json()["triage"]["status"] == "none"
    actions = [e["action"] for e in server.get("/api/v1/audit/entries",
                                               params={"limit": 1000}).json()["items"]]
    assert actions.count("finding.ignored") == 1 and "finding.risk_accepted" in actions
    assert "finding.triage_clear" in actions and actions.count("scan.submit") == 2


def test_queued_ingestion_job(server: Server) -> None:
    import time

    r = server.post("/api/v1/scans", params={"wait": "false"}, json=report([finding("a")]))
    assert r.status_code == 202, r.text
    job_id = r.json()["job"]["id"]
    for _ in range(200):
        job = server.get(f"/api/v1/jobs/{job_id}").json()
        if job["state"] in ("succeeded", "failed"):
            break
        time.sleep(0.05)
    assert job["state"] == "succeeded", job
    assert job["result"]["new"] == 1
    assert states(server) == {"a": "new"}
    assert server.get("/api/v1/jobs").json()["items"][0]["id"] == job_id
