"""Installed npm packages: `package.json` directly inside a `node_modules` package directory."""

from __future__ import annotations

from collections.abc import Iterable

from stackwarden.artifact.base import FileEntry
from stackwarden.catalog.base import CatalogContext, Cataloger, FilePatterns
from stackwarden.catalog.javascript.common import npm_purl
from stackwarden.catalog.javascript.parse_package_json import parse_package_json
from stackwarden.core.models import Package, PackageType

PACKAGE_JSON_LIMIT = 16 * 1024 * 1024


def in_node_modules(path: str) -> bool:
    """True for `.../node_modules/<name>/package.json` and `.../node_modules/@scope/<name>/
    package.json` (pnpm's `.pnpm/<id>/node_modules/<name>` too).

    A package's own nested files (test fixtures, `lib/package.json` module-type markers)
    and the project's package.json are not installed packages, so they are not read.
    """
    head = path.rpartition("/")[0]
    head, _, package = head.rpartition("/")
    if not package or package[0] in ".@":
        return False
    head, _, parent = head.rpartition("/")
    if parent == "node_modules":
        return True
    return parent[:1] == "@" and len(parent) > 1 and head.rpartition("/")[2] == "node_modules"


class JavaScriptInstalledCataloger(Cataloger):
    """npm packages installed under node_modules (by npm, yarn, pnpm or bun)."""

    name = "javascript-package-cataloger"
    tags = frozenset({"installed", "language", "javascript"})
    package_type = PackageType.NPM
    patterns = FilePatterns(names=frozenset({"package.json"}), accept=in_node_modules)

    def parse(self, entry: FileEntry, ctx: CatalogContext) -> Iterable[Package]:
        limit = min(PACKAGE_JSON_LIMIT, ctx.limits.max_package_file_bytes)
        found = parse_package_json(ctx.read(entry, limit), entry.path,
                                   identity_only=ctx.identity_only)
        return [self.package(ctx, entry, found.name, found.version,
                             npm_purl(found.name, found.version),
                             licenses=found.licenses, metadata=found.metadata)]
