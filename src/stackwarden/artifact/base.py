"""The artifact: a read-only, layered filesystem view every target kind becomes."""

from __future__ import annotations

import posixpath
from abc import ABC, abstractmethod
from collections.abc import Iterator
from enum import StrEnum
from typing import BinaryIO, NamedTuple

from stackwarden.core.errors import ArtifactError, LimitExceeded
from stackwarden.core.models import ArtifactInfo

MAX_SYMLINK_HOPS = 40  # as Linux's MAXSYMLINKS
DEFAULT_READ_LIMIT = 256 * 1024 * 1024


class FileType(StrEnum):
    """The kind of a filesystem entry."""

    REG = "file"
    DIR = "dir"
    SYMLINK = "symlink"
    CHAR = "char-device"
    BLOCK = "block-device"
    FIFO = "fifo"
    SOCKET = "socket"
    OTHER = "other"


class FileEntry(NamedTuple):
    """One entry of an artifact's filesystem, as `lstat` would describe it.

    A named tuple rather than a frozen dataclass: an image lists every entry of every layer
    (75,000 for a Python base image), and a tuple is built in a third of the time (measured:
    0.7 against 3 µs each), which is most of what loading a cached layer index costs.
    """

    path: str  # absolute and normalised: "/usr/bin/env"
    type: FileType
    size: int = 0
    mode: int = 0o644  # permission bits, setuid/setgid/sticky included
    uid: int = 0
    gid: int = 0
    mtime: float = 0.0
    linkname: str = ""  # symlink target as stored
    layer: int = 0  # index of the layer that wrote this entry (0 for plain directories)

    @property
    def is_file(self) -> bool:
        """True for regular files (hard links are resolved to regular files by the readers)."""
        return self.type is FileType.REG

    @property
    def is_executable(self) -> bool:
        """True for a regular file with any execute bit set."""
        return self.type is FileType.REG and bool(self.mode & 0o111)


def normalize_path(name: str) -> str | None:
    """Turn an archive member name into an absolute artifact path; None if it climbs out.

    `./a/b`, `a/b/` and `a//b` become `/a/b`; a name with a `..` component that would
    leave the root is refused, because a well-formed layer never needs one.
    """
    parts: list[str] = []
    for part in name.replace("\\", "/").split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                return None
            parts.pop()
            continue
        parts.append(part)
    return "/" + "/".join(parts)


class Artifact(ABC):
    """A read-only filesystem view over one target; layers applied, whiteouts honoured.

    Paths are absolute inside the artifact. Symlinks resolve inside the artifact's root,
    never on the host. Readers raise `ArtifactError` subclasses with the path in the message.
    """

    info: ArtifactInfo

    @property
    def layer_count(self) -> int:
        """How many layers the artifact has (1 for a directory)."""
        return max(1, len(self.info.layers))

    def layer_digest(self, index: int) -> str | None:
        """The diff_id of layer `index`, or None for artifacts without layers."""
        layers = self.info.layers
        return layers[index].diff_id if 0 <= index < len(layers) else None

    @abstractmethod
    def files(self) -> Iterator[FileEntry]:
        """Every entry of the final (squashed) filesystem, each exactly once."""

    @abstractmethod
    def _lookup(self, path: str) -> FileEntry | None:
        """The entry at exactly `path`, whose parent directories contain no symlinks."""

    def lstat(self, path: str) -> FileEntry | None:
        """The entry at `path` in the final filesystem, not following a final symlink."""
        path = normalize_path(path) or "/"
        if path == "/":
            return self._lookup(path)
        parent = self.realpath(posixpath.dirname(path))
        if parent is None:
            return None
        return self._lookup(posixpath.join(parent, posixpath.basename(path)))

    def local_fd(self, entry: FileEntry) -> int | None:
        """A new read-only descriptor on a regular file's whole content when it is a file on
        local disk (directories), for tools that map files themselves; None when its bytes
        lie inside a layer (read those through `open`). The caller closes it."""
        return None

    def exact(self, path: str) -> FileEntry | None:
        """The entry stored at exactly `path` (absolute, normalised; no symlink resolved)."""
        return self._lookup(path)

    @abstractmethod
    def _open_entry(self, entry: FileEntry) -> BinaryIO:
        """Open a regular-file entry (of any layer) for reading."""

    def history(self, path: str) -> list[FileEntry]:
        """Every layer's version of `path`, oldest first (one entry outside images)."""
        entry = self.lstat(path)
        return [entry] if entry is not None else []

    def layer_files(self, layer: int) -> Iterator[FileEntry]:
        """Every entry one layer wrote, including files a later layer deleted."""
        if layer == 0:
            yield from self.files()

    def resolve(self, path: str) -> FileEntry | None:
        """The entry at `path` following symlinks (inside the root); None if missing or a loop."""
        resolved = self.realpath(path)
        return self.lstat(resolved) if resolved is not None else None

    def realpath(self, path: str) -> str | None:
        """Resolve every symlink in `path` the way the kernel would in a chroot; None on a loop."""
        pending = [p for p in path.split("/") if p]
        pending.reverse()
        current: list[str] = []
        hops = 0
        while pending:
            part = pending.pop()
            if part == ".":
                continue
            if part == "..":
                if current:
                    current.pop()
                continue
            candidate = "/" + "/".join([*current, part])
            entry = self._lookup(candidate)
            if entry is not None and entry.type is FileType.SYMLINK:
                hops += 1
                if hops > MAX_SYMLINK_HOPS:
                    return None
                target = entry.linkname
                if target.startswith("/"):
                    current = []
                parts = [p for p in target.split("/") if p]
                pending.extend(reversed(parts))
                continue
            current.append(part)
        return "/" + "/".join(current)

    def open(self, path: str, *, layer: int | None = None) -> BinaryIO:
        """Open the regular file at `path` (following symlinks), or its version in `layer`."""
        entry = self._entry_for(path, layer)
        return self._open_entry(entry)

    def read(self, path: str | FileEntry, *, limit: int = DEFAULT_READ_LIMIT,
             layer: int | None = None) -> bytes:
        """Read a whole regular file, refusing one larger than `limit` bytes."""
        entry = path if isinstance(path, FileEntry) else self._entry_for(path, layer)
        if entry.size > limit:
            raise LimitExceeded(f"file is {entry.size} bytes, over the {limit}-byte limit",
                                source=entry.path)
        with self._open_entry(entry) as handle:
            data = handle.read(limit + 1)
        if len(data) > limit:
            raise LimitExceeded(f"file grew past the {limit}-byte limit", source=entry.path)
        return data

    def read_text(self, path: str | FileEntry, *, limit: int = DEFAULT_READ_LIMIT) -> str:
        """Read a whole file as UTF-8 text (undecodable bytes replaced)."""
        return self.read(path, limit=limit).decode("utf-8", "replace")

    def _entry_for(self, path: str, layer: int | None) -> FileEntry:
        if layer is not None:
            for entry in self.history(path):
                if entry.layer == layer and entry.is_file:
                    return entry
            raise ArtifactError(f"no regular file in layer {layer}", source=path)
        entry = self.resolve(path)
        if entry is None:
            raise ArtifactError("no such file (or a symlink loop)", source=path)
        if not entry.is_file:
            raise ArtifactError(f"not a regular file ({entry.type})", source=path)
        return entry

    def close(self) -> None:
        """Release temporary files and handles."""

    def __enter__(self) -> Artifact:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def parent_dir(path: str) -> str:
    """The directory holding `path` ("/" for top-level entries)."""
    return posixpath.dirname(path) or "/"
