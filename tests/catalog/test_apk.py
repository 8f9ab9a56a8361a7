"""apk: the installed database (hand-written from apk-tools' format, real Alpine packages)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from stackwarden.artifact.directory import DirectoryArtifact
from stackwarden.catalog.apk import ApkCataloger
from stackwarden.catalog.engine import catalog_artifact
from tests.helpers.syft import agreement, syft_packages

FIXTURE = Path(__file__).parent.parent / "fixtures" / "apk" / "installed"


@pytest.fixture()
def alpine_root(tmp_path: Path) -> Path:
    (tmp_path / "lib/apk/db").mkdir(parents=True)
    shutil.copy(FIXTURE, tmp_path / "lib/apk/db/installed")
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/os-release").write_text(
        'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.20.3\n'
        'PRETTY_NAME="Alpine Linux v3.20"\n')
    return tmp_path


def test_installed_db(alpine_root: Path) -> None:
    sbom = catalog_artifact(DirectoryArtifact(alpine_root, kind="rootfs"), [ApkCataloger()])
    got = {p.name: p for p in sbom.packages}
    assert set(got) == {"musl", "busybox", "ssl_client", "libcrypto3"}
    client = got["ssl_client"]
    assert (client.version, client.source_name, client.source_version) == \
        ("1.36.1-r29", "busybox", "1.36.1-r29")
    assert client.purl == ("pkg:apk/alpine/ssl_client@1.36.1-r29?arch=x86_64"
                           "&distro=alpine-3.20.3&upstream=busybox")
    assert got["busybox"].files == ("/bin/busybox", "/bin/sh", "/etc/securetty",
                                    "/usr/share/udhcpc/default.script")
    assert got["libcrypto3"].files == ("/lib/libcrypto.so.3", "/usr/lib/libcrypto.so.3")
    assert got["libcrypto3"].licenses == ("Apache-2.0",)
    assert sbom.os is not None and sbom.os.purl_distro == "alpine-3.20.3"


def test_agrees_with_syft(alpine_root: Path) -> None:
    sbom = catalog_artifact(DirectoryArtifact(alpine_root, kind="rootfs"), [ApkCataloger()])
    mine = {(str(p.type), p.name, p.version) for p in sbom.packages}
    theirs = syft_packages(f"dir:{alpine_root}", catalogers="image", types={"apk"})
    assert agreement(mine, theirs) == 1.0, sorted(mine ^ theirs)


@pytest.mark.parametrize("content", [b"", b"\x00\x01garbage", b"P:\nV:\n"])
def test_malformed_db(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "lib/apk/db").mkdir(parents=True)
    (tmp_path / "lib/apk/db/installed").write_bytes(content)
    sbom = catalog_artifact(DirectoryArtifact(tmp_path), [ApkCataloger()])
    assert sbom.packages == ()
    if content.startswith(b"P:"):
        assert sbom.skipped == ()  # well-formed but empty records: nothing to report
    else:
        assert [s.path for s in sbom.skipped] == ["/lib/apk/db/installed"]
