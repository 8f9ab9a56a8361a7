"""The rpm cataloger: which files it reads, the package it builds, PURLs as Syft builds them."""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest
from packageurl import PackageURL

from stackwarden.artifact import open_target
from stackwarden.artifact.base import FileEntry, FileType
from stackwarden.artifact.build import ImageSpec, LayerFile, layer_tar, write_oci_layout
from stackwarden.artifact.directory import DirectoryArtifact
from stackwarden.catalog.base import CatalogContext
from stackwarden.catalog.engine import Dispatcher, catalog_artifact
from stackwarden.catalog.rpm import RpmDBCataloger
from stackwarden.catalog.rpm import sqlite as rpm_sqlite
from stackwarden.catalog.rpm.cataloger import rpm_purl, rpm_version, split_source_rpm
from stackwarden.catalog.rpm.header import PackageHeader
from stackwarden.core.models import OSRelease, Package
from tests.catalog.rpm.builders import DBPATH, BuiltDatabases
from tests.helpers.syft import syft_json

RHEL = "ID=rhel\nVERSION_ID=\"9.4\"\nNAME=\"Red Hat Enterprise Linux\"\n"


@pytest.mark.parametrize(("path", "wanted"), [
    ("/var/lib/rpm/Packages", True),
    ("/var/lib/rpm/rpmdb.sqlite", True),
    ("/var/lib/rpm/Packages.db", True),
    ("/usr/lib/sysimage/rpm/rpmdb.sqlite", True),
    ("/usr/lib/sysimage/rpm/Packages.db", True),
    ("/usr/share/rpm/Packages", True),
    ("/srv/chroot/var/lib/rpm/Packages", True),  # Syft's glob starts with **/
    ("/var/lib/rpm/Basenames", False),
    ("/var/lib/rpm/rpmdb.sqlite-wal", False),
    ("/var/lib/rpm-state/Packages", False),
    ("/var/lib/apt/lists/Packages", False),
    ("/home/me/rpm/Packages", False),
])
def test_patterns(path: str, wanted: bool) -> None:
    cataloger = RpmDBCataloger()
    entry = FileEntry(path, FileType.REG)
    assert (cataloger in Dispatcher([cataloger]).wanted_by(entry)) is wanted


@pytest.mark.parametrize(("epoch", "version", "release", "expected"), [
    (None, "1.2", "3.el9", "1.2-3.el9"),
    (0, "1.2", "3.el9", "0:1.2-3.el9"),
    (32, "9.9.4", "61.el7", "32:9.9.4-61.el7"),
    (None, "2.0~rc1^git1", "0.1", "2.0~rc1^git1-0.1"),
    (None, "1.0", "", "1.0"),
])
def test_version_rule(epoch: int | None, version: str, release: str, expected: str) -> None:
    assert rpm_version(epoch, version, release) == expected


@pytest.mark.parametrize(("sourcerpm", "expected"), [
    ("bash-5.1.8-6.el9.src.rpm", ("bash", "5.1.8-6.el9")),
    ("python3.11-3.11.5-1.el9.src.rpm", ("python3.11", "3.11.5-1.el9")),
    ("glibc-2.34-100.el9_4.2.src.rpm", ("glibc", "2.34-100.el9_4.2")),
    ("kernel-5.14.0-427.nosrc.rpm", ("kernel", "5.14.0-427")),
    ("tilde-2.0~rc1-0.1.src.rpm", ("tilde", "2.0~rc1-0.1")),
    ("", None),
    ("notasource.rpm", None),
    ("onlyname.src.rpm", None),
    ("-1-2.src.rpm", None),
])
def test_source_rpm_split(sourcerpm: str, expected: tuple[str, str] | None) -> None:
    assert split_source_rpm(sourcerpm) == expected


