"""`stackwarden demo` end to end: the sample image, its scan, and the demo dashboard it fills.

Real downloads (cached with the sample image test's), the real scan, the real server library on
embedded SQLite; the dashboard is the FastAPI app in-process, signed in with the printed password.
"""

from __future__ import annotations

import re
import stat
import zlib
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from stackwarden.cli.main import app
from stackwarden.sample.dashboard import SAMPLE_ASSET, demo_settings, prepare_demo_server
from stackwarden.server.app import create_app
from stackwarden.server.context import ServerContext
from stackwarden.server.db.models import Asset, FindingRow, Scan, User
from tests.helpers.debian import CACHE
from tests.helpers.env import require_network
from tests.server.dashboard.conftest import csrf_of

PASSWORD = re.compile(r"sign in as 'admin', password (\S+) \(shown once; kept in (\S+)\)")


@pytest.fixture()
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh cache (scan and rule caches) sharing the sample image test's downloads."""
    downloads = CACHE / "sample-downloads"
    if not (downloads / "npm").is_dir():
        for host, port in (("deb.debian.org", 80), ("pypi.org", 443),
                           ("registry.npmjs.org", 443)):
            require_network(host, port)
    cache = tmp_path / "cache"
    cache.mkdir()
    downloads.mkdir(parents=True, exist_ok=True)
    (cache / "sample-downloads").symlink_to(downloads)
    monkeypatch.setenv("STACKWARDEN_CACHE_DIR", str(cache))
    for name in ("DATABASE_URL", "BROKER_URL", "SIGNING_KEY", "CONFIG"):
        monkeypatch.delenv(f"STACKWARDEN_SERVER_{name}", raising=False)
    return tmp_path / "demo"


def run_demo(workdir: Path, *args: str) -> Any:
    result = CliRunner().invoke(app, ["demo", "--dir", str(workdir / "sample-image"), *args])
    assert result.exit_code == 0, result.output
    return result


def counts(data_dir: Path) -> dict[str, Any]:
    context = ServerContext.open(demo_settings(data_dir), migrate=False)
    try:
        with context.db.session() as session:
            def count(model: Any) -> int:
                return int(session.execute(select(func.count()).select_from(model)).scalar())

            states = dict(session.execute(select(FindingRow.state, func.count())
                                          .group_by(FindingRow.state)).all())
            assets = [(a.kind, a.name) for a in session.execute(select(Asset)).scalars()]
            return {"assets": assets, "scans": count(Scan), "users": count(User),
                    "findings": count(FindingRow), "states": states}
    finally:
        context.close()


def sign_in(data_dir: Path, password: str) -> TestClient:
    client = TestClient(create_app(demo_settings(data_dir), start_runner=False),
                        base_url="https://testserver")  # the session cookie is Secure
    r = client.post("/login", data={"csrf": csrf_of(client.get("/login").text), "username": "admin",
                                    "password": password, "next": "/"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    return client


def test_demo_fills_a_dashboard_and_reruns_without_duplicates(workdir: Path) -> None:
    first = run_demo(workdir)
    data_dir = workdir / "server"
    found = PASSWORD.search(first.output)
    assert found, first.output
    password, kept = found.group(1), Path(found.group(2))
    assert kept == data_dir / "admin-password"
    assert kept.read_text().strip() == password
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    assert f"stackwarden server --data-dir {data_dir}" in first.output
    assert "http://127.0.0.1:8080/" in first.output
    assert (workdir / "report.html").is_file()

    after_one = counts(data_dir)
    assert after_one["assets"] == [("image", SAMPLE_ASSET["name"])]
    assert after_one["scans"] == 1 and after_one["users"] == 1
    # the sample's 22 vulnerabilities plus the planted secret, malware and misconfigurations
    assert after_one["findings"] > 22 and set(after_one["states"]) == {"new"}

    with sign_in(data_dir, password) as client:
        assets = client.get("/assets")
        assert assets.status_code == 200 and SAMPLE_ASSET["name"] in assets.text
        asset_id = re.search(r'href="/assets/(\d+)"', assets.text)
        assert asset_id
        assert client.get(f"/assets/{asset_id.group(1)}").status_code == 200
        listed = client.get("/findings", params={"asset_id": asset_id.group(1),
                                                 "q": "CVE-2018-18074"})
        assert listed.status_code == 200 and "requests" in listed.text
        assert "CVE-2018-18074" in listed.text  # a real vulnerability of requests 2.19.0

    second = run_demo(workdir, "--port", "8099")
    assert password not in second.output  # printed once
    assert f"password in {kept}" in second.output
    assert f"--data-dir {data_dir} --port 8099" in second.output
    assert kept.read_text().strip() == password
    after_two = counts(data_dir)
    assert after_two["assets"] == after_one["assets"] and after_two["users"] == 1
    assert after_two["findings"] == after_one["findings"] and after_two["scans"] == 2
    assert set(after_two["states"]) == {"open"}  # seen again, not duplicated


def test_a_lost_password_file_is_one_clear_error(workdir: Path, tmp_path: Path) -> None:
    run_demo(workdir)
    data_dir = workdir / "server"
    context = ServerContext.open(demo_settings(data_dir), migrate=False)
    with context.db.session() as session:
        report = zlib.decompress(session.execute(select(Scan.report)).scalar_one())
    context.close()
    (data_dir / "admin-password").unlink()
    result = CliRunner().invoke(app, ["demo", "--dir", str(workdir / "sample-image")])
    assert result.exit_code == 2, result.output
    assert "has users but no readable admin-password" in result.output
    assert "Traceback" not in result.output
    assert counts(data_dir)["scans"] == 1  # nothing ingested
    # the library on its own: a new directory gets a new admin and the report
    made = prepare_demo_server(tmp_path / "other", report)
    assert made.created and made.ingest.new == made.ingest.findings > 0
