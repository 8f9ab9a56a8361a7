"""Hostile and broken images: one clear error or a skipped entry, no escape, no hang."""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import tarfile
from pathlib import Path

import pytest

from stackwarden.artifact import open_target
from stackwarden.artifact.build import ImageSpec, LayerFile, layer_tar, write_oci_layout
from stackwarden.artifact.targets import TargetOptions
from stackwarden.core.config import Limits
from stackwarden.core.errors import ArtifactError, DigestMismatch, LimitExceeded


def _raw_layer(entries: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for info, data in entries:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return out.getvalue()


def _info(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    return info


def _image(tmp_path: Path, layers: list[bytes], **kw: object) -> str:
    write_oci_layout(tmp_path / "img", ImageSpec(layers, **kw))  # type: ignore[arg-type]
    return f"oci-dir:{tmp_path / 'img'}"


def test_escaping_entries_are_ignored_and_reported(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    layer = _raw_layer([
        (_info("../../outside.txt"), b"escape"),
        (_info("/etc/absolute"), b"abs"),
        (_info("etc/ok"), b"fine"),
        (_info("dev/null", tarfile.CHRTYPE), None),
        (_info("etc/link-out", tarfile.SYMTYPE, "../../../../etc/shadow"), None),
        (_info("etc/loop1", tarfile.SYMTYPE, "loop2"), None),
        (_info("etc/loop2", tarfile.SYMTYPE, "loop1"), None),
        (_info("etc/hard", tarfile.LNKTYPE, "etc/nowhere"), None),
    ])
    with open_target(_image(tmp_path, [layer])) as art:
        paths = {e.path for e in art.files()}
        reasons = " | ".join(s.reason for s in art.skipped)  # type: ignore[attr-defined]
        assert "/etc/ok" in paths and "/outside.txt" not in paths
        assert "/etc/absolute" not in paths
        assert "climbs out" in reasons and "absolute path" in reasons and "hard link" in reasons
        assert art.resolve("/etc/link-out") is None  # /etc/shadow is not in this image
        assert art.realpath("/etc/loop1") is None
        with pytest.raises(ArtifactError):
            art.read("/dev/null")
    assert not outside.exists()


def _layer_blob(tmp_path: Path) -> Path:
    blobs = tmp_path / "img/blobs/sha256"
    top = json.loads((tmp_path / "img/index.json").read_text())["manifests"][0]["digest"]
    manifest = json.loads((blobs / top.split(":")[1]).read_text())
    return blobs / manifest["layers"][0]["digest"].split(":")[1]


def test_truncated_layer_blob_names_the_layer(tmp_path: Path) -> None:
    target = _image(tmp_path, [layer_tar([LayerFile("a", os.urandom(100_000))])])
    blob = _layer_blob(tmp_path)
    blob.write_bytes(blob.read_bytes()[:-40])
    with pytest.raises(ArtifactError, match="layer 0") as info:
        open_target(target)
    assert "truncated" in str(info.value)


def test_truncated_gzip_is_reported_as_truncated(tmp_path: Path) -> None:
    from stackwarden.artifact.layers import materialize_layer

    data = gzip.compress(b"y" * 200_000)[:-20]
    with pytest.raises(ArtifactError, match="truncated"):
        materialize_layer(io.BytesIO(data), tmp_path / "out.tar", digest=None, diff_id=None,
                          label="blob")
    assert not (tmp_path / "out.tar").exists()


def test_blob_digest_mismatch(tmp_path: Path) -> None:
    target = _image(tmp_path, [layer_tar([LayerFile("a", b"original")])], compress=False)
    blob = _layer_blob(tmp_path)
    blob.write_bytes(blob.read_bytes().replace(b"original", b"tampered"))
    with pytest.raises(DigestMismatch, match="layer 0"):
        open_target(target)


def test_manifest_pointing_at_missing_blob(tmp_path: Path) -> None:
    target = _image(tmp_path, [layer_tar([LayerFile("a", b"x")])])
    manifest_desc = json.loads((tmp_path / "img/index.json").read_text())["manifests"][0]
    manifest = json.loads((tmp_path / "img/blobs/sha256" /
                           manifest_desc["digest"].split(":")[1]).read_text())
    (tmp_path / "img/blobs/sha256" / manifest["layers"][0]["digest"].split(":")[1]).unlink()
    with pytest.raises(ArtifactError, match="missing or unreadable"):
        open_target(target)


def test_malformed_index(tmp_path: Path) -> None:
    (tmp_path / "img").mkdir()
    (tmp_path / "img/oci-layout").write_text("{}")
    (tmp_path / "img/index.json").write_text("{not json")
    with pytest.raises(ArtifactError, match="not valid JSON"):
        open_target(f"oci-dir:{tmp_path / 'img'}")
    (tmp_path / "img/index.json").write_text(json.dumps(
        {"manifests": [{"digest": "sha256:../../../etc/passwd"}]}))
    with pytest.raises(ArtifactError, match="malformed digest"):
        open_target(f"oci-dir:{tmp_path / 'img'}")


def test_decompression_bomb_is_refused_quickly(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import tempfile

    zeros = layer_tar([LayerFile("zeros", b"\0" * (64 * 1024 * 1024))])
    target = _image(tmp_path, [zeros])
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    limits = Limits(ratio_floor_bytes=8 * 1024 * 1024, max_compression_ratio=50)
    with pytest.raises(LimitExceeded, match="decompression bomb"):
        open_target(target, TargetOptions(limits=limits))
    assert list(scratch.iterdir()) == []  # the half-written layer and its workdir are gone


def test_huge_sparse_file_is_indexed_not_read(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    with open(src / "disk.img", "wb") as handle:
        handle.truncate(8 * 1024**3)  # 8 GiB of holes
    layer = tmp_path / "layer.tar"
    subprocess.run(["tar", "--sparse", "-cf", str(layer), "-C", str(src), "disk.img"],
                   check=True)
    assert layer.stat().st_size < 1024 * 1024
    with open_target(_image(tmp_path, [layer.read_bytes()], compress=False)) as art:
        entry = art.lstat("/disk.img")
        assert entry is not None and entry.size == 8 * 1024**3
        with pytest.raises(LimitExceeded, match="limit"):
            art.read(entry)


def test_tar_header_claiming_more_than_the_layer_holds(tmp_path: Path) -> None:
    header = tarfile.TarInfo("huge.bin")
    header.size = 8 * 1024**3
    layer = header.tobuf(tarfile.GNU_FORMAT) + b"\0" * 512
    with open_target(_image(tmp_path, [layer], compress=False)) as art:
        entry = art.lstat("/huge.bin")
        assert any("truncated" in s.reason for s in art.skipped)  # type: ignore[attr-defined]
        assert entry is not None
        with pytest.raises(LimitExceeded):
            art.read(entry)


def test_not_an_archive(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    from stackwarden.core.errors import UsageError

    with pytest.raises(UsageError, match="not a directory, image archive"):
        open_target(str(path))
    with pytest.raises(ArtifactError):
        open_target(f"docker-archive:{path}")
