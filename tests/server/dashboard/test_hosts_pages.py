"""Hosts in the dashboard: data sent the way agents send it (enrollment, event batches through
/api/v1/agents/events), then the hosts list and a host's page show it, escaped, team-scoped."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from stackwarden.agent.inventory import take_snapshot
from stackwarden.server.auth import utcnow
from stackwarden.server.db.agent_models import Agent
from tests.server.agent_helpers import alert, debian_root, enroll, event, send
from tests.server.conftest import Server, make_server
from tests.server.dashboard.conftest import SETTINGS, make_user, post_form, sign_in
from tests.vulndb.helpers import make_db, osv

EVIL = "<script>alert(1)</script>"


def _host_root(tmp: Path) -> Path:
    root = debian_root(tmp / "root")
    (root / "etc" / "passwd").write_text(
        "root:x:0:0:root:/root:/bin/bash\n"
        f"{EVIL}:x:1000:1000::/home/evil:/bin/sh\n")
    return root


def _send_host_events(server: Server, credential: str, tmp: Path) -> None:
    snapshot = take_snapshot(str(_host_root(tmp)), sections=["packages", "users"]).to_dict()
    events = [event(1, "inventory.snapshot", snapshot),
              event(2, "fim.change", {"path": "/etc/ssh/sshd_config", "change": "modified"}),
              event(3, "fim.change", {"path": f"/usr/bin/{EVIL}", "change": "added",
                                      "label": "package_update"}),
              event(4, "log.alert", alert("a1", "203.0.113.7", title=f"brute {EVIL}"))]
    sent = send(server, credential, events)
    assert sent.status_code == 200 and sent.json()["accepted"] == 4, sent.text


def test_hosts_list_and_host_page(dash: Server, tmp_path: Path) -> None:
    web = enroll(dash, "web-1")
    db = enroll(dash, "db-1")
    _send_host_events(dash, web["credential"], tmp_path)
    with dash.ctx.db.transaction() as session:  # db-1's agent has not been heard from
        session.execute(update(Agent).where(Agent.id == db["agent_id"])
                        .values(last_seen_at=utcnow() - timedelta(minutes=10)))
    from stackwarden.server.agents.watch import mark_silent

    assert mark_silent(dash.ctx) == [db["agent_id"]]
    client = sign_in(dash)
    listing = client.get("/hosts")
    assert listing.status_code == 200
    rows = {name: row for row, name in re.findall(
        r'(<tr><td><a href="/hosts/\d+">([^<]+)</a>.*?</tr>)', listing.text, re.S)}
    assert set(rows) == {"web-1", "db-1"}
    assert "online" in rows["web-1"] and 'href="/hosts/%d#alerts">1<' % web["asset_id"] \
        in rows["web-1"]
    assert "silent" in rows["db-1"] and "since" in rows["db-1"]
    assert "Agent silent" not in listing.text  # the list counts alerts; the page lists them
    assert ">1</a>" in rows["db-1"]  # the silence alert is open

    page = client.get(f"/hosts/{web['asset_id']}")
    assert page.status_code == 200
    html = page.text
    assert "Debian GNU/Linux 12 (bookworm)" in html
    assert re.search(r'id="packages-count">2<', html)  # openssl, base-files
    users = html.split('id="users"')[1].split("</table>")[0]
    assert ">root<" in users and "&lt;script&gt;alert(1)&lt;/script&gt;" in users
    fim = html.split('id="fim-changes"')[1].split("</table>")[0]
    assert fim.index("&lt;script&gt;") < fim.index("/etc/ssh/sshd_config")  # newest first
    assert "package update" in fim and ">added<" in fim and ">modified<" in fim
    alerts = html.split('id="host-alerts"')[1].split("</table>")[0]
    assert "brute &lt;script&gt;" in alerts and "203.0.113.7" in alerts and ">open<" in alerts
    incidents = html.split('id="host-incidents"')[1].split("</table>")[0]
    assert "#1 " in incidents and "203.0.113.7" in incidents
    assert "No active vulnerabilities." in html
    for path in ("/hosts", f"/hosts/{web['asset_id']}"):
        assert "<script>" not in client.get(path).text, path
    # not a host, or no such host: 404
    assert client.get(f"/hosts/{web['asset_id'] + 100}").status_code == 404


def test_developers_see_their_teams_hosts_only(dash: Server) -> None:
    mine = enroll(dash, "pay-web-1")
    other = enroll(dash, "search-1")
    make_user(dash, "dev", "developer")
    admin = sign_in(dash)
    r = post_form(admin, "/settings/teams", "/settings/teams",
                  {"name": "payments", "patterns": "pay-*", "members": ["dev"]})
    assert r.status_code == 303, r.text
    dev = sign_in(dash, "dev", "dev-password-long-enough")
    listing = dev.get("/hosts").text
    assert "pay-web-1" in listing and "search-1" not in listing
    assert dev.get(f"/hosts/{mine['asset_id']}").status_code == 200
    assert dev.get(f"/hosts/{other['asset_id']}").status_code == 404
    make_user(dash, "aud", "auditor")
    auditor = sign_in(dash, "aud", "aud-password-long-enough")
    assert "search-1" in auditor.get("/hosts").text
    assert "<form method=\"post\" action=\"/hosts" not in auditor.get(
        f"/hosts/{other['asset_id']}").text  # read only: nothing to submit


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_host_vulnerabilities_link_to_findings(database_url: str, tmp_path: Path) -> None:
    from stackwarden.catalog.sbom import generate_sbom, sbom_to_dict

    db = make_db(tmp_path, [osv("DSA-5532-1", "Debian:12", "openssl", ("introduced", "0"),
                                ("fixed", "3.0.11-1~deb12u2"), aliases=("CVE-2023-5363",))])
    db.close()
    gen = make_server(database_url, tmp_path, vulndb_path=db.path, **SETTINGS)
    server = next(gen)
    try:
        done = enroll(server, "db-1")
        doc = sbom_to_dict(generate_sbom(f"rootfs:{debian_root(tmp_path / 'root')}"))
        assert send(server, done["credential"],
                    [event(1, "host.sbom", {"sbom": doc})]).json()["accepted"] == 1
        host = done["asset_id"]
        deadline = time.monotonic() + 30
        found: list[dict[str, Any]] = []
        while time.monotonic() < deadline and not found:
            found = server.get(f"/api/v1/hosts/{host}/vulnerabilities").json()["items"]
            time.sleep(0.1)
        assert found, "the host SBOM was not matched"
        client = sign_in(server)
        html = client.get(f"/hosts/{host}").text
        vulns = html.split('id="host-vulns"')[1].split("</table>")[0]
        assert f'href="/findings/{found[0]["id"]}">CVE-2023-5363</a>' in vulns
        assert "openssl 3.0.11-1~deb12u1" in vulns
        severity = found[0]["severity"]
        link = f"/findings?asset_id={host}&amp;kind=vulnerability"
        listing = client.get("/hosts").text
        assert f'href="{link}">1<' in listing
        assert f'href="{link}&amp;severity={severity}">' in listing
        assert "CVE-2023-5363" in client.get(link.replace("&amp;", "&")).text
    finally:
        next(gen, None)
