"""`db update`, `db import`, `db push`/`db pull`: atomic, verified, never a half-written file."""

from __future__ import annotations

import http.server
import json
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from stackwarden.core.errors import UsageError
from stackwarden.vulndb.distribute import (
    DownloadError,
    install_file,
    pull_database,
    push_database,
    update_database,
)
from stackwarden.vulndb.store import VulnDB, VulnDBError
from tests.helpers.env import shared_data
from tests.helpers.registry import run_registry
from tests.vulndb.helpers import osv

EPSS = b"#model_version:v2025.03.14,score_date:2026-11-28T00:00:00+0000\ncve,epss,percentile\n" \
       b"CVE-2018-18074,0.01862,0.82524\nCVE-2021-44228,0.94358,0.99956\n"


class _Server:
    """A loopback HTTP server standing in for osv.dev, CISA and FIRST (the public internet)."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.truncate: set[str] = set()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                body = outer.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                # a connection that drops mid-body: half the bytes, then close
                self.wfile.write(body[: len(body) // 2] if self.path in outer.truncate else body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()


@pytest.fixture()
def feeds(tmp_path: Path) -> Iterator[_Server]:
    pypa = Path(shared_data("osv-pypa-advisory-database", "vulns"))
    archive = tmp_path / "all.zip"
    with zipfile.ZipFile(archive, "w") as zf:  # osv.dev's all.zip holds JSON; YAML reads too
        for path in sorted((pypa / "requests").glob("*.yaml")):
            zf.write(path, path.name)
    kev = Path(shared_data("cisa-kev", "known_exploited_vulnerabilities.json")).read_bytes()
    server = _Server({"/PyPI/all.zip": archive.read_bytes(), "/kev.json": kev,
                      "/epss_scores-current.csv": EPSS})
    yield server
    server.close()


def _sources(server: _Server) -> list[str]:
    return [f"osv:{server.base}/PyPI/all.zip", f"kev:{server.base}/kev.json",
            f"epss:{server.base}/epss_scores-current.csv"]


def test_update_downloads_and_builds(feeds: _Server, tmp_path: Path) -> None:
    target = tmp_path / "db" / "vulndb.sqlite"
    report = update_database(target, _sources(feeds), timeout=5)
    assert report.advisories >= 5
    with VulnDB(target) as db:
        assert db.affected("PyPI", "requests")
        assert db.counts()["kev"] > 1000 and db.counts()["epss"] == 2
        assert {s["kind"] for s in db.sources()} == {"osv", "kev", "epss"}
    assert [p.name for p in target.parent.iterdir()] == ["vulndb.sqlite"]


def test_a_download_that_fails_midway_keeps_the_old_database(feeds: _Server,
                                                             tmp_path: Path) -> None:
    target = tmp_path / "db" / "vulndb.sqlite"
    update_database(target, _sources(feeds), timeout=5)
    before = target.read_bytes()
    feeds.truncate.add("/kev.json")
    with pytest.raises(DownloadError, match="connection ended|download failed"):
        update_database(target, _sources(feeds), timeout=5)
    assert target.read_bytes() == before
    feeds.truncate.clear()
    feeds.files.pop("/PyPI/all.zip")
    with pytest.raises(DownloadError, match="HTTP 404"):
        update_database(target, _sources(feeds), timeout=5)
    assert target.read_bytes() == before
    assert sorted(p.name for p in target.parent.iterdir()) == ["vulndb.sqlite"]


def test_import_validates_first(feeds: _Server, tmp_path: Path) -> None:
    built = tmp_path / "built.sqlite"
    update_database(built, _sources(feeds), timeout=5)
    target = tmp_path / "installed" / "vulndb.sqlite"
    install_file(built, target)
    assert target.read_bytes() == built.read_bytes()
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(built.read_bytes()[:8192])
    with pytest.raises(VulnDBError, match="truncated"):
        install_file(bad, target)
    assert target.read_bytes() == built.read_bytes()


def test_push_and_pull_through_a_real_registry(tmp_path: Path) -> None:
    from tests.vulndb.helpers import make_db

    with make_db(tmp_path, [osv("PYSEC-1", "PyPI", "demo", ("introduced", "0"))]) as db:
        db_path = db.path
    with run_registry(tmp_path / "registry") as registry:
        pushed = push_database(db_path, f"{registry.host}/security/vulndb:latest")
        assert pushed.digest.startswith("sha256:")
        target = tmp_path / "pulled" / "vulndb.sqlite"
        meta = pull_database(f"{registry.host}/security/vulndb:latest", target)
        assert meta["schema_version"] == "1"
        with VulnDB(target) as pulled:
            assert [r.vuln_id for r in pulled.affected("PyPI", "demo")] == ["PYSEC-1"]
        # a tampered blob in the registry's storage is refused; the installed file stays
        before = target.read_bytes()
        manifest_layers = [p for p in (registry.storage / "docker/registry/v2/blobs").rglob(
            "data") if p.stat().st_size > 1000]
        for blob in manifest_layers:
            data = bytearray(blob.read_bytes())
            data[len(data) // 2] ^= 0xFF
            blob.write_bytes(bytes(data))
        with pytest.raises(Exception, match="hashes to|zstd|Digest|digest"):
            pull_database(f"{registry.host}/security/vulndb:latest", target)
        assert target.read_bytes() == before
        # an ordinary image is not a database
        from stackwarden.artifact.build import ImageSpec, LayerFile, layer_tar, write_oci_layout
        from stackwarden.artifact.registry import push_oci_layout

        write_oci_layout(tmp_path / "img", ImageSpec([layer_tar([LayerFile("a", b"x")])]))
        push_oci_layout(tmp_path / "img", f"{registry.host}/app/image:latest")
        with pytest.raises(UsageError, match="not a StackWarden vulnerability database"):
            pull_database(f"{registry.host}/app/image:latest", target)


def test_cli_status_and_rematch(feeds: _Server, tmp_path: Path) -> None:
    import subprocess
    import sys

    target = tmp_path / "vulndb.sqlite"
    update_database(target, _sources(feeds), timeout=5)
    done = subprocess.run([sys.executable, "-m", "stackwarden", "db", "status", "--db",
                           str(target), "--json"], capture_output=True, text=True, check=True)
    status = json.loads(done.stdout)
    assert status["schema_version"] == "1" and status["counts"]["epss"] == 2
    sbom = {"schema_version": "1.0", "artifact": {"kind": "dir", "reference": "dir:/app"},
            "os": None, "packages": [{"name": "requests", "version": "2.19.0", "type": "python",
                                      "purl": "pkg:pypi/requests@2.19.0",
                                      "locations": [{"path": "/app/r.txt", "layer": None}]}]}
    sbom_file = tmp_path / "sbom.json"
    sbom_file.write_text(json.dumps(sbom))
    done = subprocess.run([sys.executable, "-m", "stackwarden", "db", "rematch", "--db",
                           str(target), "--json", str(sbom_file)], capture_output=True,
                          text=True, check=True)
    (change,) = json.loads(done.stdout)
    new_ids = {f["id"] for f in change["new"]}
    assert "CVE-2018-18074" in new_ids and change["fixed"] == []
