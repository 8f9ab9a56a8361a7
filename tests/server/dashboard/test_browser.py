"""The dashboard in a real browser (the system Chromium through Playwright), against a real
server on loopback: sign in, see the overview chart, open a finding, ignore it with a reason,
find that action in the audit log. Screenshots go to test-artifacts/."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers.browser import system_chromium
from tests.server.conftest import ADMIN_PASSWORD
from tests.server.dashboard.receivers import free_port
from tests.server.helpers import finding, report

ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with system_chromium() as instance:
        yield instance


@pytest.fixture()
def live(sqlite_template: Path, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A real uvicorn server on 127.0.0.1 with an admin; yields (base URL, admin token)."""
    import uvicorn

    from stackwarden.server.app import create_app
    from stackwarden.server.bootstrap import init_server
    from stackwarden.server.context import ServerContext
    from stackwarden.server.settings import ServerSettings

    db = tmp_path / "server.db"
    shutil.copy(sqlite_template, db)
    ctx = ServerContext.open(ServerSettings(database_url=f"sqlite:///{db}",
                                            data_dir=tmp_path / "data"), migrate=True)
    token = init_server(ctx, "admin", ADMIN_PASSWORD).token
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(ctx=ctx), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    try:
        yield base, token
    finally:
        server.should_exit = True
        thread.join(30)
        ctx.close()


def _seed(base: str, token: str) -> None:
    evil = finding("x", package="<script>", vuln="CVE-2024-6666", severity="high")
    evil["title"] = "<img src=x onerror=alert('title')>"
    findings = [finding("crit", vuln="CVE-2024-3094", severity="critical", kev=True,
                        package="xz-utils"), evil,
                *(finding(f"m{i}", vuln=f"CVE-2024-1{i:03}", severity="medium")
                  for i in range(12))]
    r = httpx.post(f"{base}/api/v1/scans", json=report(findings), timeout=30,
                   headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 201, r.text


def test_sign_in_overview_ignore_and_audit(browser: Any, live: tuple[str, str]) -> None:
    base, token = live
    _seed(base, token)
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    dialogs: list[str] = []
    errors: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on("pageerror", lambda e: errors.append(str(e)))

    page.goto(f"{base}/findings")
    assert page.url.startswith(f"{base}/login?next=")  # not signed in: to the login page
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", "not the password")
    page.click("button[type=submit]")
    assert "Wrong user name or password." in page.inner_text("main")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", ADMIN_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/findings")
    cookie = next(c for c in context.cookies() if c["name"] == "sw_session")
    assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Strict"

    page.click("nav >> text=Overview")
    page.wait_for_url(f"{base}/")
    chart = page.locator("#trend-chart svg")
    assert chart.is_visible()
    areas = page.locator("#trend-chart svg polygon")
    assert areas.count() == 3  # critical, high, medium
    for i in range(3):  # 30 days: 60 corners each
        assert len(areas.nth(i).get_attribute("points").split()) == 60
    assert time.strftime("%Y-%m-%d", time.gmtime()) in chart.text_content()  # x axis: today
    box = chart.bounding_box()
    assert box and box["width"] > 300 and box["height"] > 150
    assert page.locator("#risk-chart svg rect").count() == 3
    page.screenshot(path=str(ARTIFACTS / "dashboard-overview.png"), full_page=True)

    page.click("nav >> text=Findings")
    first = page.locator("#findings tbody tr").first
    assert "CVE-2024-3094" in first.inner_text()  # priority order: KEV critical first
    assert "<script>" in page.inner_text("#findings")  # the package name, shown as text
    page.screenshot(path=str(ARTIFACTS / "dashboard-findings.png"), full_page=True)
    page.click("text=CVE-2024-3094")
    page.wait_for_url(f"{base}/findings/*")
    assert "known exploited (CISA KEV)" in page.inner_text("#priority-reasons")

    page.check("input[name=status][value=ignored]")
    page.click("#triage-form button[type=submit]")  # no reason: the form explains
    assert "say why" in page.inner_text("#err-reason")
    page.fill("textarea[name=reason]", "not reachable: xz is only in the build stage")
    page.fill("input[name=expires]", "2099-12-31")
    page.click("#triage-form button[type=submit]")
    assert "Finding ignored." in page.inner_text(".flash")
    assert "not reachable: xz is only in the build stage" in page.inner_text("#triage-status")
    page.screenshot(path=str(ARTIFACTS / "dashboard-finding-ignored.png"), full_page=True)

    page.click("nav >> text=Audit log")
    row = page.locator("#audit-entries tbody tr", has_text="finding.ignored").first
    assert "admin" in row.inner_text()
    assert "not reachable: xz is only in the build stage" in row.inner_text()
    page.click("text=Verify the chain now")
    assert "Chain verified" in page.inner_text("#verify-status")
    page.screenshot(path=str(ARTIFACTS / "dashboard-audit.png"), full_page=True)

    page.goto(f"{base}/findings/2")  # the `<script>` package and the <img onerror> title
    assert page.locator("h1").count() == 1 and page.locator("img").count() == 0
    assert "<img src=x onerror=alert('title')>" in page.inner_text("main")
    page.screenshot(path=str(ARTIFACTS / "dashboard-escaping.png"), full_page=True)
    assert dialogs == [] and errors == []
    context.close()
