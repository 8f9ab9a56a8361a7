"""Zip archives read from memory within limits: entry count, member size, ratio, depth.

Nothing is written to disk; nested archives are inflated into bytes only after their
declared size and compression ratio pass the checks, and zipfile itself never inflates
more than a member's declared size (a lying header fails its CRC check instead).
"""

from __future__ import annotations

import io
import zipfile
import zlib

from stackwarden.core.config import MiB
from stackwarden.core.errors import CatalogError, LimitExceeded

MAX_ENTRIES = 200_000  # generous: a large Spring Boot jar holds ~30,000
MAX_CENTRAL_DIRECTORY = 32 * MiB  # bounds memory for ZipInfo objects even if the count lies
RATIO_FLOOR = 1 * MiB  # small members may compress very well (a file of spaces) and are harmless
_EOCD = b"PK\x05\x06"
_ZIP64_LOCATOR = b"PK\x06\x07"
_ZIP64_EOCD = b"PK\x06\x06"
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, ValueError,
               NotImplementedError, RuntimeError, OSError, KeyError)


def central_directory(data: bytes) -> tuple[int, int] | None:
    """(entry count, central directory size) from the end record; None if there is none."""
    pos = data.rfind(_EOCD, max(0, len(data) - (65535 + 22)))
    if pos < 0 or pos + 22 > len(data):
        return None
    count = int.from_bytes(data[pos + 10:pos + 12], "little")
    size = int.from_bytes(data[pos + 12:pos + 16], "little")
    locator = pos - 20
    if (count == 0xFFFF or size == 0xFFFFFFFF) and locator >= 0 \
            and data[locator:locator + 4] == _ZIP64_LOCATOR:
        record = data.rfind(_ZIP64_EOCD, 0, locator)
        if record >= 0 and record + 56 <= len(data):
            count = int.from_bytes(data[record + 32:record + 40], "little")
            size = int.from_bytes(data[record + 40:record + 48], "little")
    return count, size


def open_zip(data: bytes, source: str) -> zipfile.ZipFile:
    """A ZipFile over `data`, refused (CatalogError) when it is not a zip or is too large."""
    directory = central_directory(data)
    if directory is None:
        raise CatalogError("not a zip archive (no end-of-central-directory record)", source=source)
    count, size = directory
    if count > MAX_ENTRIES:
        raise LimitExceeded(f"archive declares {count} entries, over the {MAX_ENTRIES} limit",
                            source=source)
    if size > MAX_CENTRAL_DIRECTORY:
        raise LimitExceeded(f"central directory is {size} bytes, over the "
                            f"{MAX_CENTRAL_DIRECTORY}-byte limit", source=source)
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except _ZIP_ERRORS as exc:
        raise CatalogError(f"not a readable zip archive ({describe(exc)})", source=source) from exc


def read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int, max_ratio: int,
                source: str) -> bytes:
    """Inflate one member, refusing it when its size or compression ratio is past the limits."""
    if info.flag_bits & 0x1:
        raise CatalogError("member is encrypted", source=source)
    if info.file_size > limit:
        raise LimitExceeded(f"member is {info.file_size} bytes, over the {limit}-byte limit",
                            source=source)
    if info.file_size > RATIO_FLOOR:
        packed = max(info.compress_size, 1)
        if info.file_size / packed > max_ratio:
            raise LimitExceeded(f"compression ratio {info.file_size // packed}:1 is over "
                                f"{max_ratio}:1 (zip bomb?)", source=source)
    try:
        with archive.open(info) as handle:
            data = handle.read(limit + 1)
    except _ZIP_ERRORS as exc:
        raise CatalogError(f"unreadable member ({describe(exc)})", source=source) from exc
    if len(data) > limit:
        raise LimitExceeded(f"member inflates past the {limit}-byte limit", source=source)
    return data


def describe(exc: BaseException) -> str:
    """A short, single-line description of a zip error."""
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}"[:200] if text else type(exc).__name__
