"""The fast tar header reader against `tarfile` (the oracle): the same members, or it steps
aside (`Unusual`) and the layer is indexed by tarfile, notes included."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import stackwarden.artifact.layers as layers_module
from stackwarden.artifact.layers import index_layer
from stackwarden.artifact.tar_headers import Unusual, read_members

FORMATS = {"ustar": tarfile.USTAR_FORMAT, "gnu": tarfile.GNU_FORMAT, "pax": tarfile.PAX_FORMAT}
KINDS = [tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.CHRTYPE,
         tarfile.FIFOTYPE, tarfile.AREGTYPE, tarfile.CONTTYPE, tarfile.BLKTYPE]

segment = st.text(st.characters(codec="utf-8", exclude_characters="/\0"), min_size=1,
                  max_size=60)
names = st.lists(segment, min_size=1, max_size=5).map("/".join)
members = st.lists(st.tuples(
    names, st.sampled_from(KINDS), st.binary(max_size=700), names,
    st.integers(0, 0o7777), st.integers(0, 2**21), st.integers(0, 2**33)),
    min_size=1, max_size=12)


def _tar(entries: list[tuple[str, bytes, bytes, str, int, int, int]], fmt: int) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=fmt) as tar:
        for name, kind, data, link, mode, uid, mtime in entries:
            v7_dir = kind == tarfile.AREGTYPE and not data and len(name) % 3 == 0
            info = tarfile.TarInfo(name + ("/" if v7_dir else ""))
            info.type, info.mode, info.uid, info.gid, info.mtime = kind, mode, uid, uid, mtime
            if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE):
                info.linkname = link
            if kind in (tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.CONTTYPE):
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                tar.addfile(info)
    return out.getvalue()


def _oracle(data: bytes) -> list[tuple[object, ...]]:
    """tarfile's members, up to where it stops (quietly or with an error)."""
    found: list[tuple[object, ...]] = []
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
            for m in tar:
                found.append((m.name, m.type, m.size, m.mode, m.uid, m.gid, float(m.mtime),
                              m.linkname, m.offset_data))
    except tarfile.TarError:
        pass
    return found


def _fast(path: Path) -> list[tuple[object, ...]]:
    fd = os.open(path, os.O_RDONLY)
    try:
        return [(m.name, m.type, m.size, m.mode, m.uid, m.gid, m.mtime, m.linkname,
                 m.offset_data) for m in read_members(fd, 0, os.fstat(fd).st_size)]
    finally:
        os.close(fd)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(entries=members, fmt=st.sampled_from(sorted(FORMATS)))
def test_same_members_as_tarfile(tmp_path: Path, entries: list[tuple[str, bytes, bytes, str,
                                                                     int, int, int]],
                                 fmt: str) -> None:
    try:
        data = _tar(entries, FORMATS[fmt])
    except ValueError:  # a name or number this format cannot hold
        return
    path = tmp_path / "layer.tar"
    path.write_bytes(data)
    assert _fast(path) == _oracle(data)  # every format tarfile writes: no step aside


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(entries=members, fmt=st.sampled_from(sorted(FORMATS)), data=st.data())
def test_damaged_tars_read_the_same_or_step_aside(
        tmp_path: Path, entries: list[tuple[str, bytes, bytes, str, int, int, int]], fmt: str,
        data: st.DataObject) -> None:
    """Bytes overwritten anywhere (headers, numbers, pax records, padding): the reader agrees
    with tarfile member for member, or leaves the tar to it."""
    try:
        raw = bytearray(_tar(entries, FORMATS[fmt]))
    except ValueError:
        return
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(raw) - 1))
        raw[at] = data.draw(st.sampled_from([0, 0x20, 0x2F, 0x30, 0x37, 0x38, 0x80, 0xFF,
                                             ord("x"), ord("L"), ord("K"), ord("5")]))
    path = tmp_path / "layer.tar"
    path.write_bytes(bytes(raw))
    try:
        fast = _fast(path)
    except Unusual:
        return  # index_layer then reads it with tarfile
    assert fast == _oracle(bytes(raw))


