"""Declared npm dependencies: package-lock.json / npm-shrinkwrap.json, yarn.lock, pnpm-lock.yaml."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from stackwarden.artifact.base import FileEntry
from stackwarden.catalog.base import CatalogContext, Cataloger, FilePatterns
from stackwarden.catalog.javascript.common import npm_purl
from stackwarden.catalog.javascript.parse_package_lock import parse_package_lock
from stackwarden.catalog.javascript.parse_pnpm_lock import parse_pnpm_lock
from stackwarden.catalog.javascript.parse_yarn_lock import parse_yarn_lock
from stackwarden.catalog.parsing import Found
from stackwarden.core.models import Package, PackageType

LOCKFILE_LIMIT = 64 * 1024 * 1024  # the largest real monorepo lockfiles are tens of megabytes

PARSERS: dict[str, Callable[[bytes, str], list[Found]]] = {
    "package-lock.json": parse_package_lock,
    "npm-shrinkwrap.json": parse_package_lock,
    "yarn.lock": parse_yarn_lock,
    "pnpm-lock.yaml": parse_pnpm_lock,
}


def outside_node_modules(path: str) -> bool:
    """Lockfiles shipped inside installed packages describe someone else's project; Syft
    skips them for the same reason."""
    return "/node_modules/" not in path


class JavaScriptDeclaredCataloger(Cataloger):
    """npm packages a project's lockfiles pin (dev dependencies included, flagged `dev`)."""

    name = "javascript-lock-cataloger"
    tags = frozenset({"declared", "language", "javascript"})
    package_type = PackageType.NPM
    patterns = FilePatterns(names=frozenset(PARSERS), accept=outside_node_modules)

    def parse(self, entry: FileEntry, ctx: CatalogContext) -> Iterable[Package]:
        base = entry.path.rpartition("/")[2]
        limit = min(LOCKFILE_LIMIT, ctx.limits.max_package_file_bytes)
        found = PARSERS[base](ctx.read(entry, limit), entry.path)
        return [self.package(ctx, entry, f.name, f.version, npm_purl(f.name, f.version),
                             licenses=f.licenses, metadata={"declared_in": base, **f.metadata})
                for f in found]
