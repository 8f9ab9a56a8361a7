"""Hand-made rpm header blobs (from rpm's documented format) for the parser's edge cases."""

from __future__ import annotations

import struct
from collections.abc import Sequence

from stackwarden.catalog.rpm import header as h

TagValue = tuple[int, int, object]  # (tag, type, value)

_ALIGN = {h.TYPE_INT16: 2, h.TYPE_INT32: 4, h.TYPE_INT64: 8}
_FORMAT = {h.TYPE_INT8: "B", h.TYPE_INT16: "H", h.TYPE_INT32: "I", h.TYPE_INT64: "Q"}


def make_header(tags: Sequence[TagValue]) -> bytes:
    """A header blob (il, dl, index, data store) holding `tags` in order."""
    index = b""
    store = b""
    for tag, type_, value in tags:
        align = _ALIGN.get(type_, 1)
        store += bytes(-len(store) % align)
        offset = len(store)
        if type_ == h.TYPE_STRING:
            assert isinstance(value, str)
            data, count = value.encode() + b"\0", 1
        elif type_ in (h.TYPE_STRING_ARRAY, h.TYPE_I18NSTRING):
            assert isinstance(value, list)
            data, count = b"".join(v.encode() + b"\0" for v in value), len(value)
        elif type_ in _FORMAT:
            assert isinstance(value, list)
            data, count = struct.pack(f">{len(value)}{_FORMAT[type_]}", *value), len(value)
        else:
            assert isinstance(value, bytes)
            data, count = value, len(value)
        store += data
        index += struct.pack(">IIII", tag, type_, offset, count)
    return struct.pack(">II", len(tags), len(store)) + index + store


def basic_tags(name: str = "demo", **extra: object) -> list[TagValue]:
    """NAME, VERSION, RELEASE, ARCH and LICENSE of a plausible package."""
    return [
        (h.TAG_NAME, h.TYPE_STRING, name),
        (h.TAG_VERSION, h.TYPE_STRING, str(extra.get("version", "1.0"))),
        (h.TAG_RELEASE, h.TYPE_STRING, str(extra.get("release", "1"))),
        (h.TAG_ARCH, h.TYPE_STRING, "x86_64"),
        (h.TAG_LICENSE, h.TYPE_STRING, "MIT"),
    ]


def patch_entry(blob: bytes, index: int, *, tag: int | None = None, type_: int | None = None,
                offset: int | None = None, count: int | None = None) -> bytes:
    """`blob` with index entry `index` rewritten (hostile headers)."""
    at = 8 + 16 * index
    old = struct.unpack_from(">IIII", blob, at)
    new = (old[0] if tag is None else tag, old[1] if type_ is None else type_,
           old[2] if offset is None else offset, old[3] if count is None else count)
    return blob[:at] + struct.pack(">IIII", *new) + blob[at + 16:]
