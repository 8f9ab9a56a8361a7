"""PHP: Composer's `composer.lock` (declared) and `vendor/composer/installed.json` (installed)."""

from __future__ import annotations

import posixpath
from collections.abc import Iterable
from typing import Any

from stackwarden.artifact.base import FileEntry
from stackwarden.catalog.base import Cataloger, CatalogContext, FilePatterns, purl
from stackwarden.catalog.jsondoc import load_json
from stackwarden.core.errors import CatalogError
from stackwarden.core.models import Package, PackageType


def composer_purl(name: str, version: str) -> str:
    """`pkg:composer/<vendor>/<name>@<version>`."""
    vendor, _, project = name.partition("/")
    if not project:
        return purl("composer", name, version)
    return purl("composer", project.replace("/", "-"), version, namespace=vendor)


def _licenses(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        return tuple(v for v in value if isinstance(v, str) and v)
    return ()


def _package_list(document: Any, key: str, path: str) -> list[Any]:
    value = document.get(key, [])
    if not isinstance(value, list):
        raise CatalogError(f"`{key}` is not a list", source=path)
    return value


class _ComposerCataloger(Cataloger):
    """Shared package building for both Composer files."""

    package_type = PackageType.COMPOSER

    def composer_package(self, ctx: CatalogContext, entry: FileEntry, item: Any,
                         dev: bool) -> Package | None:
        """One package from a Composer package object (None when it has no name or version)."""
        if not isinstance(item, dict):
            return None
        name, version = item.get("name"), item.get("version")
        if not isinstance(name, str) or not isinstance(version, str) or not name:
            return None
        metadata: dict[str, Any] = {"dev": dev}
        for key in ("type", "homepage"):
            if isinstance(item.get(key), str):
                metadata[key] = item[key]
        for key in ("source", "dist"):
            if isinstance(item.get(key), dict):
                metadata[key] = {k: v for k, v in item[key].items() if isinstance(v, str)}
        return self.package(ctx, entry, name, version, composer_purl(name, version),
                            licenses=_licenses(item.get("license")), metadata=metadata)


class ComposerLockCataloger(_ComposerCataloger):
    """Packages a `composer.lock` pins, `packages-dev` included (marked `dev`)."""

    name = "php-composer-lock-cataloger"
    tags = frozenset({"declared", "language", "php", "composer"})
    patterns = FilePatterns(names=frozenset({"composer.lock"}))

    def parse(self, entry: FileEntry, ctx: CatalogContext) -> Iterable[Package]:
        document = load_json(entry, ctx)
        if not isinstance(document, dict):
            raise CatalogError("not a composer.lock object", source=entry.path)
        found = [self.composer_package(ctx, entry, item, dev)
                 for key, dev in (("packages", False), ("packages-dev", True))
                 for item in _package_list(document, key, entry.path)]
        return [p for p in found if p is not None]


class ComposerInstalledCataloger(_ComposerCataloger):
    """Packages Composer installed: `vendor/composer/installed.json` (Composer 1 and 2)."""

    name = "php-composer-installed-cataloger"
    tags = frozenset({"installed", "language", "php", "composer"})
    patterns = FilePatterns(
        names=frozenset({"installed.json"}),
        accept=lambda p: posixpath.basename(posixpath.dirname(p)) == "composer")

    def parse(self, entry: FileEntry, ctx: CatalogContext) -> Iterable[Package]:
        document = load_json(entry, ctx)
        dev_names: set[str] = set()
        if isinstance(document, list):  # Composer 1: the package list itself
            items = document
        elif isinstance(document, dict) and "packages" in document:  # Composer 2
            items = _package_list(document, "packages", entry.path)
            names = document.get("dev-package-names", [])
            if isinstance(names, list):
                dev_names = {n for n in names if isinstance(n, str)}
        else:
            raise CatalogError("neither a Composer 1 list nor a Composer 2 `packages` object",
                               source=entry.path)
        found = [self.composer_package(ctx, entry, item,
                                       isinstance(item, dict) and item.get("name") in dev_names)
                 for item in items]
        return [p for p in found if p is not None]
