"""Access control: nothing without a token, roles and scopes, hashed tokens, rate-limited login,
secrets never in responses or logs."""

from __future__ import annotations

import logging
import re

import pytest
from sqlalchemy import select

from tests.server.conftest import ADMIN_PASSWORD, Server
from tests.server.helpers import finding, report

OPEN = {"/healthz", "/readyz"}
# where credentials are exchanged for a token (a password; an agent's enrollment token)
EXCHANGE = {"/api/v1/auth/login", "/api/v1/agents/enroll"}


def test_nothing_answers_without_authentication(server: Server) -> None:
    spec = server.get("/api/openapi.json").json()
    operations = [(method, path) for path, item in spec["paths"].items() for method in item]
    assert len(operations) > 25
    for method, path in operations:
        url = re.sub(r"\{[a-z_]+\}", "1", path)
        r = server.client.request(method.upper(), url)
        if path in OPEN:
            assert r.status_code == 200, (method, path)
        elif path in EXCHANGE:
            assert r.status_code == 422  # no credentials, nothing answered
        else:
            assert r.status_code == 401, (method, path, r.status_code)
            assert r.json()["error"]["code"] == "unauthorized"
            assert r.headers["www-authenticate"] == "Bearer"
    for header in ("Bearer swt_1_wrong", "Bearer nonsense", "Basic YWRtaW46YWRtaW4=",
                   f"Bearer {server.token}x", f"Bearer {server.token[:-1]}"):
        r = server.client.get("/api/v1/findings", headers={"Authorization": header})
        assert r.status_code == 401, header


# (role, method, path, json, expected status)
MATRIX = [
    ("developer", "post", "/api/v1/scans", "report", 201),
    ("developer", "get", "/api/v1/findings", None, 200),
    ("developer", "post", "/api/v1/findings/1/triage", {"status": "ignored"}, 403),
    ("developer", "get", "/api/v1/users", None, 403),
    ("developer", "get", "/api/v1/audit/export", None, 403),
    ("security-engineer", "post", "/api/v1/findings/1/triage", {"status": "ignored"}, 200),
    ("security-engineer", "post", "/api/v1/users", {"username": "x", "password": "p" * 12,
                                                    "role": "admin"}, 403),
    ("auditor", "get", "/api/v1/findings", None, 200),
    ("auditor", "get", "/api/v1/audit/entries", None, 200),
    ("auditor", "get", "/api/v1/audit/verify", None, 200),
    ("auditor", "get", "/api/v1/audit/export", None, 200),
    ("auditor", "post", "/api/v1/scans", "report", 403),
    ("auditor", "post", "/api/v1/findings/1/triage", {"status": "ignored"}, 403),
    ("auditor", "post", "/api/v1/jobs", {"kind": "audit_checkpoint"}, 403),
    ("auditor", "patch", "/api/v1/users/1", {"disabled": True}, 403),
]


def test_roles(server: Server) -> None:
    assert server.post("/api/v1/scans", json=report([finding("a")])).status_code == 201
    tokens = {role: server.user(role.replace("-", ""), role)
              for role in ("developer", "security-engineer", "auditor")}
    for role, method, path, body, expected in MATRIX:
        payload = report([finding("a")]) if body == "report" else body
        r = server.client.request(method.upper(), path, json=payload,
                                  headers=server.auth(tokens[role]))
        assert r.status_code == expected, (role, method, path, r.text)
        if expected == 403:
            assert r.json()["error"]["code"] == "forbidden"


