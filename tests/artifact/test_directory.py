"""Directory artifacts: paths stay inside the root, symlinks resolve like a chroot."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from stackwarden.artifact.base import FileType, normalize_path
from stackwarden.artifact.directory import DirectoryArtifact
from stackwarden.core.errors import ArtifactError


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("./usr/bin/env", "/usr/bin/env"),
        ("usr//lib/", "/usr/lib"),
        ("a/b/../c", "/a/c"),
        ("/etc/passwd", "/etc/passwd"),
        ("../etc/passwd", None),
        ("a/../../etc", None),
        (".", "/"),
    ],
)
def test_normalize_path(name: str, expected: str | None) -> None:
    assert normalize_path(name) == expected


@pytest.fixture()
def rootfs(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "usr/lib").mkdir(parents=True)
    (root / "etc").mkdir()
    (root / "usr/lib/os-release").write_text('ID=debian\nVERSION_ID="12"\n')
    os.symlink("../usr/lib/os-release", root / "etc/os-release")
    os.symlink("/usr/lib", root / "lib")  # absolute: must resolve inside the root
    os.symlink("loop-b", root / "loop-a")
    os.symlink("loop-a", root / "loop-b")
    os.symlink("/etc/shadow", root / "escape")  # would be the host's file if followed naively
    return root


def test_symlinks_resolve_inside_the_root(rootfs: Path) -> None:
    art = DirectoryArtifact(rootfs, kind="rootfs")
    assert art.realpath("/etc/os-release") == "/usr/lib/os-release"
    assert art.read("/etc/os-release").startswith(b"ID=debian")
    assert art.read("/lib/os-release").startswith(b"ID=debian")
    assert art.realpath("/loop-a") is None
    assert art.resolve("/escape") is None  # /etc/shadow does not exist inside this root
    with pytest.raises(ArtifactError):
        art.read("/escape")
    with pytest.raises(ArtifactError, match="loop"):
        art.read("/loop-a")


def test_walk_lists_every_entry_once_without_following_links(rootfs: Path) -> None:
    art = DirectoryArtifact(rootfs, kind="rootfs")
    entries = {e.path: e for e in art.files()}
    assert entries["/lib"].type is FileType.SYMLINK
    assert entries["/lib"].linkname == "/usr/lib"
    assert entries["/usr/lib/os-release"].type is FileType.REG
    assert "/lib/os-release" not in entries
    assert len(entries) == len(list(art.files()))


def test_read_limit_refuses_large_files(rootfs: Path) -> None:
    art = DirectoryArtifact(rootfs)
    with pytest.raises(ArtifactError, match="limit"):
        art.read("/usr/lib/os-release", limit=4)
