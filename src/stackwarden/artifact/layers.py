"""Image layers: decompress each blob once (verified, within limits) and index its tar."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import lzma
import os
import tarfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import zstandard

from stackwarden.artifact.base import FileEntry, FileType, normalize_path
from stackwarden.artifact.tar_headers import Unusual, read_members
from stackwarden.core.config import DEFAULT_LIMITS, Limits
from stackwarden.core.errors import ArtifactError, DigestMismatch, LimitExceeded
from stackwarden.core.models import Skipped

CHUNK = 1024 * 1024
WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"


def new_hasher(digest: str | None) -> tuple[str, hashlib._Hash]:
    """A hasher for the algorithm a digest names (`sha256:` by default)."""
    algorithm = (digest or "sha256:").split(":", 1)[0] or "sha256"
    if algorithm not in ("sha256", "sha384", "sha512"):
        raise ArtifactError(f"unsupported digest algorithm {algorithm!r}", source=digest)
    return algorithm, hashlib.new(algorithm)


class HashingReader(io.RawIOBase):
    """Reads a stream through a hasher and a byte counter, replaying bytes already peeked."""

    def __init__(self, raw: BinaryIO, prefix: bytes, hasher: hashlib._Hash) -> None:
        self.raw = raw
        self.pending = prefix
        self.hasher = hasher
        self.count = 0
        hasher.update(prefix)
        self.count += len(prefix)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self.pending:
            n = min(len(buffer), len(self.pending))
            buffer[:n] = self.pending[:n]
            self.pending = self.pending[n:]
            return n
        data = self.raw.read(len(buffer))
        if not data:
            return 0
        self.hasher.update(data)
        self.count += len(data)
        n = len(data)
        buffer[:n] = data
        return n


def _decompressor(magic: bytes, stream: BinaryIO) -> tuple[str, BinaryIO]:
    if magic.startswith(b"\x1f\x8b"):
        return "gzip", gzip.GzipFile(fileobj=stream, mode="rb")  # type: ignore[return-value]
    if magic.startswith(b"\x28\xb5\x2f\xfd"):
        reader = zstandard.ZstdDecompressor().stream_reader(stream, read_across_frames=True)
        return "zstd", reader  # type: ignore[return-value]
    if magic.startswith(b"BZh"):
        return "bzip2", bz2.BZ2File(stream)  # type: ignore[return-value]
    if magic.startswith(b"\xfd7zXZ\x00"):
        return "xz", lzma.LZMAFile(stream)  # type: ignore[return-value]
    return "none", stream


@dataclass(frozen=True, slots=True)
class MaterializedLayer:
    """An uncompressed layer tar on local disk, with the digests it was checked against."""

    path: Path
    digest: str  # of the blob as stored
    diff_id: str  # of the uncompressed tar
    size: int  # uncompressed bytes
    compression: str


def materialize_layer(source: BinaryIO, dest: Path, *, digest: str | None, diff_id: str | None,
                      label: str, limits: Limits = DEFAULT_LIMITS) -> MaterializedLayer:
    """Decompress `source` into `dest`, verifying the blob digest and the diff_id on the way.

    Raises DigestMismatch, LimitExceeded (a decompression bomb) or ArtifactError (truncated or
    corrupt stream); `dest` is removed on failure.
    """
    algorithm, blob_hash = new_hasher(digest)
    diff_algorithm, diff_hash = new_hasher(diff_id)
    magic = source.read(8)
    counted = HashingReader(source, magic, blob_hash)
    compression, stream = _decompressor(magic, counted)  # type: ignore[arg-type]
    written = 0
    try:
        with open(dest, "wb") as out:
            while True:
                try:
                    chunk = stream.read(CHUNK)
                except (EOFError, OSError, zlib.error, lzma.LZMAError,
                        zstandard.ZstdError) as exc:
                    # A tampered blob usually breaks its compression first: say what it is.
                    while counted.read(CHUNK):
                        pass
                    got = f"{algorithm}:{blob_hash.hexdigest()}"
                    if digest and got != digest:
                        raise DigestMismatch(f"blob hashes to {got}, descriptor says {digest}",
                                             source=label) from exc
                    raise ArtifactError(f"corrupt or truncated {compression} stream: {exc}",
                                        source=label) from exc
                if not chunk:
                    break
                written += len(chunk)
                diff_hash.update(chunk)
                out.write(chunk)
                _check_ratio(written, counted.count, limits, label)
        while counted.read(CHUNK):  # hash whatever follows the compressed stream too
            pass
    except BaseException:
        dest.unlink(missing_ok=True)
        raise
    blob_digest = f"{algorithm}:{blob_hash.hexdigest()}"
    if digest and blob_digest != digest:
        dest.unlink(missing_ok=True)
        raise DigestMismatch(f"blob hashes to {blob_digest}, descriptor says {digest}",
                             source=label)
    computed_diff = f"{diff_algorithm}:{diff_hash.hexdigest()}"
    if diff_id and computed_diff != diff_id:
        dest.unlink(missing_ok=True)
        raise DigestMismatch(f"uncompressed layer hashes to {computed_diff}, "
                             f"the image config says {diff_id}", source=label)
    return MaterializedLayer(dest, blob_digest, computed_diff, written, compression)


def _check_ratio(written: int, compressed: int, limits: Limits, label: str) -> None:
    if written > limits.max_layer_bytes:
        raise LimitExceeded(f"layer expands past {limits.max_layer_bytes} bytes", source=label)
    if written > limits.ratio_floor_bytes and written > limits.max_compression_ratio * max(
            compressed, 1):
        raise LimitExceeded(
            f"layer expands more than {limits.max_compression_ratio}:1 "
            f"({compressed} compressed bytes gave {written}); refusing a decompression bomb",
            source=label)


@dataclass(frozen=True, slots=True)
class BlobLocation:
    """Where a blob's bytes lie in a local file: `size` bytes from `offset` of `path`."""

    path: Path
    offset: int
    size: int

    def peek(self, count: int = 8) -> bytes:
        """The first `count` bytes (to tell a compressed blob from a plain tar)."""
        with open(self.path, "rb") as handle:
            handle.seek(self.offset)
            return handle.read(min(count, self.size))


