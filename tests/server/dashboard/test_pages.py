"""The dashboard through its HTTP interface: sign-in and cookies, CSRF on every form, roles,
triage with validation, bulk triage, SLA policy, scan diff, escaping everywhere."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from tests.server.conftest import ADMIN_PASSWORD, Server
from tests.server.helpers import finding, report
from tests.server.dashboard.conftest import (
    browser_client,
    csrf_of,
    make_user,
    post_form,
    sign_in,
)

PAGES = ["/", "/findings", "/findings/1", "/assets", "/assets/1", "/audit", "/compliance",
         "/compliance/pci-dss-4", "/settings/tokens", "/settings/users", "/settings/teams",
         "/settings/channels", "/settings/policies", "/hosts", "/registries"]


def _upload(server: Server, findings: list[dict], **kw: object) -> dict:
    r = server.post("/api/v1/scans", json=report(findings, **kw))
    assert r.status_code == 201, r.text
    return r.json()


def test_sign_in_cookie_and_redirects(dash: Server) -> None:
    client = browser_client(dash)
    r = client.get("/findings?severity=high", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=%2Ffindings%3Fseverity%3Dhigh"
    page = client.get("/login")
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    assert "script-src" not in page.headers["content-security-policy"]  # no script at all
    login_cookie = page.headers["set-cookie"]
    assert "HttpOnly" in login_cookie and "SameSite=strict" in login_cookie
    # wrong password: the form again, with one message, status 401
    r = client.post("/login", data={"csrf": csrf_of(page.text), "username": "admin",
                                    "password": "wrong password!", "next": "/"})
    assert r.status_code == 401 and "Wrong user name or password." in r.text
    # no CSRF token: refused before the password is even checked
    r = client.post("/login", data={"username": "admin", "password": ADMIN_PASSWORD})
    assert r.status_code == 403 and "form expired" in r.text
    # an open redirect is not possible through `next`
    page = client.get("/login")
    r = client.post("/login", data={"csrf": csrf_of(page.text), "username": "admin",
                                    "password": ADMIN_PASSWORD, "next": "//evil.example/x"},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"
    cookie = r.headers["set-cookie"]
    assert re.search(r"sw_session=swt_\d+_", cookie)
    for flag in ("HttpOnly", "Secure", "SameSite=strict", "Path=/"):
        assert flag in cookie, flag
    assert client.get("/").status_code == 200
    # sign out revokes the session token: the same cookie no longer works
    session_cookie = client.cookies.get("sw_session")
    r = post_form(client, "/", "/logout", {})
    assert r.status_code == 303
    other = browser_client(dash)
    other.cookies.set("sw_session", session_cookie, domain="testserver.local")
    assert other.get("/", follow_redirects=False).status_code == 303


def test_every_form_needs_its_csrf_token(dash: Server) -> None:
    _upload(dash, [finding("a")])
    client = sign_in(dash)
    html = "".join(client.get(p).text for p in PAGES)
    actions = sorted(set(re.findall(r'<form[^>]*method="post"[^>]*action="([^"?]+)', html)))
    assert len(actions) >= 12, actions
    for action in actions:
        r = client.post(action, data={"status": "ignored", "reason": "x", "name": "x"},
                        follow_redirects=False)
        assert r.status_code == 403, (action, r.status_code)
        r = client.post(action, data={"csrf": "0" * 64, "reason": "x"}, follow_redirects=False)
        assert r.status_code == 403, action
    # nothing changed
    assert dash.get("/api/v1/findings/1").json()["triage"]["status"] == "none"


def test_escaping_everywhere(dash: Server) -> None:
    evil = "<script>alert(1)</script>"
    bad = finding("x1", package=evil, severity="critical", kev=True)
    bad["title"] = '<img src=x onerror="alert(2)">'
    bad["description"] = "</p><script>alert(3)</script>"
    bad["references"] = ["javascript:alert(4)", "https://example.com/<b>"]
    first = _upload(dash, [bad, finding("x2")], tags=(f"registry.example/{evil}:1",))
    _upload(dash, [finding("x2")], tags=(f"registry.example/{evil}:1",))
    client = sign_in(dash)
    post_form(client, "/findings/1", "/findings/1/triage",
              {"status": "ignored", "reason": f"because {evil}"})
    pages = [*PAGES, f"/assets/{first['asset_id']}/diff?a=1&b=2", "/audit?actor=admin"]
    for path in pages:
        body = client.get(path).text
        assert "<script>" not in body and "onerror=\"alert" not in body, path
        assert "javascript:alert" not in body.replace("javascript:alert(4)</li>", ""), path
    detail = client.get("/findings/1").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in detail
    assert 'href="javascript:' not in detail
    assert "&lt;img src=x onerror=" in detail
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in client.get("/audit").text


def test_roles_developer_sees_team_assets_auditor_reads_only(dash: Server) -> None:
    _upload(dash, [finding("a")], digest="sha256:" + "1" * 64,
            tags=("registry.example/payments/api:1",))
    _upload(dash, [finding("b")], digest="sha256:" + "2" * 64,
            tags=("registry.example/search/api:1",))
    dev_pw = make_user(dash, "dev", "developer")
    auditor_pw = make_user(dash, "aud", "auditor")
    admin = sign_in(dash)
    r = post_form(admin, "/settings/teams", "/settings/teams",
                  {"name": "payments", "patterns": "registry.example/payments/*",
                   "members": ["dev"]})
    assert r.status_code == 303, r.text
    dev = sign_in(dash, "dev", dev_pw)
    assets = dev.get("/assets").text
    assert "payments/api" in assets and "search/api" not in assets
    findings = dev.get("/findings").text
    assert "/findings/1\"" in findings and "/findings/2\"" not in findings
    assert dev.get("/findings/2").status_code == 404
    assert dev.get("/assets/2").status_code == 404
    assert 'name="ids"' not in findings  # no bulk triage for developers
    r = post_form(dev, "/findings/1", "/findings/1/triage", {"status": "ignored", "reason": "x"})
    assert r.status_code == 403
    assert dev.get("/settings/users").status_code == 403
    # the overview counts only the team's findings
    assert ">1</b>" in dev.get("/").text.split("Open findings")[1][:80]

    aud = sign_in(dash, "aud", auditor_pw)
    assert "search/api" in aud.get("/assets").text  # everything …
    page = aud.get("/findings/1").text
    assert 'id="triage-form"' not in page
    users = aud.get("/settings/users")
    assert users.status_code == 200 and 'id="user-form"' not in users.text  # … read-only
    r = post_form(aud, "/settings/tokens", "/settings/users",
                  {"username": "x", "password": "p" * 12, "password2": "p" * 12,
                   "role": "admin"})
    assert r.status_code == 403
    r = post_form(aud, "/findings/1", "/findings/1/triage", {"status": "ignored", "reason": "x"})
    assert r.status_code == 403
    assert dash.get("/api/v1/findings/1").json()["triage"]["status"] == "none"


@pytest.mark.parametrize(("data", "field", "message"), [
    ({"status": "ignored", "reason": ""}, "reason", "say why"),
    ({"status": "ignored", "reason": "ok", "expires": "2001-01-01"}, "expires", "in the past"),
    ({"status": "ignored", "reason": "ok", "expires": "next week"}, "expires", "YYYY-MM-DD"),
    ({"status": "delete", "reason": "ok"}, "status", "choose ignore"),
])
def test_triage_form_validates_and_explains(dash: Server, data: dict, field: str,
                                            message: str) -> None:
    _upload(dash, [finding("a")])
    client = sign_in(dash)
    r = post_form(client, "/findings/1", "/findings/1/triage", data)
    assert r.status_code == 422
    assert f'id="err-{field}"' in r.text and message in r.text
    assert dash.get("/api/v1/findings/1").json()["triage"]["status"] == "none"


def test_triage_assign_and_bulk_are_audited(dash: Server) -> None:
    _upload(dash, [finding(f"f{i}", vuln=f"CVE-2024-000{i}") for i in range(4)])
    make_user(dash, "sam", "security-engineer")
    client = sign_in(dash)
    r = post_form(client, "/findings/1", "/findings/1/triage",
                  {"status": "risk_accepted", "reason": "compensating WAF rule",
                   "expires": "2099-12-31"})
    assert r.status_code == 303 and r.headers["location"] == "/findings/1?done=risk_accepted"
    shown = client.get(r.headers["location"]).text
    assert "Risk accepted." in shown and "compensating WAF rule" in shown
    got = dash.get("/api/v1/findings/1").json()["triage"]
    assert got["status"] == "risk_accepted" and got["expires_at"] == "2100-01-01T00:00:00Z"
    r = post_form(client, "/findings/1", "/findings/1/assign", {"assignee": "nobody-here"})
    assert r.status_code == 422 and "no user named" in r.text
    assert post_form(client, "/findings/1", "/findings/1/assign",
                     {"assignee": "sam"}).status_code == 303
    assert "sam" in client.get("/findings?assignee=sam").text
    # bulk: three findings ignored at once, the list's filters kept
    r = post_form(client, "/findings", "/findings/bulk?sort=newest",
                  {"ids": ["2", "3", "4"], "action": "ignored", "reason": "test fixtures"})
    assert r.status_code == 303 and r.headers["location"] == "/findings?sort=newest&done=bulk"
    # a bulk action without a reason changes nothing and says why
    r = post_form(client, "/findings", "/findings/bulk", {"ids": ["1"], "action": "ignored"})
    assert r.status_code == 422 and "say why" in r.text
    entries = dash.get("/api/v1/audit/entries?limit=1000").json()["items"]
    actions = [(e["action"], e["object"], e["details"].get("reason")) for e in entries]
    assert ("finding.risk_accepted", "finding:1", "compensating WAF rule") in actions
    assert ("finding.assign", "finding:1", None) in actions
    for n in (2, 3, 4):
        assert ("finding.ignored", f"finding:{n}", "test fixtures") in actions
    assert "No finding matches" in client.get("/findings").text  # untriaged: none left


def test_sla_policy_breaches_and_form_errors(dash: Server) -> None:
    from stackwarden.server.auth import utcnow
    from stackwarden.server.db.models import FindingRow

    _upload(dash, [finding("a", severity="critical"), finding("b", severity="low")])
    with dash.ctx.db.transaction() as session:
        session.execute(update(FindingRow).values(first_seen=utcnow() - timedelta(days=20)))
    client = sign_in(dash)
    overview = client.get("/").text
    assert 'href="/findings?breached=1">1</a>' in overview  # critical: 15 days by default
    r = post_form(client, "/settings/policies", "/settings/policies",
                  {"critical": "-3", "high": "x", "medium": "90", "low": ""})
    assert r.status_code == 422 and "a whole number of days" in r.text
    r = post_form(client, "/settings/policies", "/settings/policies",
                  {"critical": "30", "high": "30", "medium": "90", "low": "10"})
    assert r.status_code == 303
    breached = client.get("/findings?breached=1").text
    assert "/findings/2\"" in breached and "/findings/1\"" not in breached
    assert "breached" in client.get("/findings/2").text


def test_asset_page_layers_sbom_history_and_diff(dash: Server) -> None:
    layers = [{"index": 0, "digest": "sha256:l0", "diff_id": "sha256:d0", "size": 10,
               "media_type": "x", "created_by": "ADD rootfs"},
              {"index": 1, "digest": "sha256:l1", "diff_id": "sha256:d1", "size": 20,
               "media_type": "x", "created_by": "RUN apt-get install openssl"}]
    f1 = finding("a", package="openssl")
    f1["location"]["layer"] = "sha256:d1"
    doc = report([f1, finding("b", package="zlib")])
    doc["artifact"]["layers"] = layers
    doc["sbom"]["packages"] = [{"name": "openssl", "version": "1.0", "type": "deb",
                                "layer": "sha256:d1"}]
    assert dash.post("/api/v1/scans", json=doc).status_code == 201
    doc2 = report([f1, finding("c", package="curl", vuln="CVE-2024-9")])
    doc2["artifact"]["layers"] = layers
    doc2["sbom"]["packages"] = [*doc["sbom"]["packages"], {"name": "curl", "version": "8",
                                                           "type": "deb"}]
    assert dash.post("/api/v1/scans", json=doc2).status_code == 201
    client = sign_in(dash)
    page = client.get("/assets/1").text
    assert "RUN apt-get install openssl" in page and 'id="sbom"' in page
    assert re.search(r"<td>openssl</td><td>1.0</td><td>deb</td><td>1</td>", page)
    diff = client.get("/assets/1/diff?a=1&b=2").text
    added = diff.split('id="diff-added"')[1].split("</table>")[0]
    removed = diff.split('id="diff-removed"')[1].split("</table>")[0]
    assert "CVE-2024-9" in added and "zlib" in removed and "openssl" not in added
    assert "+ curl 8" in diff
    assert client.get("/assets/1/diff?a=1&b=1").status_code == 422
    assert client.get("/assets/1/diff?a=1&b=99").status_code == 422


def test_labels_raise_priority_and_gate_rate(dash: Server) -> None:
    from stackwarden.server.db.models_dashboard import AssetLabel

    _upload(dash, [finding("a", severity="medium")], gate={"passed": False, "failed": [
        {"rule": "fail-on-medium", "message": "1 finding"}]})
    _upload(dash, [finding("a", severity="medium")], gate={"passed": True, "failed": []})
    client = sign_in(dash)
    band = re.compile(r'band-P\d" title="[^"]*">(P\d) · ([\d.]+)')
    before = band.search(client.get("/findings").text)
    assert before is not None
    r = post_form(client, "/assets/1", "/assets/1/labels", {"labels": ["internet-facing",
                                                                      "not-a-label"]})
    assert r.status_code == 303
    with dash.ctx.db.session() as session:
        assert [l.label for l in session.execute(select(AssetLabel)).scalars()] == [
            "internet-facing"]
    after = band.search(client.get("/findings").text)
    assert after is not None and float(after.group(2)) == float(before.group(2)) + 10
    assert "asset is internet-facing" in client.get("/findings/1").text
    overview = client.get("/").text
    assert "50%" in overview and "1 of 2 pipeline runs passed" in overview
    assert "failed" in client.get("/assets/1").text


def test_token_shown_once_and_user_form(dash: Server) -> None:
    client = sign_in(dash)
    r = post_form(client, "/settings/tokens", "/settings/tokens",
                  {"name": "", "expires_in_days": "0"})
    assert r.status_code == 422
    for msg in ("required: what the token is for", "choose at least one scope",
                "a whole number of days"):
        assert msg in r.text
    r = post_form(client, "/settings/tokens", "/settings/tokens",
                  {"name": "ci", "scopes": ["scan:submit"], "expires_in_days": "30"})
    assert r.status_code == 201
    token = re.search(r'class="secret">(swt_[^<]+)<', r.text).group(1)
    assert dash.get("/api/v1/auth/me", token=token).status_code == 200
    assert token not in client.get("/settings/tokens").text
    r = post_form(client, "/settings/users", "/settings/users",
                  {"username": "bad name", "password": "short", "password2": "other",
                   "role": "king"})
    assert r.status_code == 422
    for msg in ("one of admin", "at least 12 characters", "the two passwords differ"):
        assert msg in r.text
    assert "short" not in r.text.split('id="user-form"')[1]  # passwords are never echoed
    r = post_form(client, "/settings/users", "/settings/users",
                  {"username": "eve", "password": "p" * 12, "password2": "p" * 12,
                   "role": "auditor"})
    assert r.status_code == 303
    r = post_form(client, "/settings/users", "/settings/users/1", {"role": "auditor"})
    assert r.status_code == 422 and "cannot disable or demote themselves" in r.text
