"""Registries in the dashboard: a registry watched through the API and swept for real (the
sweep job talks to a small fake registry on loopback: a catalog with a bad repository name, a
repository whose tag list fails, a tag that moves), then the pages show the sweep, the last
error, the problems, the counts, the tag history and the golden-image diff."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from stackwarden.server.db.registry_models import WatchedImage, WatchedRegistry
from stackwarden.server.registry_scan import golden_diff
from tests.server.conftest import Server, make_server
from tests.server.dashboard.conftest import SETTINGS, make_user, post_form, sign_in
from tests.server.helpers import finding, report
from tests.server.regwatch_helpers import wait_for

EVIL = "<script>alert(1)</script>"
D1, D2 = "sha256:" + "1" * 64, "sha256:" + "2" * 64


class FakeRegistry(BaseHTTPRequestHandler):
    """Just enough of the distribution API for a sweep; `digest` is what team/base:1.0 is."""

    digest = D1

    def _send(self, status: int, doc: Any = None, headers: dict[str, str] | None = None
              ) -> None:
        body = b"" if doc is None else json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        path = self.path.split("?")[0]
        if path == "/v2/":
            self._send(200, {})
        elif path == "/v2/_catalog":
            self._send(200, {"repositories": ["team/base", "team/broken", EVIL]})
        elif path == "/v2/team/base/tags/list":
            self._send(200, {"name": "team/base", "tags": ["1.0"]})
        elif path == "/v2/team/broken/tags/list":
            self._send(403, {"errors": [{"code": "DENIED", "message": f"no {EVIL}"}]})
        else:
            self._send(404, {"errors": [{"code": "MANIFEST_UNKNOWN", "message": "unknown"}]})

    def do_HEAD(self) -> None:  # noqa: N802
        if self.path.split("?")[0] == "/v2/team/base/manifests/1.0":
            self._send(200, None, {"Docker-Content-Digest": type(self).digest,
                                   "Content-Type": "application/vnd.oci.image.manifest.v1"
                                                   "+json"})
        else:
            self._send(404)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture()
def fake_registry() -> Iterator[tuple[str, type[FakeRegistry]]]:
    handler = type("Handler", (FakeRegistry,), {"digest": D1})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{httpd.server_address[1]}", handler
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture()
def regserver(database_url: str, tmp_path: Path) -> Iterator[Server]:
    yield from make_server(database_url, tmp_path, **SETTINGS, registry_retries=0,
                           registry_timeout=5, registry_watch=False)


def _settled(server: Server, rid: int, images: int) -> bool:
    doc = server.get(f"/api/v1/registries/{rid}").json()
    counts = doc["counts"]
    return doc["sweep"]["state"] not in ("queued", "running") and counts["images"] == images \
        and counts["queued"] == 0


def test_registries_pages(regserver: Server, fake_registry: tuple[str, Any]) -> None:
    host, handler = fake_registry
    made = regserver.post("/api/v1/registries", json={"url": f"http://{host}",
                                                      "name": f"lab {EVIL}"})
    assert made.status_code == 201, made.text
    rid = made.json()["id"]
    assert regserver.post(f"/api/v1/registries/{rid}/golden",
                          json={"repository": "team/base", "tag": "1.*"}).status_code == 201
    wait_for("the first sweep", lambda: _settled(regserver, rid, 1), timeout=30, every=0.1)
    admin = sign_in(regserver)
    listing = admin.get("/registries")
    assert listing.status_code == 200
    row = listing.text.split('id="registries"')[1].split("</table>")[0]
    assert "lab &lt;script&gt;alert(1)&lt;/script&gt;" in row and host in row
    assert ">error<" in row and "repository problem(s)" in row
    # counts: repositories selected, images found, scanned, queued, failed (the fake
    # registry cannot serve the manifest, so the scan fails)
    cells = row.split("<td>")[5:]
    assert [c.split("<")[0] or c for c in cells][:3] == ["2", "1", "0"], cells
    assert '<span class="fail">1</span>' in row

    detail = admin.get(f"/registries/{rid}").text
    problems = detail.split('id="problems"')[1].split("</table>")[0]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in problems and "not a valid" in problems
    assert "team/broken" in problems
    images = detail.split('id="images"')[1].split("</table>")[0]
    assert "team/base" in images and ">failed<" in images
    tags = detail.split('id="tags"')[1].split("</table>")[0]
    assert D1 in tags and "current" in tags
    assert "team/base:1.*" in detail

    # the tag moves; an admin sweeps from the page (a CSRF-protected form)
    handler.digest = D2
    assert admin.post(f"/registries/{rid}/sweep", data={"x": "1"}, follow_redirects=False
                      ).status_code == 403
    r = post_form(admin, f"/registries/{rid}", f"/registries/{rid}/sweep", {})
    assert r.status_code == 303 and r.headers["location"] == f"/registries/{rid}?done=sweep"
    wait_for("the second sweep", lambda: _settled(regserver, rid, 2), timeout=30, every=0.1)
    tags = admin.get(f"/registries/{rid}").text.split('id="tags"')[1].split("</table>")[0]
    assert tags.index(D2) < tags.index(D1) and "moved" in tags

    # both builds scanned (reports uploaded as the scan job would ingest them), the second
    # golden: the diff the scan job computes, then the image page shows both
    ref = f"{host}/team/base:1.0"
    first = regserver.post("/api/v1/scans", json=report([finding("a", vuln="CVE-2024-1111")],
                                                       digest=D1, tags=(ref,))).json()
    second = regserver.post("/api/v1/scans", json=report(
        [finding("b", vuln="CVE-2024-2222", package=EVIL)], digest=D2, tags=(ref,))).json()
    with regserver.ctx.db.transaction() as session:
        for digest, scan in ((D1, first), (D2, second)):
            session.execute(update(WatchedImage).where(WatchedImage.digest == digest).values(
                state="scanned", asset_id=scan["asset_id"], golden=True, error=""))
        registry = session.get(WatchedRegistry, rid)
        image = session.execute(select(WatchedImage).where(WatchedImage.digest == D2)
                                ).scalar_one()
        golden_diff(session, registry, image, "1.0")
    page = admin.get(f"/assets/{second['asset_id']}").text
    history = page.split('id="tag-history"')[1].split("</table>")[0]
    assert f"<strong>{D2}</strong> (this image)" in history and D1 in history
    assert "moved" in history and "current" in history
    assert 'id="golden-diff"' in page and "findings new: 1" in page
    diff = page.split('id="golden-findings"')[1].split("</table>")[0]
    assert "CVE-2024-2222" in diff and ">new<" in diff
    assert "CVE-2024-1111" in diff and ">fixed<" in diff
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in diff
    assert 'id="golden-diff"' not in admin.get(f"/assets/{first['asset_id']}").text
    golden = admin.get(f"/registries/{rid}").text.split('id="golden-diffs"')[1]
    assert "findings new 1" in golden.split("</table>")[0]
    for path in ("/registries", f"/registries/{rid}", f"/assets/{second['asset_id']}"):
        assert "<script>" not in admin.get(path).text, path


def test_registry_pages_roles(regserver: Server, fake_registry: tuple[str, Any]) -> None:
    host, _ = fake_registry
    made = regserver.post("/api/v1/registries", json={"url": f"http://{host}"})
    rid = made.json()["id"]
    wait_for("the sweep", lambda: _settled(regserver, rid, 1), timeout=30, every=0.1)
    make_user(regserver, "aud", "auditor")
    make_user(regserver, "sec", "security-engineer")
    make_user(regserver, "dev", "developer")
    auditor = sign_in(regserver, "aud", "aud-password-long-enough")
    page = auditor.get(f"/registries/{rid}")
    assert page.status_code == 200 and 'id="sweep-form"' not in page.text
    r = auditor.post(f"/registries/{rid}/sweep",
                     data={"csrf": page.text.split('name="csrf" value="')[1].split('"')[0]},
                     follow_redirects=False)
    assert r.status_code == 403
    sec = sign_in(regserver, "sec", "sec-password-long-enough")
    assert 'href="/registries"' in sec.get("/").text
    dev = sign_in(regserver, "dev", "dev-password-long-enough")
    assert 'href="/registries"' not in dev.get("/").text
    assert dev.get("/registries").status_code == 403
    assert dev.get(f"/registries/{rid}").status_code == 403
    admin = sign_in(regserver)
    assert admin.get(f"/registries/{rid + 50}").status_code == 404