def test_tokens_scoped_hashed_revocable(server: Server) -> None:
    from stackwarden.server.db.models import ApiToken

    made = server.post("/api/v1/tokens", json={"name": "ci", "scopes": ["scan:submit"]})
    assert made.status_code == 201, made.text
    ci_token = made.json()["token"]
    assert ci_token.startswith("swt_")
    # shown once: listing never returns it
    listed = server.get("/api/v1/tokens").json()["items"]
    assert ci_token not in str(listed) and any(t["name"] == "ci" for t in listed)
    # stored hashed
    with server.ctx.db.session() as session:
        stored = [r.secret_hash for r in session.execute(select(ApiToken)).scalars()]
    secret = ci_token.split("_", 2)[2]
    assert all(secret not in h for h in stored)
    # scope limits: submit yes, read no
    assert server.post("/api/v1/scans", token=ci_token,
                       json=report([finding("a")])).status_code == 201
    assert server.get("/api/v1/findings", token=ci_token).status_code == 403
    # unknown scope, scope beyond the role
    bad = server.post("/api/v1/tokens", json={"name": "x", "scopes": ["root"]})
    assert bad.status_code == 422
    dev = server.user("dev", "developer")
    beyond = server.post("/api/v1/tokens", token=dev, json={"name": "x", "scopes": ["admin"]})
    assert beyond.status_code == 403
    # revoke
    tid = made.json()["id"]
    assert server.client.delete(f"/api/v1/tokens/{tid}", headers=server.auth()).status_code == 200
    assert server.post("/api/v1/scans", token=ci_token,
                       json=report([finding("a")])).status_code == 401
    # a demoted user's tokens lose the scopes of the old role at once
    sec = server.user("sec", "security-engineer")
    items = server.get("/api/v1/findings", token=sec).json()["items"]
    sec_id = next(u["id"] for u in server.get("/api/v1/users").json()["items"]
                  if u["username"] == "sec")
    r = server.client.patch(f"/api/v1/users/{sec_id}", headers=server.auth(),
                            json={"role": "auditor"})
    assert r.status_code == 200, r.text
    denied = server.post(f"/api/v1/findings/{items[0]['id']}/triage", token=sec,
                         json={"status": "ignored"})
    assert denied.status_code == 403


def test_login_rate_limited(server: Server) -> None:
    for _ in range(5):
        r = server.client.post("/api/v1/auth/login",
                               json={"username": "admin", "password": "wrong password!"})
        assert r.status_code == 401
    r = server.client.post("/api/v1/auth/login",
                           json={"username": "admin", "password": ADMIN_PASSWORD})
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    entries = server.get("/api/v1/audit/entries", params={"limit": 1000}).json()["items"]
    assert sum(e["action"] == "auth.login_failed" for e in entries) == 5


def test_login_and_logout(server: Server) -> None:
    r = server.client.post("/api/v1/auth/login",
                           json={"username": "admin", "password": ADMIN_PASSWORD})
    assert r.status_code == 200, r.text
    token = r.json()["token"]
    me = server.get("/api/v1/auth/me", token=token).json()
    assert me["role"] == "admin" and "admin" in me["scopes"]
    assert server.post("/api/v1/auth/logout", token=token).status_code == 200
    assert server.get("/api/v1/auth/me", token=token).status_code == 401
    nobody = server.client.post("/api/v1/auth/login",
                                json={"username": "nobody", "password": "whatever-it-is"})
    assert nobody.status_code == 401


def test_secrets_never_in_responses_or_logs(server: Server,
                                            caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    password = "Sup3r-secret-pa55word-xyz"
    responses = [
        server.client.post("/api/v1/auth/login", json={"username": "admin",
                                                       "password": password}),
        server.client.post("/api/v1/auth/login", json={"username": ["admin"],
                                                       "password": password}),
        server.client.post("/api/v1/auth/login", json={"username": "a" * 100,
                                                       "password": password}),
        server.post("/api/v1/users", json={"username": "u1", "password": password[:8],
                                           "role": "developer"}),
        server.post("/api/v1/users", json={"username": "u2", "password": password,
                                           "role": "wizard"}),
        server.client.get("/api/v1/findings", headers={"Authorization": f"Bearer {password}"}),
        server.client.get("/api/v1/findings",
                          headers={"Authorization": f"Bearer {server.token}garbage"}),
        server.post("/api/v1/tokens", json={"name": server.token, "scopes": ["nope"]}),
    ]
    for r in responses:
        assert r.status_code >= 400
        assert password not in r.text and password[:8] not in r.text
        assert server.token not in r.text
    entries = server.get("/api/v1/audit/entries", params={"limit": 1000}).text
    logged = caplog.text + entries
    assert password not in logged and password[:8] not in logged
    assert server.token.split("_", 2)[2] not in logged
