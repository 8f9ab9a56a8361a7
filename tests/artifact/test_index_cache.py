"""Layers read in place and layer indexes cached by diff_id: a rebuilt image reads only its
new layers, a cached layer's bytes are fetched (and verified) only when a file is opened."""

from __future__ import annotations

import gzip
import hashlib
import json
import tarfile
from pathlib import Path

import pytest

import stackwarden.artifact.image as image_module
from stackwarden.artifact import open_target
from stackwarden.artifact.build import (
    ImageSpec,
    LayerFile,
    layer_tar,
    write_docker_archive,
    write_oci_layout,
)
from stackwarden.artifact.index_cache import LayerIndexCache
from stackwarden.artifact.targets import TargetOptions
from stackwarden.core.config import DEFAULT_LIMITS
from stackwarden.core.errors import DigestMismatch

BASE = layer_tar([LayerFile("etc/os-release", b"ID=alpine\nVERSION_ID=3.20.0\n"),
                  LayerFile("usr/lib/libz.so.1", b"\x7fELF" + bytes(range(256)) * 40, mode=0o755),
                  LayerFile("usr/lib/libz.so", type="symlink", linkname="libz.so.1"),
                  LayerFile("usr/lib/hard", type="hardlink", linkname="usr/lib/libz.so.1"),
                  LayerFile("app/old.txt", b"old")])


def _app(version: str) -> bytes:
    return layer_tar([LayerFile("app/main.py", f"print('{version}')\n".encode()),
                      LayerFile("app/old.txt", type="whiteout")])


class Reads:
    """Which layers were hashed or decompressed (by index), via the loader's own functions."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.verified: list[str] = []
        self.materialized: list[str] = []
        verify, materialize = image_module.verify_in_place, image_module.materialize_layer

        def spy_verify(*args: object, **kw: object) -> object:
            self.verified.append(str(kw["label"]).split(" layer ")[1][0])
            return verify(*args, **kw)  # type: ignore[arg-type]

        def spy_materialize(*args: object, **kw: object) -> object:
            self.materialized.append(str(kw["label"]).split(" layer ")[1][0])
            return materialize(*args, **kw)  # type: ignore[arg-type]

        monkeypatch.setattr(image_module, "verify_in_place", spy_verify)
        monkeypatch.setattr(image_module, "materialize_layer", spy_materialize)


def _options(tmp_path: Path) -> TargetOptions:
    return TargetOptions(index_cache=tmp_path / "index")


def _view(target: str, options: TargetOptions) -> dict[str, object]:
    with open_target(target, options) as art:
        return {e.path: (e.type, e.size, e.mode, e.linkname, e.layer,
                         art.read(e) if e.is_file else None) for e in art.files()}


@pytest.mark.parametrize("kind", ["docker-archive", "oci-dir", "oci-dir-gzip"])
def test_rebuilt_image_reads_only_its_new_layer(tmp_path: Path, kind: str,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    targets = []
    for version in ("1", "2"):
        spec = ImageSpec([BASE, _app(version)], compress=kind.endswith("gzip"))
        if kind == "docker-archive":
            write_docker_archive(tmp_path / f"v{version}.tar", spec)
            targets.append(f"docker-archive:{tmp_path / f'v{version}.tar'}")
        else:
            write_oci_layout(tmp_path / f"v{version}", spec)
            targets.append(f"oci-dir:{tmp_path / f'v{version}'}")
    reads = Reads(monkeypatch)
    uncached = _view(targets[1], TargetOptions())  # the oracle: no cache at all
    assert sorted(reads.verified + reads.materialized) == ["0", "1"]
    _view(targets[0], _options(tmp_path))  # fills the cache with the base layer
    reads.verified.clear()
    reads.materialized.clear()
    with open_target(targets[1], _options(tmp_path)) as art:
        listed = {e.path for e in art.files()}
        assert reads.verified + reads.materialized == ["1"]  # the base layer: index cached
        assert "/app/old.txt" not in listed and "/app/main.py" in listed
        assert art.read("/app/main.py") == b"print('2')\n"
        assert reads.verified + reads.materialized == ["1"]
    cached = _view(targets[1], _options(tmp_path))
    assert cached == uncached  # same entries, same bytes (symlink and hard link included)
    if kind == "oci-dir-gzip":  # a compressed cached layer is fetched, verified, to be read
        assert reads.materialized.count("0") == 1
    else:  # a plain tar is read where it lies
        assert "0" not in reads.verified + reads.materialized


def _scanned_once(tmp_path: Path, *, compress: bool) -> tuple[str, Path]:
    """An image of the base layer, scanned once with the cache; its target and layer blob."""
    write_oci_layout(tmp_path / "img", ImageSpec([BASE], compress=compress))
    target = f"oci-dir:{tmp_path / 'img'}"
    _view(target, _options(tmp_path))
    blobs = tmp_path / "img/blobs/sha256"
    top = json.loads((tmp_path / "img/index.json").read_text())["manifests"][0]["digest"]
    manifest = json.loads((blobs / top.split(":")[1]).read_text())
    return target, blobs / manifest["layers"][0]["digest"].split(":")[1]


def test_fetched_layer_is_still_verified(tmp_path: Path) -> None:
    target, blob = _scanned_once(tmp_path, compress=True)
    tampered = BASE.replace(b"VERSION_ID=3.20.0", b"VERSION_ID=6.66.6")
    blob.write_bytes(gzip.compress(tampered, mtime=0))
    with open_target(target, _options(tmp_path)) as art:
        assert art.lstat("/etc/os-release") is not None  # listed from the cached index
        with pytest.raises(DigestMismatch, match="layer 0"):
            art.read("/etc/os-release")


def test_in_place_layer_of_another_size_is_verified_again(tmp_path: Path) -> None:
    target, blob = _scanned_once(tmp_path, compress=False)
    blob.write_bytes(BASE + b"\0" * 1024)  # the cached index no longer fits: not trusted
    with pytest.raises(DigestMismatch, match="layer 0"):
        open_target(target, _options(tmp_path))


def test_only_clean_indexes_are_cached(tmp_path: Path) -> None:
    info = tarfile.TarInfo("../escape")
    info.size = 1
    hostile = info.tobuf(tarfile.GNU_FORMAT) + b"x".ljust(512, b"\0") + b"\0" * 1024
    write_oci_layout(tmp_path / "img", ImageSpec([hostile, BASE], compress=False))
    with open_target(f"oci-dir:{tmp_path / 'img'}", _options(tmp_path)) as art:
        assert any("climbs out" in s.reason for s in art.skipped)  # type: ignore[attr-defined]
    cache = LayerIndexCache(tmp_path / "index", DEFAULT_LIMITS)
    hostile_id = "sha256:" + hashlib.sha256(hostile).hexdigest()
    base_id = "sha256:" + hashlib.sha256(BASE).hexdigest()
    assert cache.get(hostile_id, 0) is None
    assert cache.get(base_id, 1) is not None
    # and the notes name this image again the next time
    with open_target(f"oci-dir:{tmp_path / 'img'}", _options(tmp_path)) as art:
        assert any("climbs out" in s.reason for s in art.skipped)  # type: ignore[attr-defined]


def test_unreadable_cache_entry_is_ignored(tmp_path: Path) -> None:
    write_oci_layout(tmp_path / "img", ImageSpec([BASE], compress=False))
    target = f"oci-dir:{tmp_path / 'img'}"
    first = _view(target, _options(tmp_path))
    for entry in (tmp_path / "index").rglob("*.json"):
        entry.write_text("{truncated")
    assert _view(target, _options(tmp_path)) == first
