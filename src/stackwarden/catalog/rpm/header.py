"""RPM header blobs as the rpm databases store them: an index of tags over a data store.

A stored header is `il` (index entry count) and `dl` (data length), both big-endian
uint32, then `il` 16-byte entries (tag, type, offset, count) and `dl` bytes of data.
rpm's own reader (lib/header.c) bounds these numbers before trusting them; so do we,
because the database comes from an image we do not trust.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from stackwarden.core.errors import CatalogError

# Tag numbers (rpmtag.h); only the ones the inventory reads.
TAG_NAME = 1000
TAG_VERSION = 1001
TAG_RELEASE = 1002
TAG_EPOCH = 1003
TAG_SIZE = 1009
TAG_VENDOR = 1011
TAG_LICENSE = 1014
TAG_ARCH = 1022
TAG_OLDFILENAMES = 1027
TAG_SOURCERPM = 1044
TAG_DIRINDEXES = 1116
TAG_BASENAMES = 1117
TAG_DIRNAMES = 1118
TAG_LONGSIZE = 5009
TAG_MODULARITYLABEL = 5096

# Data types (rpmtag.h: rpmTagType).
TYPE_NULL, TYPE_CHAR, TYPE_INT8, TYPE_INT16, TYPE_INT32, TYPE_INT64 = 0, 1, 2, 3, 4, 5
TYPE_STRING, TYPE_BIN, TYPE_STRING_ARRAY, TYPE_I18NSTRING = 6, 7, 8, 9
_FIXED_SIZES = {TYPE_NULL: 0, TYPE_CHAR: 1, TYPE_INT8: 1, TYPE_INT16: 2, TYPE_INT32: 4,
                TYPE_INT64: 8, TYPE_BIN: 1}
_INT_FORMATS = {TYPE_INT8: "B", TYPE_INT16: "H", TYPE_INT32: "I", TYPE_INT64: "Q"}
_STRING_TYPES = (TYPE_STRING, TYPE_STRING_ARRAY, TYPE_I18NSTRING)

# rpm refuses headers with il >= 2**24 or dl >= 2**28 (hdrchkTags / hdrchkData); real
# headers have a few hundred tags and rarely a few MiB of data, so stricter caps are safe.
MAX_INDEX_ENTRIES = 0x10000
MAX_DATA_BYTES = 64 * 1024 * 1024
MAX_FILES = 1_000_000
ENTRY_SIZE = 16


class HeaderError(CatalogError):
    """One header blob is malformed; the database reader skips it and reads the rest."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One index entry: where a tag's value lives in the data store."""

    tag: int
    type: int
    offset: int
    count: int


