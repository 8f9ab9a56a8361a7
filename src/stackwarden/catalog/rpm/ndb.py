"""rpm's native "ndb" package database (`Packages.db`, SUSE's default), read-only.

Layout (rpm lib/backend/ndb/rpmpkg.c), all numbers little-endian uint32:
- a 32-byte header: magic "RpmP", version 0, generation, slot page count, next index;
- slot pages (4096 bytes each, the header taking the first two slots): 16-byte slots
  "Slot", package index, block offset, block count; a zero block offset is a free slot;
- blobs in 16-byte blocks after the slot pages: a 16-byte head ("BlbS", package index,
  timestamp, length), the header blob, zero padding, and a 12-byte tail (Adler-32 of head,
  blob and padding; length; "BlbE").
rpm lists packages in block order; so do we. A bad slot or blob is skipped with its reason.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator

from stackwarden.catalog.rpm.records import DatabaseError, Record

DB_MAGIC = int.from_bytes(b"RpmP", "little")
SLOT_MAGIC = int.from_bytes(b"Slot", "little")
BLOB_HEAD_MAGIC = int.from_bytes(b"BlbS", "little")
BLOB_TAIL_MAGIC = int.from_bytes(b"BlbE", "little")
DB_VERSION = 0
HEADER_SIZE = 32
PAGE_SIZE = 4096
SLOT_SIZE = 16
BLOCK_SIZE = 16
BLOB_HEAD_SIZE = 16
BLOB_TAIL_SIZE = 12
MAX_SLOT_PAGES = 4096  # a million slots; rpm grows one page per 256 packages


def read_ndb(data: bytes) -> Iterator[Record]:
    """The header records of an ndb `Packages.db` file, in block order."""
    if len(data) < HEADER_SIZE:
        raise DatabaseError(f"{len(data)} bytes: too short for an ndb header")
    magic, version, _generation, slot_pages = struct.unpack_from("<4I", data, 0)
    if magic != DB_MAGIC:
        raise DatabaseError("not an rpm ndb database (bad magic)")
    if version != DB_VERSION:
        raise DatabaseError(f"unsupported ndb version {version}")
    if slot_pages == 0 or slot_pages > MAX_SLOT_PAGES:
        raise DatabaseError(f"ndb header claims {slot_pages} slot pages "
                            f"(allowed 1..{MAX_SLOT_PAGES})")
    if slot_pages * PAGE_SIZE > len(data):
        raise DatabaseError(f"ndb header claims {slot_pages} slot pages, the file holds "
                            f"{len(data) // PAGE_SIZE}")
    file_blocks = len(data) // BLOCK_SIZE
    first_block = slot_pages * (PAGE_SIZE // BLOCK_SIZE)
    slots: list[tuple[int, int, int, int]] = []  # (blkoff, pkgidx, blkcnt, slotno)
    problems: list[Record] = []
    for slotno in range(HEADER_SIZE // SLOT_SIZE, slot_pages * PAGE_SIZE // SLOT_SIZE):
        slot_magic, pkgidx, blkoff, blkcnt = struct.unpack_from("<4I", data, slotno * SLOT_SIZE)
        if slot_magic != SLOT_MAGIC:
            problems.append(Record(pkgidx, problem=f"slot {slotno}: bad slot magic"))
            continue
        if blkoff == 0:
            continue  # free slot
        if pkgidx == 0 or blkcnt == 0 or blkoff < first_block:
            problems.append(Record(pkgidx, problem=f"slot {slotno}: invalid slot (package "
                                   f"{pkgidx}, block {blkoff}, {blkcnt} blocks)"))
        elif blkoff + blkcnt > file_blocks:
            problems.append(Record(pkgidx, problem=f"slot {slotno}: blob at block {blkoff} "
                                   f"(+{blkcnt}) points past the end of the file "
                                   f"({file_blocks} blocks)"))
        else:
            slots.append((blkoff, pkgidx, blkcnt, slotno))
    yield from problems
    for blkoff, pkgidx, blkcnt, slotno in sorted(slots):
        yield _read_blob(data, pkgidx, blkoff, blkcnt, slotno)


def _read_blob(data: bytes, pkgidx: int, blkoff: int, blkcnt: int, slotno: int) -> Record:
    start = blkoff * BLOCK_SIZE
    end = start + blkcnt * BLOCK_SIZE
    where = f"slot {slotno} (package {pkgidx})"
    if blkcnt * BLOCK_SIZE < BLOB_HEAD_SIZE + BLOB_TAIL_SIZE:
        return Record(pkgidx, problem=f"{where}: {blkcnt} blocks cannot hold a blob")
    magic, head_idx, _stamp, length = struct.unpack_from("<4I", data, start)
    if magic != BLOB_HEAD_MAGIC:
        return Record(pkgidx, problem=f"{where}: no blob header at block {blkoff}")
    if head_idx != pkgidx:
        return Record(pkgidx, problem=f"{where}: blob belongs to package {head_idx}")
    needed = -(-(BLOB_HEAD_SIZE + length + BLOB_TAIL_SIZE) // BLOCK_SIZE)
    if needed != blkcnt:
        return Record(pkgidx, problem=f"{where}: blob of {length} bytes needs {needed} blocks, "
                      f"slot says {blkcnt}")
    checksum, tail_len, tail_magic = struct.unpack_from("<3I", data, end - BLOB_TAIL_SIZE)
    if tail_magic != BLOB_TAIL_MAGIC or tail_len != length:
        return Record(pkgidx, problem=f"{where}: bad blob trailer")
    if zlib.adler32(data[start:end - BLOB_TAIL_SIZE]) != checksum:
        return Record(pkgidx, problem=f"{where}: Adler-32 checksum mismatch")
    body = start + BLOB_HEAD_SIZE
    return Record(pkgidx, blob=data[body:body + length])
