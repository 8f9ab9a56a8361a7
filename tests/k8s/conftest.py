"""Session fixtures: certificates, and real scan reports of two images pushed to a real registry
(the registry is stopped before any webhook starts: verdicts must not need it)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.k8s.helpers import make_certs


@dataclass(frozen=True)
class ScannedImages:
    """Two scanned images and the directory holding their JSON scan reports."""

    host: str
    bad: str  # HOST/acme/bad:1.0 (EICAR inside: a high malware finding)
    bad_digest: str
    clean: str  # HOST/acme/clean:1.0 (no finding)
    clean_digest: str
    reports: Path

    def by_digest(self, name: str) -> str:
        """`HOST/acme/NAME@sha256:…`."""
        digest = self.bad_digest if name == "bad" else self.clean_digest
        return f"{self.host}/acme/{name}@{digest}"


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_certs(tmp_path_factory.mktemp("admission-certs"))


@pytest.fixture(scope="session")
def scanned_images(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScannedImages]:
    from stackwarden.artifact.build import ImageSpec, LayerFile, layer_tar, write_oci_layout
    from stackwarden.artifact.registry import push_oci_layout
    from stackwarden.report.json_report import render_scan
    from stackwarden.scan import ScanOptions, scan
    from tests.detect.malware.samples import EICAR
    from tests.helpers.registry import run_registry

    tmp = tmp_path_factory.mktemp("admission-images")
    reports = tmp / "reports"
    reports.mkdir()
    release = LayerFile("etc/os-release", b"ID=alpine\nVERSION_ID=3.19.0\n")
    layers = {"bad": [release, LayerFile("tmp/eicar.com", EICAR + b"\n")],
              "clean": [release, LayerFile("app/main.py", b"print('hello')\n")]}
    digests = {}
    with run_registry(tmp / "registry") as registry:
        for name, files in layers.items():
            write_oci_layout(tmp / name, ImageSpec([layer_tar(files)], compress=False))
            ref = f"{registry.host}/acme/{name}:1.0"
            digests[name] = push_oci_layout(tmp / name, ref)
            result = scan(f"registry:{ref}", scanners=("malware",),
                          scan_options=ScanOptions(cache_dir=tmp / "cache"))
            (reports / f"{name}.json").write_bytes(render_scan(result))
        host = registry.host
    bad = json.loads((reports / "bad.json").read_text())
    assert [(f["id"], f["severity"]) for f in bad["findings"]] == [("EICAR_Test_File", "high")]
    yield ScannedImages(host, f"{host}/acme/bad:1.0", digests["bad"], f"{host}/acme/clean:1.0",
                        digests["clean"], reports)