@pytest.mark.parametrize("fmt", sorted(set(FORMATS) - {"ustar"}))  # ustar cannot hold these
def test_real_layers_are_read_by_the_fast_reader(tmp_path: Path, fmt: str) -> None:
    """A tree with long paths, unicode names, links and big numbers, written by tarfile."""
    entries = [("usr/lib/" + "deep/" * 30 + "file.so", tarfile.REGTYPE, b"\x7fELF" * 300,
                "", 0o755, 0, 1_700_000_000),
               ("etc/caf\u00e9/\u65e5\u672c.conf", tarfile.REGTYPE, b"x=1\n", "", 0o644, 1000,
                2**33 - 1),
               ("usr/lib/libz.so", tarfile.SYMTYPE, b"", "libz.so.1." + "9" * 120, 0o777, 0, 0),
               ("usr/lib/hard", tarfile.LNKTYPE, b"", "usr/lib/" + "deep/" * 30 + "file.so",
                0o755, 0, 0),
               ("var/empty", tarfile.DIRTYPE, b"", "", 0o755, 2**21 - 1, 0)]
    data = _tar(entries, FORMATS[fmt])
    path = tmp_path / "layer.tar"
    path.write_bytes(data)
    assert _fast(path) == _oracle(data)


def _gnu_tar(tmp_path: Path, *args: str) -> Path:
    import subprocess

    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("a")
    with open(src / "sparse.img", "wb") as handle:
        handle.truncate(1024 * 1024)
    out = tmp_path / "gnu.tar"
    subprocess.run(["tar", *args, "-cf", str(out), "-C", str(src), "."], check=True)
    return out


@pytest.mark.parametrize(("data", "why"), [
    (b"", None),  # empty: the end, as tarfile says
    (tarfile.TarInfo("a").tobuf(tarfile.GNU_FORMAT)[:300], "truncated"),
    (b"b" + tarfile.TarInfo("a").tobuf(tarfile.GNU_FORMAT)[1:] + bytes(1024), "bad checksum"),
    (b"x" * 1024, "invalid number"),
])
def test_odd_tars_step_aside(tmp_path: Path, data: bytes, why: str | None) -> None:
    path = tmp_path / "odd.tar"
    path.write_bytes(data)
    if why is None:
        assert _fast(path) == []
    else:
        with pytest.raises(Unusual, match=why):
            _fast(path)


def test_sparse_members_are_left_to_tarfile(tmp_path: Path) -> None:
    with pytest.raises(Unusual):
        _fast(_gnu_tar(tmp_path, "--sparse"))


def test_index_is_the_same_either_way(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """index_layer by the fast reader and by tarfile alone, on a hostile layer and a normal one."""
    hostile = [("../../outside.txt", tarfile.REGTYPE, b"escape", "", 0o644, 0, 0),
               ("etc/ok", tarfile.REGTYPE, b"fine", "", 0o644, 0, 0),
               ("etc/.wh.gone", tarfile.REGTYPE, b"", "", 0o644, 0, 0),
               ("opt/.wh..wh..opq", tarfile.REGTYPE, b"", "", 0o644, 0, 0),
               ("etc/hard", tarfile.LNKTYPE, b"", "etc/nowhere", 0o644, 0, 0),
               ("etc/hard2", tarfile.LNKTYPE, b"", "etc/ok", 0o644, 0, 0)]
    path = tmp_path / "layer.tar"
    path.write_bytes(_tar(hostile, tarfile.GNU_FORMAT))
    fast = index_layer(path, 0, label="layer")

    def refuse(*args: object) -> object:
        raise Unusual("disabled")

    monkeypatch.setattr(layers_module, "read_members", refuse)
    slow = index_layer(path, 0, label="layer")
    assert (fast.entries, fast.offsets, fast.whiteouts, fast.opaque, fast.skipped) == \
        (slow.entries, slow.offsets, slow.whiteouts, slow.opaque, slow.skipped)
    assert fast.whiteouts == ["/etc/gone"] and fast.opaque == ["/opt"]
    assert "/etc/hard2" in fast.offsets and fast.skipped
