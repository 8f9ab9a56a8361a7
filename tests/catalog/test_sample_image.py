"""The sample image (real .debs, wheels and npm tarballs in three layers) against Syft."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from stackwarden.catalog.sbom import generate_sbom
from stackwarden.core.models import SBOM
from stackwarden.sample.image import SAMPLE_DEBS, SAMPLE_NPM, SAMPLE_WHEELS, build_sample_image
from tests.helpers.debian import CACHE
from tests.helpers.env import require_network
from tests.helpers.syft import agreement, syft_json


def _identity(kind: str, name: str, version: str) -> tuple[str, str, str]:
    if kind == "python":
        name = re.sub(r"[-_.]+", "-", name).lower()
    return kind, name, version


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    for host in ("deb.debian.org", "pypi.org", "registry.npmjs.org"):
        require_network(host, 443 if host != "deb.debian.org" else 80)
    return build_sample_image(tmp_path_factory.mktemp("sample") / "image",
                              downloads=CACHE / "sample-downloads")


@pytest.fixture(scope="module")
def sbom(image: Path) -> SBOM:
    return generate_sbom(f"oci-dir:{image}")


def test_every_ecosystem_agrees_with_syft(image: Path, sbom: SBOM) -> None:
    ours = {_identity(str(p.type), p.name, p.version) for p in sbom.packages}
    doc = syft_json(f"oci-dir:{image}")
    theirs = {_identity(a["type"], a["name"], a["version"]) for a in doc["artifacts"]}
    # Syft lists the application's own package.json as a package; it is not one (see
    # docs/inventory.md). Every other difference would be ours to explain.
    theirs.discard(("npm", "sample-app", "1.0.0"))
    for kind in ("deb", "python", "npm"):
        mine = {x for x in ours if x[0] == kind}
        syft = {x for x in theirs if x[0] == kind}
        assert mine, kind
        assert agreement(mine, syft) >= 0.99, (kind, sorted(mine ^ syft))
    assert ours == theirs


def test_packages_come_from_their_layers(sbom: SBOM) -> None:
    index = {layer.diff_id: layer.index for layer in sbom.artifact.layers}
    layer_of = {(str(p.type), p.name.lower()): index[p.layer] for p in sbom.packages}
    assert {layer_of[("deb", name)] for name in SAMPLE_DEBS} == {0}
    assert {layer_of[("python", spec.split("==")[0].lower())] for spec in SAMPLE_WHEELS} == {1}
    assert {layer_of[("npm", name)] for name, _ in SAMPLE_NPM} == {2}
    assert sbom.os is not None and sbom.os.id == "debian"
    libssl = next(p for p in sbom.packages if p.name == "libssl3")
    assert libssl.source_name == "openssl" and libssl.files
