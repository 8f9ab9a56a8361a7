"""Where image files live on disk: a directory, or a (possibly compressed) tar archive."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tarfile
import tempfile
from abc import ABC, abstractmethod
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import BinaryIO

from stackwarden.artifact.base import normalize_path
from stackwarden.artifact.image import Descriptor
from stackwarden.artifact.layers import BlobLocation, SliceReader, materialize_layer, new_hasher
from stackwarden.core.config import DEFAULT_LIMITS, Limits
from stackwarden.core.errors import ArtifactError, DigestMismatch, LimitExceeded


class FileStore(ABC):
    """Read-only access to the files of an image layout or archive, by relative name."""

    label: str

    @abstractmethod
    def open(self, name: str) -> AbstractContextManager[BinaryIO]:
        """Open the file `name` (relative, `/`-separated); ArtifactError if absent."""

    @abstractmethod
    def exists(self, name: str) -> bool:
        """Whether the file `name` is present."""

    def read(self, name: str, limit: int) -> bytes:
        """Read a small file whole, refusing one past `limit` bytes."""
        with self.open(name) as handle:
            data = handle.read(limit + 1)
        if len(data) > limit:
            raise LimitExceeded(f"over the {limit}-byte limit for metadata files",
                                source=f"{self.label}:{name}")
        return data

    def close(self) -> None:
        """Release the archive handle and temporary files."""

    def locate(self, name: str) -> BlobLocation | None:
        """Where the file `name`'s bytes lie on local disk, when they can be read in place."""
        return None

    def blob_name(self, desc: Descriptor) -> str:
        """Where an OCI layout keeps the blob a descriptor names."""
        algorithm, _, hexpart = desc.digest.partition(":")
        return f"blobs/{algorithm}/{hexpart}"

    def read_blob(self, desc: Descriptor, limits: Limits) -> bytes:
        """Read a small blob (manifest, config) and check it against its digest."""
        data = self.read(self.blob_name(desc), limits.max_manifest_bytes)
        verify_bytes(data, desc.digest, f"{self.label}:{desc.digest}")
        return data


def verify_bytes(data: bytes, digest: str, where: str) -> None:
    """Raise DigestMismatch unless `data` hashes to `digest`."""
    algorithm, hasher = new_hasher(digest)
    hasher.update(data)
    got = f"{algorithm}:{hasher.hexdigest()}"
    if got != digest:
        raise DigestMismatch(f"content hashes to {got}, expected {digest}", source=where)


def sha256_digest(data: bytes) -> str:
    """`sha256:<hex>` of some bytes."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


class DirStore(FileStore):
    """Files under a directory; names that would leave it are refused."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.label = str(root)

    def _path(self, name: str) -> Path:
        rel = normalize_path(name)
        if rel is None:
            raise ArtifactError("path leaves the image layout", source=f"{self.label}:{name}")
        path = (self.root / rel.lstrip("/")).resolve()
        if path != self.root and self.root not in path.parents:
            raise ArtifactError("path leaves the image layout", source=f"{self.label}:{name}")
        return path

    def open(self, name: str) -> AbstractContextManager[BinaryIO]:
        path = self._path(name)
        try:
            return open(path, "rb")
        except OSError as exc:
            raise ArtifactError(f"missing or unreadable: {exc.strerror}",
                                source=f"{self.label}:{name}") from exc

    def exists(self, name: str) -> bool:
        try:
            return self._path(name).is_file()
        except ArtifactError:
            return False

    def locate(self, name: str) -> BlobLocation | None:
        try:
            path = self._path(name)
            return BlobLocation(path, 0, path.stat().st_size)
        except (ArtifactError, OSError):
            return None


class TarStore(FileStore):
    """Files inside a tar archive (gzip/zstd/bzip2/xz compressed archives are unpacked once)."""

    def __init__(self, path: Path, limits: Limits = DEFAULT_LIMITS) -> None:
        self.label = str(path)
        self._tmp: Path | None = None
        try:
            with open(path, "rb") as handle:
                magic = handle.read(8)
        except OSError as exc:
            raise ArtifactError(f"cannot read: {exc.strerror}", source=str(path)) from exc
        if magic[:2] == b"\x1f\x8b" or magic[:4] == b"\x28\xb5\x2f\xfd" or magic[:3] == b"BZh" \
                or magic[:6] == b"\xfd7zXZ\x00":
            self._tmp = Path(tempfile.mkdtemp(prefix="stackwarden-archive-"))
            try:
                with open(path, "rb") as handle:
                    path = materialize_layer(handle, self._tmp / "archive.tar", digest=None,
                                             diff_id=None, label=str(path), limits=limits).path
            except BaseException:
                shutil.rmtree(self._tmp, ignore_errors=True)
                raise
        try:
            self._file = path
            self._fd = os.open(path, os.O_RDONLY)
            self._tar = tarfile.open(path, mode="r:")
            self._members: dict[str, tarfile.TarInfo] = {}
            for member in self._tar:
                name = normalize_path(member.name)
                if name is not None and (member.isfile() or member.islnk() or member.issym()):
                    self._members[name.lstrip("/")] = member
        except tarfile.TarError as exc:
            self.close()
            raise ArtifactError(f"not a readable tar archive: {exc}", source=self.label) from exc

    def _member(self, name: str) -> tarfile.TarInfo:
        key = (normalize_path(name) or "").lstrip("/")
        member = self._members.get(key)
        hops = 0
        while member is not None and (member.issym() or member.islnk()) and hops < 8:
            hops += 1
            target = member.linkname
            if member.issym():
                target = os.path.join(os.path.dirname(key), target)
            key = (normalize_path(target) or "").lstrip("/")
            member = self._members.get(key)
        if member is None or not member.isfile():
            raise ArtifactError("not in the archive", source=f"{self.label}:{name}")
        return member

    def open(self, name: str) -> AbstractContextManager[BinaryIO]:
        member = self._member(name)
        if member.issparse():
            handle = self._tar.extractfile(member)
            if handle is None:
                raise ArtifactError("not a regular file", source=f"{self.label}:{name}")
            return nullcontext(handle)  # type: ignore[arg-type]
        # pread-based windows: layers are read by two threads at once, and a shared
        # tarfile handle (seek + read) would interleave their reads.
        reader = io.BufferedReader(SliceReader(self._fd, member.offset_data, member.size),
                                   buffer_size=1 << 20)
        return nullcontext(reader)  # type: ignore[arg-type]

    def exists(self, name: str) -> bool:
        try:
            self._member(name)
        except ArtifactError:
            return False
        return True

    def locate(self, name: str) -> BlobLocation | None:
        try:
            member = self._member(name)
        except ArtifactError:
            return None
        return None if member.issparse() else BlobLocation(self._file, member.offset_data,
                                                           member.size)

    def close(self) -> None:
        tar = getattr(self, "_tar", None)
        if tar is not None:
            tar.close()
            self._tar = None
        fd = getattr(self, "_fd", None)
        if fd is not None:
            os.close(fd)
            self._fd = None
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None
