"""Every rpm database format, field by field against rpm's own reader, and against Syft."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from stackwarden.artifact.directory import DirectoryArtifact
from stackwarden.catalog.engine import catalog_artifact
from stackwarden.catalog.rpm import RpmDBCataloger
from stackwarden.catalog.rpm.cataloger import database_format
from stackwarden.core.models import SBOM
from tests.catalog.rpm.builders import ORACLE_BACKEND, BuiltDatabases, centos_databases, rpm_query
from tests.helpers.env import unavailable
from tests.helpers.syft import agreement, syft_json

FORMATS = {"sqlite": "sqlite", "ndb": "ndb", "bdb-4k": "bdb", "bdb-512-be": "bdb",
           "bdb-64k": "bdb", "bdb-1k-chksum": "bdb"}


def inventory(root: Path) -> SBOM:
    """Our SBOM of a directory holding an rpm database."""
    return catalog_artifact(DirectoryArtifact(root), [RpmDBCataloger()])


def as_rpm_sees_it(sbom: SBOM) -> dict[tuple[str, str], dict[str, Any]]:
    """Our packages in the shape of `builders.rpm_query` (its keys and fields)."""
    found = {}
    for p in sbom.packages:
        m = p.metadata
        epoch = "(none)" if m["epoch"] is None else m["epoch"]
        key = (p.name, f"{epoch}:{m['version']}-{m['release']}.{p.arch or '(none)'}")
        found[key] = {
            "name": p.name, "epoch": m["epoch"], "version": m["version"],
            "release": m["release"], "arch": p.arch or "", "sourcerpm": m["sourcerpm"],
            "license": p.licenses[0] if p.licenses else "", "vendor": m["vendor"],
            "size": m["size"], "modularity_label": m["modularity_label"], "files": p.files,
        }
    return found


def without_keys(packages: dict[tuple[str, str], dict[str, Any]]) -> dict[tuple[str, str], Any]:
    """rpm's list without gpg-pubkey, which the cataloger skips on purpose."""
    return {k: v for k, v in packages.items() if k[0] != "gpg-pubkey"}


def identities(sbom: SBOM) -> set[tuple[str, str, str]]:
    return {(p.type.value, p.name, p.version) for p in sbom.packages}


@pytest.mark.parametrize("variant", sorted(FORMATS))
def test_every_field_matches_rpm(rpm_dbs: BuiltDatabases, variant: str) -> None:
    data = rpm_dbs.db_file(variant).read_bytes()
    assert database_format(data) == FORMATS[variant]
    sbom = inventory(rpm_dbs.db_root(variant))
    assert sbom.skipped == ()
    backend = ORACLE_BACKEND.get(variant)
    # ndb and checksummed Berkeley DB: rpm here cannot read them; the same blobs in sqlite.
    oracle = rpm_query(rpm_dbs.db_root(variant if backend else "sqlite"), backend or "sqlite")
    assert any(name == "gpg-pubkey" for name, _ in oracle)
    assert as_rpm_sees_it(sbom) == without_keys(oracle)
    assert len(sbom.packages) == len(rpm_dbs.rpms) == 44


@pytest.mark.parametrize("variant", ["sqlite", "ndb", "bdb-4k", "bdb-512-be", "bdb-64k"])
def test_agrees_with_syft(rpm_dbs: BuiltDatabases, variant: str) -> None:
    ours = identities(inventory(rpm_dbs.db_root(variant)))
    doc = syft_json(str(rpm_dbs.db_root(variant)))
    theirs = {(a["type"], a["name"], a["version"]) for a in doc["artifacts"]}
    # Syft lists imported signing keys as packages named gpg-pubkey; we skip them.
    keys = {t for t in theirs if t[1] == "gpg-pubkey"}
    theirs -= keys
    if variant == "bdb-64k":
        # With 64 KiB pages libdb stores most headers inline (H_KEYDATA items); go-rpmdb
        # only follows off-page items, so Syft sees just the one header too big to inline.
        # rpm itself reads them all (test_every_field_matches_rpm).
        assert theirs < ours and len(theirs) == 1
        return
    assert len(keys) == 1
    assert agreement(ours, theirs) == 1.0, sorted(ours ^ theirs)


@pytest.fixture(scope="module")
def centos_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Real CentOS 5-8 Packages files, each under <name>/var/lib/rpm/ of one tree."""
    files = centos_databases()
    if not files:
        unavailable("golang-github-knqyf263-go-rpmdb-dev is not installed "
                    "(scripts/install-system-deps): no real CentOS Berkeley DB files")
    tree = tmp_path_factory.mktemp("centos")
    for path in files:
        target = tree / path.parent.name / "var/lib/rpm/Packages"
        target.parent.mkdir(parents=True)
        try:
            os.link(path, target)
        except OSError:
            shutil.copyfile(path, target)
    return tree


def test_real_centos_databases_match_rpm_field_by_field(centos_tree: Path) -> None:
    total = 0
    for root in sorted(centos_tree.iterdir()):
        sbom = inventory(root)
        assert sbom.skipped == ()
        assert as_rpm_sees_it(sbom) == without_keys(rpm_query(root, "bdb_ro")), root.name
        total += len(sbom.packages)
    assert total == 2709  # 10 databases, CentOS 5.11 to 8.2


def test_real_centos_databases_agree_with_syft(centos_tree: Path) -> None:
    doc = syft_json(str(centos_tree))
    theirs: dict[str, set[tuple[str, str, str]]] = {}
    for art in doc["artifacts"]:
        if art["name"] == "gpg-pubkey":
            continue
        for location in art["locations"]:
            theirs.setdefault(location["path"].split("/")[1], set()).add(
                (art["type"], art["name"], art["version"]))
    for root in sorted(centos_tree.iterdir()):
        ours = identities(inventory(root))
        difference = sorted(ours ^ theirs[root.name])
        assert agreement(ours, theirs[root.name]) == 1.0, (root.name, difference)
