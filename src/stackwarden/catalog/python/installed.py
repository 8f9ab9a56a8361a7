"""Installed Python distributions: `*.dist-info/METADATA`, `*.egg-info/PKG-INFO`, `*.egg-info`."""

from __future__ import annotations

import json
import posixpath
from collections.abc import Iterable
from typing import Any

from stackwarden.artifact.base import FileEntry
from stackwarden.catalog.base import CatalogContext, Cataloger, FilePatterns
from stackwarden.catalog.python.common import canonical_name, pypi_purl
from stackwarden.catalog.python.parse_metadata import (
    declared_licenses,
    first,
    header_block,
    parse_headers,
)
from stackwarden.catalog.python.parse_record import parse_installed_files, parse_record
from stackwarden.core.errors import CatalogError, StackWardenError
from stackwarden.core.models import Package, PackageType

METADATA_NAMES = frozenset({"METADATA", "PKG-INFO"})
SIDE_FILE_LIMIT = 64 * 1024 * 1024
SMALL_FILE_LIMIT = 1024 * 1024


def wanted(path: str) -> bool:
    """Metadata files of installed distributions, the way Syft's globs select them:
    `*dist-info/METADATA`, `*egg-info/PKG-INFO` (any case) and `*.egg-info` files."""
    parent, _, base = path.rpartition("/")
    if base.endswith(".egg-info"):
        return True
    directory = parent.rpartition("/")[2].lower()
    if base == "METADATA":
        return directory.endswith("dist-info")
    return base == "PKG-INFO" and directory.endswith("egg-info")


def site_packages_of(path: str) -> str:
    """The directory that holds the metadata directory (or the bare `.egg-info` file)."""
    if path.endswith(".egg-info"):
        return posixpath.dirname(path) or "/"
    return posixpath.dirname(posixpath.dirname(path)) or "/"


class PythonInstalledCataloger(Cataloger):
    """Python distributions installed by pip, uv, setuptools or a distribution's packages."""

    name = "python-installed-package-cataloger"
    tags = frozenset({"installed", "language", "python"})
    package_type = PackageType.PYTHON
    patterns = FilePatterns(names=METADATA_NAMES, suffixes=(".egg-info",), accept=wanted)

    def parse(self, entry: FileEntry, ctx: CatalogContext) -> Iterable[Package]:
        fields = parse_headers(header_block(ctx.read(entry)))
        name = first(fields, "name")
        version = first(fields, "version")
        if not name:
            raise CatalogError("core metadata without a Name field", source=entry.path)
        if name == "Python":
            # Python 2's own lib-dynload/Python-2.7.egg-info: the interpreter, not a
            # distribution (the binary cataloger reports CPython); Syft skips it too.
            return []
        if not version:
            raise CatalogError(f"core metadata for {name!r} has no Version field",
                               source=entry.path)
        if ctx.identity_only:
            return [self.package(ctx, entry, name, version, pypi_purl(name, version))]
        site_packages = site_packages_of(entry.path)
        metadata: dict[str, Any] = {"site_packages": site_packages,
                                    "canonical_name": canonical_name(name)}
        for key, field in (("summary", "summary"), ("author", "author"),
                           ("author_email", "author-email"), ("homepage", "home-page"),
                           ("requires_python", "requires-python")):
            value = first(fields, field)
            if value and value != "UNKNOWN":
                metadata[key] = value
        if fields.get("requires-dist"):
            metadata["requires_dist"] = fields["requires-dist"]
        if fields.get("license-file"):
            metadata["license_files"] = fields["license-file"]
        if not entry.path.endswith(".egg-info"):
            metadata.update(self._side_files(entry, ctx, site_packages))
        return [self.package(ctx, entry, name, version, pypi_purl(name, version),
                             licenses=declared_licenses(fields), metadata=metadata)]

    def _side_files(self, entry: FileEntry, ctx: CatalogContext,
                    site_packages: str) -> dict[str, Any]:
        """Owned files (RECORD, else installed-files.txt), top-level modules, direct URL,
        installer. A broken side file loses only its own detail, never the package."""
        extra: dict[str, Any] = {}
        directory = posixpath.dirname(entry.path)
        try:
            record = ctx.sibling(entry, "RECORD")
            if record is not None:
                extra["files"] = parse_record(_text(ctx, record, SIDE_FILE_LIMIT), site_packages)
            else:
                listing = ctx.sibling(entry, "installed-files.txt")
                if listing is not None:
                    extra["files"] = parse_installed_files(
                        _text(ctx, listing, SIDE_FILE_LIMIT), directory)
            top_level = ctx.sibling(entry, "top_level.txt")
            if top_level is not None:
                names = _text(ctx, top_level, SMALL_FILE_LIMIT).split()
                if names:
                    extra["top_level"] = names
            installer = ctx.sibling(entry, "INSTALLER")
            if installer is not None:
                extra["installer"] = _text(ctx, installer, SMALL_FILE_LIMIT).strip()[:100]
            direct = ctx.sibling(entry, "direct_url.json")
            if direct is not None:
                origin = json.loads(ctx.read(direct, SMALL_FILE_LIMIT))
                if isinstance(origin, dict) and isinstance(origin.get("url"), str):
                    extra["direct_url"] = origin["url"]
                    if isinstance(origin.get("dir_info"), dict):
                        extra["editable"] = bool(origin["dir_info"].get("editable"))
        except (StackWardenError, ValueError, UnicodeError, OSError) as exc:
            ctx.skip(directory, f"side file unreadable: {exc}"[:300], self.name)
        return extra


def _text(ctx: CatalogContext, entry: FileEntry, limit: int) -> str:
    return ctx.read(entry, limit).decode("utf-8", "replace")
