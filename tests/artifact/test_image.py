"""Image targets: layouts and archives become one layered view with whiteouts applied."""

from __future__ import annotations

from pathlib import Path

import pytest

from stackwarden.artifact import open_target
from stackwarden.artifact.build import ImageSpec, LayerFile, layer_tar, write_docker_archive, \
    write_oci_layout
from stackwarden.artifact.base import FileType

BASE = layer_tar([
    LayerFile("etc", type="dir", mode=0o755),
    LayerFile("etc/os-release", b"ID=alpine\nVERSION_ID=3.20.0\n"),
    LayerFile("app/secret.txt", b"password=hunter2\n"),
    LayerFile("app/data/a.txt", b"a"),
    LayerFile("app/data/b.txt", b"b"),
    LayerFile("lib", type="symlink", linkname="usr/lib"),
    LayerFile("usr/lib/libz.so.1", b"\x7fELF", mode=0o755),
    LayerFile("usr/lib/libz.so", type="hardlink", linkname="usr/lib/libz.so.1"),
])
TOP = layer_tar([
    LayerFile("app/secret.txt", type="whiteout"),
    LayerFile("app/data", type="opaque"),
    LayerFile("app/data/c.txt", b"c"),
    LayerFile("etc/os-release", b"ID=alpine\nVERSION_ID=3.21.0\n"),
])


def _spec() -> ImageSpec:
    return ImageSpec([BASE, TOP], history=["ADD base", "RUN rm secret"])


@pytest.fixture(params=["oci-dir", "oci-archive", "docker-archive"])
def image_target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    kind = request.param
    if kind == "docker-archive":
        write_docker_archive(tmp_path / "image.tar", _spec())
        return f"docker-archive:{tmp_path / 'image.tar'}"
    write_oci_layout(tmp_path / "layout", _spec())
    if kind == "oci-dir":
        return f"oci-dir:{tmp_path / 'layout'}"
    import tarfile

    with tarfile.open(tmp_path / "layout.tar", "w") as tar:
        tar.add(tmp_path / "layout", arcname=".")
    return f"oci-archive:{tmp_path / 'layout.tar'}"


def test_layers_squash_with_whiteouts(image_target: str) -> None:
    with open_target(image_target) as art:
        paths = {e.path for e in art.files()}
        assert "/app/secret.txt" not in paths
        assert "/app/data/a.txt" not in paths and "/app/data/b.txt" not in paths
        assert "/app/data/c.txt" in paths
        assert art.read("/etc/os-release") == b"ID=alpine\nVERSION_ID=3.21.0\n"
        # the lower copy is still reachable, attributed to its layer
        history = art.history("/etc/os-release")
        assert [e.layer for e in history] == [0, 1]
        assert art.read("/etc/os-release", layer=0).endswith(b"3.20.0\n")
        deleted = [e for e in art.layer_files(0) if e.path == "/app/secret.txt"]
        assert deleted and art.read(deleted[0]) == b"password=hunter2\n"
        # symlinked directory and hard link both resolve to the content
        assert art.read("/lib/libz.so.1") == b"\x7fELF"
        assert art.read("/usr/lib/libz.so") == b"\x7fELF"
        assert art.lstat("/lib").type is FileType.SYMLINK
        assert len(art.info.layers) == 2
        assert art.info.layers[1].created_by == "RUN rm secret"
        assert all(layer.diff_id.startswith("sha256:") for layer in art.info.layers)


def test_bare_paths_are_detected(tmp_path: Path) -> None:
    write_oci_layout(tmp_path / "layout", _spec())
    with open_target(str(tmp_path / "layout")) as art:
        assert art.info.kind == "oci-dir"
    write_docker_archive(tmp_path / "image.tar", _spec())
    with open_target(str(tmp_path / "image.tar")) as art:
        assert art.info.kind == "docker-archive"
        assert art.info.repo_tags == ("sample:latest",)
    with open_target(str(tmp_path)) as art:
        assert art.info.kind == "dir"


def test_archive_layers_read_in_parallel_do_not_interleave(tmp_path: Path) -> None:
    # Layers of one archive are decompressed by two threads at once; a shared tar handle
    # once made them read each other's bytes (a DigestMismatch now and then).
    import os

    layers = [layer_tar([LayerFile(f"data/{i}.bin", os.urandom(8 * 1024 * 1024))])
              for i in range(8)]
    write_docker_archive(tmp_path / "many.tar", ImageSpec(layers))
    for _ in range(3):
        with open_target(f"docker-archive:{tmp_path / 'many.tar'}") as art:
            assert len(art.info.layers) == 8