class Header:
    """A parsed header blob: validated index entries over its data store, read on demand."""

    def __init__(self, blob: bytes) -> None:
        if len(blob) < 8:
            raise HeaderError(f"header blob is {len(blob)} bytes, shorter than its 8-byte preamble")
        il, dl = struct.unpack_from(">II", blob, 0)
        if il == 0 or il > MAX_INDEX_ENTRIES:
            raise HeaderError(f"header claims {il} index entries (allowed 1..{MAX_INDEX_ENTRIES})")
        if dl > MAX_DATA_BYTES:
            raise HeaderError(f"header claims {dl} data bytes, over the {MAX_DATA_BYTES} limit")
        need = 8 + il * ENTRY_SIZE + dl
        if need > len(blob):
            raise HeaderError(f"header needs {need} bytes for {il} entries and {dl} data bytes, "
                              f"blob has {len(blob)}")
        self._blob = blob
        self._base = 8 + il * ENTRY_SIZE
        self._size = dl
        self.entries: dict[int, Entry] = {}
        for index in range(il):
            tag, type_, offset, count = struct.unpack_from(">IIII", blob, 8 + index * ENTRY_SIZE)
            if type_ > TYPE_I18NSTRING:
                raise HeaderError(f"tag {tag}: unknown data type {type_}")
            if offset >= dl and not (offset == dl and type_ == TYPE_NULL):
                raise HeaderError(f"tag {tag}: offset {offset} is past the {dl}-byte data store")
            size = _FIXED_SIZES.get(type_)
            if size is not None and offset + size * count > dl:
                raise HeaderError(f"tag {tag}: {count} values of {size} bytes at offset {offset} "
                                  f"run past the {dl}-byte data store")
            if type_ in _STRING_TYPES and (count == 0 or count > dl - offset):
                raise HeaderError(f"tag {tag}: {count} strings cannot fit at offset {offset}")
            self.entries.setdefault(tag, Entry(tag, type_, offset, count))

    def has(self, tag: int) -> bool:
        """Whether the header carries `tag`."""
        return tag in self.entries

    def strings(self, tag: int) -> list[str]:
        """A string-typed tag's values (one for STRING, the default for I18NSTRING: all)."""
        entry = self.entries.get(tag)
        if entry is None:
            return []
        if entry.type not in _STRING_TYPES:
            raise HeaderError(f"tag {tag}: expected strings, found data type {entry.type}")
        wanted = 1 if entry.type == TYPE_STRING else entry.count
        blob, limit = self._blob, self._base + self._size
        values: list[str] = []
        position = self._base + entry.offset
        for _ in range(wanted):
            end = blob.find(b"\0", position, limit)
            if end < 0:
                raise HeaderError(f"tag {tag}: string at offset {position - self._base} "
                                  "is not NUL-terminated inside the data store")
            values.append(blob[position:end].decode("utf-8", "replace"))
            position = end + 1
        return values

    def string(self, tag: int) -> str | None:
        """A single-string tag's value (the first of an array or i18n table), or None."""
        values = self.strings(tag)
        return values[0] if values else None

    def integers(self, tag: int) -> list[int]:
        """An integer-typed tag's values."""
        entry = self.entries.get(tag)
        if entry is None:
            return []
        fmt = _INT_FORMATS.get(entry.type)
        if fmt is None:
            raise HeaderError(f"tag {tag}: expected integers, found data type {entry.type}")
        return list(struct.unpack_from(f">{entry.count}{fmt}", self._blob,
                                       self._base + entry.offset))

    def integer(self, tag: int) -> int | None:
        """A single-integer tag's value, or None when absent or empty."""
        values = self.integers(tag)
        return values[0] if values else None


@dataclass(frozen=True, slots=True)
class PackageHeader:
    """What the inventory keeps from one installed package's header."""

    name: str
    version: str
    release: str
    epoch: int | None  # None when the header has no EPOCH tag (not the same as 0)
    arch: str
    sourcerpm: str
    license: str
    vendor: str
    size: int | None
    modularity_label: str
    files: tuple[str, ...]


def parse_package(blob: bytes, *, with_files: bool = True) -> PackageHeader:
    """Parse one database header blob into the fields a package needs."""
    header = Header(blob)
    name = header.string(TAG_NAME) or ""
    version = header.string(TAG_VERSION) or ""
    if not name or not version:
        raise HeaderError("header has no NAME or no VERSION")
    size = header.integer(TAG_LONGSIZE)
    if size is None:
        size = header.integer(TAG_SIZE)
    return PackageHeader(
        name=name,
        version=version,
        release=header.string(TAG_RELEASE) or "",
        epoch=header.integer(TAG_EPOCH),
        arch=header.string(TAG_ARCH) or "",
        sourcerpm=header.string(TAG_SOURCERPM) or "",
        license=header.string(TAG_LICENSE) or "",
        vendor=header.string(TAG_VENDOR) or "",
        size=size,
        modularity_label=header.string(TAG_MODULARITYLABEL) or "",
        files=owned_files(header) if with_files else (),
    )


def owned_files(header: Header) -> tuple[str, ...]:
    """The paths a package owns: DIRNAMES[DIRINDEXES[i]] + BASENAMES[i], else OLDFILENAMES."""
    if not header.has(TAG_BASENAMES):
        return tuple(header.strings(TAG_OLDFILENAMES))
    basenames = header.strings(TAG_BASENAMES)
    dirnames = header.strings(TAG_DIRNAMES)
    indexes = header.integers(TAG_DIRINDEXES)
    if len(indexes) != len(basenames):
        raise HeaderError(f"{len(basenames)} BASENAMES but {len(indexes)} DIRINDEXES")
    if len(basenames) > MAX_FILES:
        raise HeaderError(f"{len(basenames)} files, over the {MAX_FILES} limit")
    files = []
    for base, index in zip(basenames, indexes, strict=True):
        if index >= len(dirnames):
            raise HeaderError(f"DIRINDEXES value {index} is past the {len(dirnames)} DIRNAMES")
        files.append(dirnames[index] + base)
    return tuple(files)
