"""Directories and root filesystems on disk, read in place without following links out."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from stackwarden.artifact.base import Artifact, FileEntry, FileType
from stackwarden.core.errors import ArtifactError
from stackwarden.core.models import ArtifactInfo, Skipped

# Kernel-provided trees of a live root filesystem: never part of its content.
VIRTUAL_DIRS = frozenset({"/proc", "/sys", "/dev"})


def entry_type(mode: int) -> FileType:
    """Map an `st_mode` to the artifact's file type."""
    if stat.S_ISREG(mode):
        return FileType.REG
    if stat.S_ISDIR(mode):
        return FileType.DIR
    if stat.S_ISLNK(mode):
        return FileType.SYMLINK
    if stat.S_ISCHR(mode):
        return FileType.CHAR
    if stat.S_ISBLK(mode):
        return FileType.BLOCK
    if stat.S_ISFIFO(mode):
        return FileType.FIFO
    if stat.S_ISSOCK(mode):
        return FileType.SOCKET
    return FileType.OTHER


class DirectoryArtifact(Artifact):
    """A directory (`dir:`) or a root filesystem (`rootfs:`) read where it lies."""

    def __init__(self, root: str | Path, *, kind: str = "dir", reference: str | None = None) -> None:
        path = Path(root)
        if not path.is_dir():
            raise ArtifactError("not a directory", source=str(root))
        self.root = str(path.resolve())
        self.kind = kind
        self.skipped: list[Skipped] = []
        self.info = ArtifactInfo(kind=kind, reference=reference or f"{kind}:{root}",
                                 name=str(root))

    def _host(self, path: str) -> str:
        return self.root if path == "/" else self.root + path

    def _entry(self, path: str, st: os.stat_result) -> FileEntry:
        kind = entry_type(st.st_mode)
        link = ""
        if kind is FileType.SYMLINK:
            try:
                link = os.readlink(self._host(path))
            except OSError:
                link = ""
        return FileEntry(path, kind, st.st_size, stat.S_IMODE(st.st_mode), st.st_uid,
                         st.st_gid, st.st_mtime, link, 0)

    def files(self) -> Iterator[FileEntry]:
        skip_virtual = self.kind == "rootfs"
        stack = ["/"]
        while stack:
            directory = stack.pop()
            try:
                with os.scandir(self._host(directory)) as it:
                    children = list(it)
            except OSError as exc:
                self.skipped.append(Skipped(directory, f"cannot list: {exc.strerror}", "walk"))
                continue
            children.sort(key=lambda d: d.name, reverse=True)
            for child in children:
                path = ("/" if directory == "/" else directory + "/") + child.name
                try:
                    st = child.stat(follow_symlinks=False)
                except OSError as exc:
                    self.skipped.append(Skipped(path, f"cannot stat: {exc.strerror}", "walk"))
                    continue
                entry = self._entry(path, st)
                yield entry
                if entry.type is FileType.DIR and not (skip_virtual and path in VIRTUAL_DIRS):
                    stack.append(path)

    def _lookup(self, path: str) -> FileEntry | None:
        try:
            st = os.lstat(self._host(path))
        except (OSError, ValueError):
            return None
        return self._entry(path, st)

    def local_fd(self, entry: FileEntry) -> int:
        # O_NOFOLLOW: the resolved path has no symlinks; refuse one swapped in since.
        try:
            fd = os.open(self._host(entry.path), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError as exc:
            raise ArtifactError(f"cannot open: {exc.strerror}", source=entry.path) from exc
        try:
            regular = stat.S_ISREG(os.fstat(fd).st_mode)
        except OSError:
            regular = False
        if not regular:
            os.close(fd)
            raise ArtifactError("not a regular file", source=entry.path)
        return fd

    def _open_entry(self, entry: FileEntry) -> BinaryIO:
        return os.fdopen(self.local_fd(entry), "rb")


class FileListArtifact(DirectoryArtifact):
    """Only some files of a directory (what pre-commit stages): the walk yields just those.

    Paths are relative to `root` (or absolute inside it); one outside the root is refused.
    Lookups, symlink resolution and reads behave as for the whole directory.
    """

    def __init__(self, root: str | Path, paths: list[str]) -> None:
        super().__init__(root, kind="files", reference="files:" + " ".join(paths)[:200])
        self.paths: list[str] = []
        for raw in paths:
            full = Path(raw) if Path(raw).is_absolute() else Path(self.root) / raw
            try:
                rel = full.resolve().relative_to(self.root)
            except ValueError:
                raise ArtifactError("outside the directory being scanned", source=raw) from None
            self.paths.append("/" + rel.as_posix())

    def files(self) -> Iterator[FileEntry]:
        for path in dict.fromkeys(self.paths):
            entry = self.lstat(path)
            if entry is None:
                self.skipped.append(Skipped(path, "no such file", "walk"))
                continue
            yield entry
