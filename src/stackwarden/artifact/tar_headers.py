"""A fast reader of the headers of a well-formed tar, for layer indexes.

`tarfile` builds a rich `TarInfo` per member (about 25 µs each); an image's layers hold tens of
thousands of members. This reader parses the ustar, GNU and pax headers a layer normally holds
(regular files, links, directories, devices, FIFOs, GNU long names, pax extended headers) with
exactly `tarfile`'s rules (checksum, base-256 numbers, prefix field, V7 directories, trailing
slashes, the order in which long names and pax records patch a member), and raises `Unusual`
for everything else — a bad checksum, a truncated tar, sparse files, global pax headers,
`hdrcharset`, an unknown type — so the caller indexes that tar with `tarfile` itself and gets
its behaviour, notes included. tests/artifact/test_tar_headers.py checks both agree.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass

BLOCK = 512
_ZERO = bytes(BLOCK)
_REGULAR = (b"0", b"\0", b"7")  # tarfile's REGULAR_TYPES, sparse ('S') left out
_PLAIN = frozenset((b"0", b"\0", b"7", b"1", b"2", b"3", b"4", b"5", b"6"))
_PAX_RECORD = re.compile(rb"(\d+) ([^=]+)=")  # as tarfile parses records
_PAX_NUMBERS = {"uid": int, "gid": int, "size": int, "mtime": float}
_PAX_FIELDS = ("path", "linkpath", "size", "mtime", "uid", "gid")  # what an index uses


class Unusual(Exception):
    """Something this reader leaves to `tarfile` (the whole tar is read again with it)."""


@dataclass(slots=True)
class Member:
    """The parts of a tar member a layer index uses (the `TarInfo` attributes of the same
    names, for `layers._add_member`)."""

    name: str
    type: bytes
    size: int
    mode: int
    uid: int
    gid: int
    mtime: float
    linkname: str
    offset_data: int

    def islnk(self) -> bool:
        """A hard link."""
        return self.type == b"1"

    def issparse(self) -> bool:
        """Never: sparse members are left to tarfile."""
        return False


def _text(field: bytes) -> str:
    end = field.find(b"\0")
    return (field if end < 0 else field[:end]).decode("utf-8", "surrogateescape")


def _number(field: bytes) -> int:
    first = field[0]
    if first == 0o200 or first == 0o377:  # base-256 (GNU), as tarfile.nti reads it
        value = int.from_bytes(field[1:], "big")
        return value - 256 ** (len(field) - 1) if first == 0o377 else value
    end = field.find(b"\0")
    try:  # int() reads ASCII bytes as tarfile's int(str) reads the decoded text
        return int((field if end < 0 else field[:end]).strip() or b"0", 8)
    except ValueError:
        raise Unusual("invalid number field") from None


def _checksum_ok(buf: bytes) -> bool:
    stored = _number(buf[148:156])
    unsigned = 256 + sum(buf) - sum(buf[148:156])
    if stored == unsigned:
        return True
    signed = 256 + sum(b - 256 if b > 127 else b for b in buf[:148]) + \
        sum(b - 256 if b > 127 else b for b in buf[156:])
    return stored == signed


def _pax(data: bytes) -> dict[str, str]:
    if re.search(rb"\d+ hdrcharset=([^\n]+)\n", data):
        raise Unusual("pax hdrcharset")
    records: dict[str, str] = {}
    pos = 0
    while match := _PAX_RECORD.match(data, pos):
        length = int(match.group(1))
        if length == 0:
            raise Unusual("empty pax record")
        keyword = match.group(2).decode("utf-8", "surrogateescape")
        if keyword.startswith("GNU.sparse"):
            raise Unusual("sparse file")
        records[keyword] = data[match.end(2) + 1:match.start(1) + length - 1].decode(
            "utf-8", "surrogateescape")
        pos += length
    return records


def _blocks(size: int) -> int:
    return -(-size // BLOCK) * BLOCK


def read_members(fd: int, base: int, size: int) -> Iterator[Member]:
    """Every member of the tar that is `size` bytes from `base` of `fd`, in order (raises
    `Unusual` for what tarfile should read instead)."""
    offset = 0
    patches: list[tuple[bytes, object]] = []  # long names and pax records, outermost first
    while True:
        if offset == size and not patches:
            return  # no end-of-archive blocks: tarfile stops here quietly too
        if offset > size or size - offset < BLOCK:
            raise Unusual("truncated")
        buf = os.pread(fd, BLOCK, base + offset)
        if len(buf) != BLOCK:
            raise Unusual("short read")
        if buf == _ZERO:
            if patches:
                raise Unusual("end of archive after an extended header")
            return
        if not _checksum_ok(buf):
            raise Unusual("bad checksum")
        kind = buf[156:157]
        length = _number(buf[124:136])
        if kind in (b"L", b"K", b"x"):
            end = offset + BLOCK + _blocks(length)
            if length < 0 or end > size:
                raise Unusual("truncated extended header")
            data = os.pread(fd, _blocks(length), base + offset + BLOCK)
            patches.append((kind, _pax(data) if kind == b"x" else _text(data)))
            offset = end
            continue
        if kind not in _PLAIN:
            raise Unusual(f"member type {kind!r}")
        _number(buf[329:337])  # device numbers: tarfile refuses the header if malformed
        _number(buf[337:345])
        name = _text(buf[0:100])
        if kind == b"\0" and name.endswith("/"):
            kind = b"5"  # a V7 directory
        if kind == b"5":
            name = name.rstrip("/")
        prefix = _text(buf[345:500])
        if prefix:
            name = prefix + "/" + name
        member = Member(name, kind, length, _number(buf[100:108]), _number(buf[108:116]),
                        _number(buf[116:124]), float(_number(buf[136:148])),
                        _text(buf[157:257]), offset + BLOCK)
        if kind == b"5":
            member.name = member.name.rstrip("/")
        for patch_kind, value in reversed(patches):  # innermost first, as tarfile recurses
            if patch_kind == b"L":
                member.name = value  # type: ignore[assignment]
            elif patch_kind == b"K":
                member.linkname = value  # type: ignore[assignment]
            else:
                _apply_pax(member, value)  # type: ignore[arg-type]
            if member.type == b"5":
                member.name = member.name.rstrip("/") if patch_kind == b"x" \
                    else member.name.removesuffix("/")
        patches.clear()
        offset = member.offset_data + (_blocks(member.size) if member.type in _REGULAR else 0)
        if member.size < 0:
            raise Unusual("negative size")
        yield member


def _apply_pax(member: Member, records: dict[str, str]) -> None:
    for keyword, raw in records.items():
        if keyword not in _PAX_FIELDS:
            continue
        value: object = raw
        convert = _PAX_NUMBERS.get(keyword)
        if convert is not None:
            try:
                value = convert(raw)
            except ValueError:
                value = 0
        if keyword == "path":
            member.name = raw.rstrip("/")
        elif keyword == "linkpath":
            member.linkname = raw
        elif keyword == "mtime":
            member.mtime = float(value)  # type: ignore[arg-type]
        else:
            setattr(member, keyword, value)
