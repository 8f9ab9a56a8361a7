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


def test_sample_advisories_find_exactly_what_covers_the_sample(image: Path, tmp_path: Path) -> None:
    import json

    from packaging.version import Version

    from stackwarden.sample.image import SAMPLE_ADVISORIES
    from stackwarden.scan import scan
    from stackwarden.vulndb.build import build_database

    installed = {name.lower(): version for name, version in
                 [s.split("==") for s in SAMPLE_WHEELS] + list(SAMPLE_NPM)}
    expected = set()
    for record in json.loads(SAMPLE_ADVISORIES.read_text()):
        for affected in record["affected"]:
            version = installed.get(affected["package"]["name"])
            if version is None:
                continue
            events = affected["ranges"][0]["events"]
            for intro, fix in zip(events[0::2], events[1::2], strict=True):
                low = Version(intro["introduced"])
                if low <= Version(version) < Version(fix["fixed"]):
                    expected.add((affected["package"]["name"], record["id"]))
    db = tmp_path / "sample.sqlite"
    build_database([str(SAMPLE_ADVISORIES)], db)
    result = scan(f"oci-dir:{image}", db_path=db)
    got = {(f.package.name.lower(), f.id) for f in result.findings if f.package is not None
           and str(f.kind) == "vulnerability"}
    assert got == expected and len(got) == 22
    layers = {layer.diff_id for layer in result.sbom.artifact.layers}
    from_files = [f for f in result.findings if f.location.path.startswith("/")]
    assert from_files and all(f.location.layer in layers for f in from_files)
    # the planted problems, each with the layer that holds it
    index = {layer.diff_id: layer.index for layer in result.sbom.artifact.layers}
    planted = {(str(f.kind), f.location.path, index[f.location.layer],
                f.evidence.get("deleted_in_later_layer", False)) for f in result.findings
               if str(f.kind) in ("secret", "malware")}
    assert ("secret", "/app/config/settings.py", 3, False) in planted
    assert ("malware", "/tmp/eicar.com", 3, True) in planted
    misconfigured = {(f.location.path, f.id) for f in result.findings
                     if str(f.kind) == "misconfiguration"}
    assert {p for p, _ in misconfigured} >= {"/app/Dockerfile", "/app/deploy/deployment.yaml"}
    assert any(not p.startswith("/") for p, _ in misconfigured)  # the image config itself
    # every scanner ran on every file from several threads without failing
    assert not [s for s in result.skipped if "scan failed" in s.reason]