def is_compressed(magic: bytes) -> bool:
    """Whether a blob starting with `magic` is gzip, zstd, bzip2 or xz."""
    return _decompressor(magic, io.BytesIO())[0] != "none"


@dataclass(slots=True)
class LayerIndex:
    """What one layer tar holds: its entries, its whiteouts, and where each file's bytes are.

    The tar's bytes are `size` bytes from `base` in the local file `path` (a decompressed copy,
    or the blob itself when it is a plain tar); offsets are relative to `base`. `path` is None
    for a layer indexed earlier (index cache) whose bytes are not local yet.
    """

    index: int
    path: Path | None
    entries: dict[str, FileEntry] = field(default_factory=dict)
    offsets: dict[str, tuple[int, int]] = field(default_factory=dict)  # path -> (offset, size)
    sparse: dict[str, tarfile.TarInfo] = field(default_factory=dict)
    whiteouts: list[str] = field(default_factory=list)
    opaque: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    base: int = 0
    size: int = -1

    def window(self) -> BinaryIO:
        """A buffered, seekable reader over the layer tar (pread: safe beside other readers)."""
        assert self.path is not None
        fd = os.open(self.path, os.O_RDONLY)
        size = self.size if self.size >= 0 else os.fstat(fd).st_size - self.base
        return io.BufferedReader(OwnedSliceReader(fd, self.base, size),  # type: ignore[return-value]
                                 buffer_size=64 * 1024)


_TAR_TYPES = {
    tarfile.REGTYPE: FileType.REG, tarfile.AREGTYPE: FileType.REG,
    tarfile.CONTTYPE: FileType.REG, tarfile.DIRTYPE: FileType.DIR,
    tarfile.SYMTYPE: FileType.SYMLINK, tarfile.CHRTYPE: FileType.CHAR,
    tarfile.BLKTYPE: FileType.BLOCK, tarfile.FIFOTYPE: FileType.FIFO,
    tarfile.GNUTYPE_SPARSE: FileType.REG,
}


def index_layer(path: Path, index: int, *, label: str, limits: Limits = DEFAULT_LIMITS,
                base: int = 0, size: int = -1) -> LayerIndex:
    """Read a layer tar's headers (not its contents) into a LayerIndex.

    The tar is `size` bytes from `base` of `path` (the whole file by default). Hostile entries
    (`..` escapes, absolute names, over-long paths) are skipped and noted; a tar that ends
    early keeps what was read and notes the truncation.
    """
    result = LayerIndex(index, path, base=base, size=size)
    window = result.window()
    result.size = window.raw.size  # type: ignore[attr-defined]
    try:
        fast = _index_fast(result, window.raw.fd, label, limits)  # type: ignore[attr-defined]
    except BaseException:
        window.close()
        raise
    if fast is not None:
        window.close()
        return fast
    try:
        tar = tarfile.open(fileobj=window, mode="r:")
    except tarfile.TarError as exc:
        window.close()
        raise ArtifactError(f"not a tar archive: {exc}", source=label) from exc
    count = 0
    with window, tar:
        try:
            for member in tar:
                count += 1
                if count > limits.max_entries_per_layer:
                    raise LimitExceeded(
                        f"more than {limits.max_entries_per_layer} entries", source=label)
                _add_member(result, member, label, limits)
                tar.members.clear()  # the index keeps what it needs; tarfile need not
        except tarfile.TarError as exc:
            result.skipped.append(Skipped(label, f"layer tar is truncated or corrupt after "
                                                 f"{count} entries: {exc}", "layer"))
    return result


