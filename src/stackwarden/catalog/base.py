"""The cataloger interface: which files a cataloger wants, and how it turns them into packages."""

from __future__ import annotations

import posixpath
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO, ClassVar

from packageurl import PackageURL

from stackwarden.artifact.base import Artifact, FileEntry
from stackwarden.core.config import DEFAULT_LIMITS, Limits
from stackwarden.core.errors import StackWardenError
from stackwarden.core.models import Location, OSRelease, Package, PackageType, Skipped


@dataclass(frozen=True)
class FilePatterns:
    """Cheap tests on a path that decide whether a cataloger wants a file.

    The walk checks basenames, basename suffixes/prefixes and parent directories with dict
    lookups and one `endswith`/`startswith` call; `accept` refines the candidates only.
    """

    names: frozenset[str] = frozenset()
    suffixes: tuple[str, ...] = ()
    prefixes: tuple[str, ...] = ()
    parents: frozenset[str] = frozenset()
    executables: bool = False  # every regular file with an execute bit (binary catalogers)
    accept: Callable[[str], bool] | None = None


@dataclass
class CatalogContext:
    """What a cataloger may use: the artifact, its OS, limits, and the list of skipped files."""

    artifact: Artifact
    os: OSRelease | None = None
    limits: Limits = DEFAULT_LIMITS
    skipped: list[Skipped] = field(default_factory=list)
    identity_only: bool = False  # parsing an older layer's copy: name and version suffice

    def location(self, entry: FileEntry, path: str | None = None) -> Location:
        """The Location of a file entry (its path, and the diff_id of the layer that wrote it)."""
        return Location(path or entry.path, self.artifact.layer_digest(entry.layer))

    def read(self, entry: FileEntry | str, limit: int | None = None) -> bytes:
        """Read a package file whole, within the package-file size limit."""
        return self.artifact.read(entry, limit=limit or self.limits.max_package_file_bytes)

    def text(self, entry: FileEntry | str, limit: int | None = None) -> str:
        """Read a package file as UTF-8 text (undecodable bytes replaced)."""
        return self.read(entry, limit).decode("utf-8", "replace")

    def open(self, entry: FileEntry) -> BinaryIO:
        """Open a file entry for seek-and-read access (big binaries are read in windows)."""
        return self.artifact.open(entry.path, layer=entry.layer)

    def sibling(self, entry: FileEntry, name: str) -> FileEntry | None:
        """The regular file `name` next to `entry` (following symlinks), if there is one."""
        found = self.artifact.resolve(posixpath.join(posixpath.dirname(entry.path), name))
        return found if found is not None and found.is_file else None

    def skip(self, path: str, reason: str, by: str) -> None:
        """Record a file that could not be analysed; reports list these in their summary."""
        self.skipped.append(Skipped(path, reason, by))


def purl(type_: str, name: str, version: str | None, *, namespace: str | None = None,
         qualifiers: dict[str, str] | None = None, subpath: str | None = None) -> str:
    """A package URL string (empty qualifiers dropped)."""
    quals = {k: v for k, v in (qualifiers or {}).items() if v}
    return PackageURL(type=type_, namespace=namespace or None, name=name, version=version or None,
                      qualifiers=quals or None, subpath=subpath).to_string()


class Cataloger(ABC):
    """Finds the packages of one ecosystem in the files its patterns select.

    Subclasses set `name`, `tags` and `patterns` and implement `parse` for one file; a file
    that fails to parse is skipped with its reason and the others go on.
    """

    name: ClassVar[str]
    version: ClassVar[int] = 1  # bump when output changes (part of future cache keys)
    tags: ClassVar[frozenset[str]]  # e.g. {"os", "installed", "deb"} or {"language", "declared"}
    patterns: ClassVar[FilePatterns]
    package_type: ClassVar[PackageType]

    def catalog(self, files: Iterable[FileEntry], ctx: CatalogContext) -> Iterator[Package]:
        """Parse each wanted file; a broken file becomes a Skipped entry, not an exception."""
        for entry in files:
            try:
                found = list(self.parse(entry, ctx))
            except (StackWardenError, ValueError, KeyError, TypeError, IndexError,
                    AttributeError, UnicodeError, OSError, RecursionError, EOFError) as exc:
                ctx.skip(entry.path, describe_error(exc), self.name)
                continue
            yield from found

    @abstractmethod
    def parse(self, entry: FileEntry, ctx: CatalogContext) -> Iterable[Package]:
        """The packages one file declares or records."""

    def package(self, ctx: CatalogContext, entry: FileEntry, name: str, version: str, purl: str,
                *, path: str | None = None, **fields: Any) -> Package:
        """Build a Package found by this cataloger in `entry`."""
        return Package(name=name, version=version, type=self.package_type, purl=purl,
                       found_by=(self.name,), locations=(ctx.location(entry, path),), **fields)


def describe_error(exc: BaseException) -> str:
    """One line saying what went wrong, without a traceback."""
    if isinstance(exc, StackWardenError):
        return exc.message
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}"[:300] if text else type(exc).__name__
