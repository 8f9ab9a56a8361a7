"""What file integrity monitoring records and reports: file records, options, changes."""

from __future__ import annotations

import grp
import hashlib
import pwd
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from typing import Any

from stackwarden.artifact.directory import entry_type
from stackwarden.core.errors import StackWardenError

SCHEMA_VERSION = "1.0"
DEFAULT_DIFF_GLOBS = ("/etc/*",)
DEFAULT_DIFF_MAX_BYTES = 64 * 1024


class FimError(StackWardenError):
    """A baseline could not be built, read or compared (bad database, no usable path)."""


class ChangeKind(StrEnum):
    """How a path differs from its baseline."""

    ADDED = "added"
    MODIFIED = "modified"  # content: hash, size, type or symlink target
    DELETED = "deleted"
    METADATA = "metadata"  # same content; mode, owner, group, mtime, inode, caps or xattrs


# The compared attributes, in FileRecord's field order (path first and error last excluded).
RECORD_FIELDS = ("type", "size", "mode", "uid", "gid", "mtime_ns", "inode", "link", "sha256",
                 "caps", "xattrs")
# Attributes whose change means the content changed (the rest are metadata).
CONTENT_FIELDS = frozenset({"type", "size", "sha256", "link"})


@dataclass(frozen=True, slots=True)
class FileRecord:
    """One path's attributes at one moment, as the baseline stores them."""

    path: str
    type: str  # file, dir, symlink, fifo, socket, char-device, block-device, other
    size: int
    mode: int  # permission bits with setuid/setgid/sticky
    uid: int
    gid: int
    mtime_ns: int
    inode: int
    link: str | None = None  # symlink target
    sha256: str | None = None  # regular files that could be read
    caps: str | None = None  # decoded security.capability, getcap's notation
    xattrs: tuple[tuple[str, str], ...] = ()  # other extended attributes, sorted by name
    error: str | None = None  # why the content could not be hashed

    def row(self) -> tuple[Any, ...]:
        """Every field as a plain tuple (the form workers and the database use)."""
        return (self.path, self.type, self.size, self.mode, self.uid, self.gid, self.mtime_ns,
                self.inode, self.link, self.sha256, self.caps, self.xattrs, self.error)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (`before` / `after` of a change)."""
        return {
            "type": self.type,
            "size": self.size,
            "sha256": self.sha256,
            "mode": f"{self.mode:04o}",
            "uid": self.uid,
            "gid": self.gid,
            "owner": user_name(self.uid),
            "group": group_name(self.gid),
            "mtime_ns": self.mtime_ns,
            "inode": self.inode,
            "link": self.link,
            "caps": self.caps,
            "xattrs": dict(self.xattrs),
            **({"error": self.error} if self.error else {}),
        }


@cache
def user_name(uid: int) -> str | None:
    """The host's name for a uid (None when it has none)."""
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return None


@cache
def group_name(gid: int) -> str | None:
    """The host's name for a gid (None when it has none)."""
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return None


def file_type(mode: int) -> str:
    """The record's `type` for an st_mode: the artifact layer's names (file, dir, symlink,
    char-device, block-device, fifo, socket, other)."""
    return entry_type(mode).value


@dataclass(frozen=True, slots=True)
class FimOptions:
    """What a baseline covers and how it is built; stored in the baseline so `check` repeats it."""

    ignore: tuple[str, ...] = ()  # globs on the full path; a bare name matches any basename
    one_filesystem: bool = False  # do not cross into other mounts (like find -xdev)
    workers: int = 0  # hashing workers; 0 chooses (see scan.choose_workers)
    diff_globs: tuple[str, ...] = DEFAULT_DIFF_GLOBS  # small text files kept for content diffs
    diff_max_bytes: int = DEFAULT_DIFF_MAX_BYTES  # 0 turns content diffs off
    root: str = "/"  # the system root (package databases) the paths belong to
    xattrs: bool = True

    def to_dict(self) -> dict[str, Any]:
        """The form stored in the baseline database."""
        return {"ignore": list(self.ignore), "one_filesystem": self.one_filesystem,
                "workers": self.workers, "diff_globs": list(self.diff_globs),
                "diff_max_bytes": self.diff_max_bytes, "root": self.root,
                "xattrs": self.xattrs}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FimOptions:
        """Read the stored form back (unknown keys ignored, missing ones defaulted)."""
        return cls(ignore=tuple(data.get("ignore", ())),
                   one_filesystem=bool(data.get("one_filesystem", False)),
                   workers=int(data.get("workers", 0)),
                   diff_globs=tuple(data.get("diff_globs", DEFAULT_DIFF_GLOBS)),
                   diff_max_bytes=int(data.get("diff_max_bytes", DEFAULT_DIFF_MAX_BYTES)),
                   root=str(data.get("root", "/")),
                   xattrs=bool(data.get("xattrs", True)))


@dataclass(frozen=True, slots=True)
class Change:
    """One path that differs from the baseline, with what it was and what it is."""

    path: str
    change: ChangeKind
    before: FileRecord | None
    after: FileRecord | None
    fields: tuple[str, ...] = ()  # the attributes that differ
    label: str | None = None  # "package_update": the package manager wrote it
    package: dict[str, str] | None = None  # the owning package, when known
    diff: str | None = None  # unified diff of small text files, secrets redacted

    @property
    def id(self) -> str:
        """A stable event id: the same change seen twice has the same id."""
        parts = [self.path, str(self.change)]
        for record in (self.before, self.after):
            parts.append(repr(record.row()[1:12]) if record else "-")
        return hashlib.sha256("\0".join(parts).encode("utf-8", "surrogateescape")).hexdigest()[:32]

    def to_dict(self) -> dict[str, Any]:
        """The JSON form of `fim check`'s `changes`."""
        return {
            "path": self.path,
            "change": str(self.change),
            "fields": list(self.fields),
            "label": self.label,
            "package": self.package,
            "before": self.before.to_dict() if self.before else None,
            "after": self.after.to_dict() if self.after else None,
            "diff": self.diff,
            "id": self.id,
        }


@dataclass(slots=True)
class ScanNote:
    """A path that was not fully recorded, and why (unreadable, vanished, loop, limit)."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass(slots=True)
class CheckResult:
    """What one check found: the changes, what could not be read, and the counts."""

    changes: list[Change]
    notes: list[ScanNote] = field(default_factory=list)
    scanned: int = 0
    baseline_files: int = 0
    seconds: float = 0.0
    roots: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The documented JSON report (`schema_version` first)."""
        counts = {kind.value: 0 for kind in ChangeKind}
        for change in self.changes:
            counts[change.change.value] += 1
        return {
            "schema_version": SCHEMA_VERSION,
            "roots": list(self.roots),
            "summary": {"scanned": self.scanned, "baseline": self.baseline_files,
                        "changes": len(self.changes), **counts,
                        "package_updates": sum(c.label == "package_update"
                                               for c in self.changes),
                        "seconds": round(self.seconds, 3)},
            "changes": [c.to_dict() for c in self.changes],
            "notes": [str(n) for n in self.notes],
        }