def _index_fast(empty: LayerIndex, fd: int, label: str, limits: Limits) -> LayerIndex | None:
    """The index by the fast header reader, or None when the tar holds something it leaves to
    tarfile (then nothing of its work is kept)."""
    result = LayerIndex(empty.index, empty.path, base=empty.base, size=empty.size)
    count = 0
    try:
        for member in read_members(fd, result.base, result.size):
            count += 1
            if count > limits.max_entries_per_layer:
                raise LimitExceeded(f"more than {limits.max_entries_per_layer} entries",
                                    source=label)
            _add_member(result, member, label, limits)  # type: ignore[arg-type]
    except Unusual:
        return None
    return result


def _add_member(result: LayerIndex, member: tarfile.TarInfo, label: str, limits: Limits) -> None:
    name = member.name
    if name.startswith("/"):
        result.skipped.append(Skipped(name, "absolute path in layer tar: entry ignored", label))
        return
    path = normalize_path(name)
    if path is None:
        result.skipped.append(Skipped(name, "entry climbs out of the root with '..': ignored",
                                      label))
        return
    if len(path) > limits.max_path_length:
        result.skipped.append(Skipped(path[:200] + "…", "path too long: ignored", label))
        return
    if path == "/":
        return
    base = path.rsplit("/", 1)[1]
    if base.startswith(WHITEOUT_PREFIX):
        parent = path.rsplit("/", 1)[0] or "/"
        if base == OPAQUE_MARKER:
            result.opaque.append(parent)
        elif not base.startswith(".wh..wh."):
            result.whiteouts.append((parent.rstrip("/") + "/" + base[len(WHITEOUT_PREFIX):]))
        return
    if member.islnk():
        target = normalize_path(member.linkname)
        if target is None or target not in result.offsets and target not in result.sparse:
            result.skipped.append(Skipped(path, f"hard link to {member.linkname!r}, which this "
                                                "layer does not hold: ignored", label))
            return
        source = result.entries[target]
        result.entries[path] = FileEntry(path, FileType.REG, source.size, source.mode,
                                         source.uid, source.gid, source.mtime, "", result.index)
        if target in result.offsets:
            result.offsets[path] = result.offsets[target]
        else:
            result.sparse[path] = result.sparse[target]
        return
    kind = _TAR_TYPES.get(member.type, FileType.OTHER)
    entry = FileEntry(path, kind, member.size if kind is FileType.REG else 0,
                      member.mode & 0o7777, member.uid, member.gid, float(member.mtime),
                      member.linkname if kind is FileType.SYMLINK else "", result.index)
    result.entries[path] = entry
    if kind is FileType.REG:
        if member.issparse():
            result.sparse[path] = member
        else:
            result.offsets[path] = (member.offset_data, member.size)


def verify_in_place(location: BlobLocation, *, digest: str | None, diff_id: str | None,
                    label: str, limits: Limits = DEFAULT_LIMITS) -> MaterializedLayer:
    """Check a plain-tar blob where it lies: its digest and diff_id (one hash when both use
    the same algorithm, as they must for an uncompressed layer). Raises DigestMismatch or
    LimitExceeded; nothing is copied."""
    if location.size > limits.max_layer_bytes:
        raise LimitExceeded(f"layer is larger than {limits.max_layer_bytes} bytes", source=label)
    algorithm, blob_hash = new_hasher(digest)
    diff_algorithm, diff_hash = new_hasher(diff_id)
    same = algorithm == diff_algorithm
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    fd = os.open(location.path, os.O_RDONLY)
    try:
        done = 0
        while done < location.size:
            n = os.preadv(fd, [view[:min(CHUNK, location.size - done)]],
                          location.offset + done)
            if n <= 0:
                raise ArtifactError(f"blob is truncated ({done} of {location.size} bytes)",
                                    source=label)
            blob_hash.update(view[:n])
            if not same:
                diff_hash.update(view[:n])
            done += n
    finally:
        os.close(fd)
    blob_digest = f"{algorithm}:{blob_hash.hexdigest()}"
    if digest and blob_digest != digest:
        raise DigestMismatch(f"blob hashes to {blob_digest}, descriptor says {digest}",
                             source=label)
    computed_diff = blob_digest if same else f"{diff_algorithm}:{diff_hash.hexdigest()}"
    if diff_id and computed_diff != diff_id:
        raise DigestMismatch(f"uncompressed layer hashes to {computed_diff}, "
                             f"the image config says {diff_id}", source=label)
    return MaterializedLayer(location.path, blob_digest, computed_diff, location.size, "none")


class SliceReader(io.RawIOBase):
    """A read-only window on a file descriptor (pread: safe to share across threads)."""

    def __init__(self, fd: int, offset: int, size: int) -> None:
        self.fd = fd
        self.start = offset
        self.size = size
        self.pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self.pos, 2: self.size}[whence]
        self.pos = max(0, base + offset)
        return self.pos

    def tell(self) -> int:
        return self.pos

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        want = min(len(buffer), self.size - self.pos)
        if want <= 0:
            return 0
        n = os.preadv(self.fd, [memoryview(buffer)[:want]], self.start + self.pos)
        self.pos += n
        return n


class OwnedSliceReader(SliceReader):
    """A SliceReader that closes its file descriptor when closed."""

    def close(self) -> None:
        if not self.closed:
            os.close(self.fd)
        super().close()
