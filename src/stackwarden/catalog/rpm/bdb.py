"""Berkeley DB hash databases (rpm's legacy `Packages` file), read-only, without libdb.

Layout (libdb 4.x/5.x, dbinc/db_page.h): page 0 is the hash metadata page (magic 0x061561,
page size, last page, max bucket, the `spares` table mapping buckets to pages). Each
bucket is a chain of hash pages (`next_pgno`); a page holds an index of 16-bit item
offsets, items alternating key and value. Small items are stored inline (H_KEYDATA);
items larger than about a quarter page are H_OFFPAGE references to a chain of overflow
pages. rpm stores each header under a 4-byte key (its instance number `hnum`); key 0
holds rpm's instance counter, not a header. Files are in the writer's byte order, which
the metadata magic reveals. We walk the buckets rather than scanning every page, so
pages on the free list (deleted packages) are never mistaken for live ones.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

from stackwarden.catalog.rpm.records import DatabaseError, Record

HASH_MAGIC = 0x061561
HASH_VERSIONS = range(7, 11)  # hash format 7 (libdb 3.x) .. 9 (libdb 4.6+, 5.x)
PAGE_SIZES = {512 << n for n in range(8)}  # 512 .. 65536
P_HASH_UNSORTED, P_OVERFLOW, P_HASHMETA, P_HASH = 2, 7, 8, 13
H_KEYDATA, H_DUPLICATE, H_OFFPAGE, H_OFFDUP = 1, 2, 3, 4
PAGE_HEADER = 26  # SIZEOF_PAGE
CHECKSUM_EXTRA = 6  # PG_CHKSUM follows the page header when the database is checksummed
DBMETA_CHKSUM = 0x01
NCACHED = 32


class BerkeleyHash:
    """A read-only Berkeley DB hash file held in memory."""

    def __init__(self, data: bytes) -> None:
        if len(data) < 512:
            raise DatabaseError(f"{len(data)} bytes: too short for a Berkeley DB metadata page")
        magic_le = struct.unpack_from("<I", data, 12)[0]
        magic_be = struct.unpack_from(">I", data, 12)[0]
        if magic_le == HASH_MAGIC:
            self.order = "<"
        elif magic_be == HASH_MAGIC:
            self.order = ">"
        else:
            raise DatabaseError("not a Berkeley DB hash database (bad magic number)")
        o = self.order
        version, page_size = struct.unpack_from(o + "II", data, 16)
        encrypt, page_type, meta_flags = data[24], data[25], data[26]
        if version not in HASH_VERSIONS:
            raise DatabaseError(f"unsupported Berkeley DB hash version {version}")
        if page_size not in PAGE_SIZES:
            raise DatabaseError(f"invalid Berkeley DB page size {page_size}")
        if encrypt:
            raise DatabaseError("encrypted Berkeley DB databases are not supported")
        if page_type != P_HASHMETA:
            raise DatabaseError(f"page 0 has type {page_type}, not a hash metadata page")
        self.data = data
        self.page_size = page_size
        self.pages = len(data) // page_size
        self.last_pgno = struct.unpack_from(o + "I", data, 32)[0]
        self.max_bucket = struct.unpack_from(o + "I", data, 72)[0]
        self.spares = struct.unpack_from(o + f"{NCACHED}I", data, 96)
        self.overhead = PAGE_HEADER + (CHECKSUM_EXTRA if meta_flags & DBMETA_CHKSUM else 0)
        if self.max_bucket >= self.pages:
            raise DatabaseError(f"metadata claims {self.max_bucket + 1} buckets in a file of "
                                f"{self.pages} pages")

    def page(self, pgno: int) -> memoryview:
        """The bytes of page `pgno`; DatabaseError if the file does not hold it."""
        if pgno <= 0 or pgno >= self.pages:
            raise DatabaseError(f"page {pgno} is outside the file's {self.pages} pages")
        start = pgno * self.page_size
        return memoryview(self.data)[start:start + self.page_size]

    def bucket_page(self, bucket: int) -> int:
        """The first page of a bucket (libdb's BS_TO_PAGE: bucket + spares[ceil(log2(b+1))])."""
        return bucket + int(self.spares[bucket.bit_length()])

    def items(self) -> Iterator[tuple[bytes | str, bytes | str]]:
        """Every (key, value) pair; a part that cannot be read is a string saying why."""
        seen: set[int] = set()
        for bucket in range(self.max_bucket + 1):
            pgno = self.bucket_page(bucket)
            while pgno:
                if pgno in seen:
                    raise DatabaseError(f"bucket {bucket}: page {pgno} is reached twice "
                                        "(a loop or a shared page)")
                seen.add(pgno)
                page = self.page(pgno)
                kind = page[25]
                if kind not in (P_HASH, P_HASH_UNSORTED):
                    raise DatabaseError(f"bucket {bucket}: page {pgno} has type {kind}, "
                                        "not a hash page")
                yield from self._page_items(pgno, page)
                pgno = struct.unpack_from(self.order + "I", page, 16)[0]

    def _page_items(self, pgno: int, page: memoryview) -> Iterator[tuple[bytes | str, bytes | str]]:
        o = self.order
        count = struct.unpack_from(o + "H", page, 20)[0]
        if count % 2 or self.overhead + 2 * count > self.page_size:
            raise DatabaseError(f"page {pgno}: invalid item count {count}")
        offsets = struct.unpack_from(o + f"{count}H", page, self.overhead)
        ends = _item_ends(offsets, self.page_size)
        for index in range(0, count, 2):
            yield (self._item(pgno, page, offsets[index], ends),
                   self._item(pgno, page, offsets[index + 1], ends))

    def _item(self, pgno: int, page: memoryview, offset: int, ends: dict[int, int]) -> bytes | str:
        index_end = self.overhead
        if offset < index_end or offset >= self.page_size:
            return f"page {pgno}: item offset {offset} is outside the page"
        kind = page[offset]
        if kind == H_KEYDATA:
            return bytes(page[offset + 1:ends[offset]])
        if kind == H_OFFPAGE:
            if offset + 12 > self.page_size:
                return f"page {pgno}: off-page item at {offset} runs past the page"
            first, total = struct.unpack_from(self.order + "II", page, offset + 4)
            return self._overflow(first, total)
        if kind in (H_DUPLICATE, H_OFFDUP):
            return f"page {pgno}: duplicate-key items are not used by rpm and are not read"
        return f"page {pgno}: unknown item type {kind}"

    def _overflow(self, pgno: int, total: int) -> bytes | str:
        """Concatenate an overflow chain holding `total` bytes."""
        if total > len(self.data):
            return f"overflow item claims {total} bytes, more than the whole file"
        parts: list[bytes] = []
        have = 0
        hops = 0
        while pgno and have < total:
            hops += 1
            if hops > self.pages:
                return "overflow chain loops"
            try:
                page = self.page(pgno)
            except DatabaseError as exc:
                return f"overflow chain: {exc.message}"
            if page[25] != P_OVERFLOW:
                return f"overflow chain: page {pgno} has type {page[25]}, not an overflow page"
            length = struct.unpack_from(self.order + "H", page, 22)[0]  # hf_offset: bytes used
            if self.overhead + length > self.page_size:
                return f"overflow page {pgno} claims {length} bytes"
            parts.append(bytes(page[self.overhead:self.overhead + length]))
            have += length
            pgno = struct.unpack_from(self.order + "I", page, 16)[0]
        if have != total:
            return f"overflow chain holds {have} bytes, its item says {total}"
        return b"".join(parts)


def _item_ends(offsets: tuple[int, ...], page_size: int) -> dict[int, int]:
    """Where each item ends: the next item above it, or the end of the page.

    Items are packed downwards from the page end, so an item runs up to the next higher
    offset; sorting the offsets gives that for sorted (v9) and unsorted (v8) pages alike.
    """
    ordered = sorted(set(offsets))
    ends = {offset: nxt for offset, nxt in zip(ordered, ordered[1:], strict=False)}
    if ordered:
        ends[ordered[-1]] = page_size
    return ends


def read_bdb(data: bytes) -> Iterator[Record]:
    """The header records of an rpm `Packages` Berkeley DB hash file."""
    db = BerkeleyHash(data)
    for key, value in db.items():
        hnum = _key_number(key, db.order)
        if hnum == 0:
            continue  # rpm's instance counter, not a package
        if isinstance(key, str):
            yield Record(-1, problem=key)
        elif isinstance(value, str):
            yield Record(hnum, problem=value)
        else:
            yield Record(hnum, blob=value)


def _key_number(key: bytes | str, order: str) -> int:
    if isinstance(key, bytes) and len(key) == 4:
        return int(struct.unpack(order + "I", key)[0])
    return -1