def _head(**fields: object) -> PackageHeader:
    base: dict[str, object] = dict(name="bash", version="5.1.8", release="6.el9", epoch=None,
                                   arch="x86_64", sourcerpm="bash-5.1.8-6.el9.src.rpm",
                                   license="GPLv3+", vendor="", size=1, modularity_label="",
                                   files=())
    base.update(fields)
    return PackageHeader(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(("head", "os_release", "expected"), [
    (_head(), OSRelease("rhel", "9.4"),
     "pkg:rpm/redhat/bash@5.1.8-6.el9?arch=x86_64&distro=rhel-9.4"
     "&upstream=bash-5.1.8-6.el9.src.rpm"),
    (_head(epoch=1), OSRelease("centos", "7"),
     "pkg:rpm/centos/bash@5.1.8-6.el9?arch=x86_64&distro=centos-7&epoch=1"
     "&upstream=bash-5.1.8-6.el9.src.rpm"),
    (_head(epoch=0, sourcerpm=""), OSRelease("fedora", "40"),
     "pkg:rpm/fedora/bash@5.1.8-6.el9?arch=x86_64&distro=fedora-40&epoch=0"),
    (_head(), OSRelease("opensuse-leap", "15.6"),
     "pkg:rpm/opensuse/bash@5.1.8-6.el9?arch=x86_64&distro=opensuse-leap-15.6"
     "&upstream=bash-5.1.8-6.el9.src.rpm"),
    (_head(arch="", sourcerpm=""), None, "pkg:rpm/bash@5.1.8-6.el9"),
    (_head(), OSRelease("rocky"), "pkg:rpm/rocky/bash@5.1.8-6.el9?arch=x86_64&distro=rocky"
     "&upstream=bash-5.1.8-6.el9.src.rpm"),
])
def test_purl_rule(head: PackageHeader, os_release: OSRelease | None, expected: str) -> None:
    assert rpm_purl(head, os_release) == expected


@pytest.fixture()
def rhel_root(rpm_dbs: BuiltDatabases, tmp_path: Path) -> Path:
    root = tmp_path / "rhel"
    shutil.copytree(rpm_dbs.db_root("sqlite"), root)
    (root / "etc").mkdir()
    (root / "etc/os-release").write_text(RHEL)
    return root


def _by_name(packages: tuple[Package, ...]) -> dict[str, Package]:
    return {p.name: p for p in packages}


def test_packages_from_a_real_database(rhel_root: Path) -> None:
    sbom = catalog_artifact(DirectoryArtifact(rhel_root), [RpmDBCataloger()])
    found = _by_name(sbom.packages)
    assert "gpg-pubkey" not in found
    tool, libs = found["hello-tool"], found["hello-tool-libs"]
    assert (tool.version, tool.arch, tool.licenses) == ("2:1.2.3-4.el9", "x86_64",
                                                      ("MIT and (GPLv2+ or BSD)",))
    assert tool.purl == ("pkg:rpm/redhat/hello-tool@1.2.3-4.el9?arch=x86_64&distro=rhel-9.4"
                         "&epoch=2&upstream=hello-tool-1.2.3-4.el9.src.rpm")
    assert tool.files == ("/etc/hello", "/etc/hello/hello.conf", "/usr/bin/hello")
    assert tool.metadata["vendor"] == "StackWarden Tests"
    assert (libs.source_name, libs.source_version) == ("hello-tool", "1.2.3-4.el9")
    assert (libs.arch, libs.licenses) == ("noarch", ("LGPLv2+",))
    assert found["zero-epoch"].version == "0:0.9-1"
    assert found["zero-epoch"].metadata["epoch"] == 0
    assert found["tilde-caret"].metadata["epoch"] is None
    assert found["tilde-caret"].files == ()
    assert found["many-files"].metadata["size"] == sum(
        len(f"{d}{f}\n") for d in range(1, 41) for f in range(1, 61))
    assert all(p.locations[0].path == f"{DBPATH}/rpmdb.sqlite" for p in sbom.packages)
    assert all(p.found_by == ("rpm-db-cataloger",) for p in sbom.packages)


def test_purls_match_syft(rhel_root: Path) -> None:
    ours = {p.name: p.purl for p in catalog_artifact(DirectoryArtifact(rhel_root),
                                                     [RpmDBCataloger()]).packages}
    theirs = {a["name"]: PackageURL.from_string(a["purl"]).to_string()
              for a in syft_json(str(rhel_root))["artifacts"]
              if a["type"] == "rpm" and a["name"] != "gpg-pubkey"}
    assert ours == theirs


@pytest.mark.parametrize(("variant", "place"), [
    ("sqlite", "usr/lib/sysimage/rpm/rpmdb.sqlite"),
    ("ndb", "usr/lib/sysimage/rpm/Packages.db"),
    ("bdb-4k", "usr/share/rpm/Packages"),
    ("bdb-4k", "srv/chroot/var/lib/rpm/Packages"),
])
def test_other_database_places(rpm_dbs: BuiltDatabases, tmp_path: Path, variant: str,
                               place: str) -> None:
    target = tmp_path / "root" / place
    target.parent.mkdir(parents=True)
    shutil.copyfile(rpm_dbs.db_file(variant), target)
    sbom = catalog_artifact(DirectoryArtifact(tmp_path / "root"), [RpmDBCataloger()])
    assert len(sbom.packages) == 44
    assert {p.locations[0].path for p in sbom.packages} == {"/" + place}


def test_write_ahead_log_is_replayed(rpm_dbs: BuiltDatabases, tmp_path: Path) -> None:
    """An rpm that did not close cleanly leaves changes in rpmdb.sqlite-wal; rpm reads them."""
    work = tmp_path / "work"
    work.mkdir()
    shutil.copyfile(rpm_dbs.db_file("sqlite"), work / "rpmdb.sqlite")
    root = tmp_path / "root" / DBPATH.lstrip("/")
    root.mkdir(parents=True)
    with contextlib.closing(sqlite3.connect(work / "rpmdb.sqlite")) as conn:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA wal_autocheckpoint = 0")
        conn.execute("DELETE FROM Packages WHERE hnum IN (SELECT hnum FROM Packages LIMIT 4)")
        conn.commit()
        # Copy while the connection is open: the deletion lives only in the log.
        shutil.copyfile(work / "rpmdb.sqlite", root / "rpmdb.sqlite")
        shutil.copyfile(work / "rpmdb.sqlite-wal", root / "rpmdb.sqlite-wal")
    assert (root / "rpmdb.sqlite-wal").stat().st_size > 0
    sbom = catalog_artifact(DirectoryArtifact(tmp_path / "root"), [RpmDBCataloger()])
    rpm = subprocess.run(["rpm", "--root", str(tmp_path / "root"), "--dbpath", DBPATH, "-qa"],
                         capture_output=True, text=True, check=True).stdout.split()
    assert len(sbom.packages) == len([n for n in rpm if not n.startswith("gpg-pubkey")])
    assert len(sbom.packages) <= 44 - 3  # (one of the four rows may be the gpg-pubkey)


def test_identity_only_skips_files(rpm_dbs: BuiltDatabases) -> None:
    artifact = DirectoryArtifact(rpm_dbs.db_root("ndb"))
    entry = artifact.lstat(f"{DBPATH}/Packages.db")
    assert entry is not None
    quick = list(RpmDBCataloger().parse(entry, CatalogContext(artifact, identity_only=True)))
    full = list(RpmDBCataloger().parse(entry, CatalogContext(artifact)))
    assert [(p.name, p.version) for p in quick] == [(p.name, p.version) for p in full]
    assert all(p.files == () for p in quick) and any(p.files for p in full)


def test_runaway_sqlite_work_is_cut_off(rpm_dbs: BuiltDatabases, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rpm_sqlite, "_PROGRESS_EVERY", 10)
    monkeypatch.setattr(rpm_sqlite, "MAX_VM_STEPS", 200)
    sbom = catalog_artifact(DirectoryArtifact(rpm_dbs.db_root("sqlite")), [RpmDBCataloger()])
    assert len(sbom.packages) < 44
    assert any("interrupted" in s.reason for s in sbom.skipped), sbom.skipped


def test_layers_that_installed_each_package(rpm_dbs: BuiltDatabases, tmp_path: Path) -> None:
    """Each package is attributed to the image layer whose database first listed it."""
    def install(root: Path, names: list[str]) -> bytes:
        rpms = [str(p) for p in rpm_dbs.rpms if p.name.split("-")[0] in names]
        cmd = ["rpm", "--root", str(root), "--dbpath", DBPATH, "--define", "_db_backend sqlite"]
        subprocess.run([*cmd, "-i", "--nodeps", "--justdb", "--noscripts", *rpms],
                       check=True, capture_output=True)
        return (root / DBPATH.lstrip("/") / "rpmdb.sqlite").read_bytes()

    root = tmp_path / "root"
    base_db = install(root, ["hello", "zero"])
    top_db = install(root, ["tilde", "many"])
    os_release = LayerFile("etc/os-release", b"ID=fedora\nVERSION_ID=40\n")
    base = layer_tar([os_release, LayerFile("var/lib/rpm/rpmdb.sqlite", base_db)])
    top = layer_tar([LayerFile("var/lib/rpm/rpmdb.sqlite", top_db)])
    write_oci_layout(tmp_path / "image", ImageSpec([base, top]))
    with open_target(f"oci-dir:{tmp_path / 'image'}") as artifact:
        sbom = catalog_artifact(artifact, [RpmDBCataloger()])
        layers = [layer.diff_id for layer in artifact.info.layers]
    found = _by_name(sbom.packages)
    assert set(found) == {"hello-tool", "hello-tool-libs", "zero-epoch", "tilde-caret",
                          "many-files"}
    assert {name: layers.index(p.layer) for name, p in found.items()} == {
        "hello-tool": 0, "hello-tool-libs": 0, "zero-epoch": 0, "tilde-caret": 1,
        "many-files": 1}
    assert found["many-files"].purl.startswith("pkg:rpm/fedora/many-files@3.1-7?")
