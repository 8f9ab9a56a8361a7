"""Crates a Rust project locks in Cargo.lock (formats v1 to v4, and the older `[root]` table).

Every `[[package]]` entry is a crate, path dependencies and workspace members included, as Syft's
rust-cargo-lock-cataloger reports them. v1 lockfiles keep checksums in a `[metadata]` table keyed
`"checksum <name> <version> (<source>)"`; v2 and later keep them inline.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from typing import Any

from stackwarden.artifact.base import FileEntry
from stackwarden.catalog.base import Cataloger, CatalogContext, FilePatterns
from stackwarden.catalog.rust.package import cargo_purl, source_kind
from stackwarden.core.errors import CatalogError
from stackwarden.core.models import Package, PackageType


class RustCargoLockCataloger(Cataloger):
    """Crates locked in Cargo.lock."""

    name = "rust-cargo-lock-cataloger"
    tags = frozenset({"declared", "language", "rust"})
    patterns = FilePatterns(names=frozenset({"Cargo.lock"}))
    package_type = PackageType.RUST

    def parse(self, entry: FileEntry, ctx: CatalogContext) -> Iterable[Package]:
        try:
            doc = tomllib.loads(ctx.text(entry))
        except tomllib.TOMLDecodeError as exc:
            raise CatalogError(f"invalid TOML: {exc}", source=entry.path) from None
        entries = doc.get("package", [])
        if not isinstance(entries, list):
            raise CatalogError("`package` is not an array of tables", source=entry.path)
        root = doc.get("root")
        if isinstance(root, dict):
            entries = [{**root, "_root": True}, *entries]
        lock_version = doc.get("version", 1 if "metadata" in doc or root else 2)
        checksums = _v1_checksums(doc.get("metadata"))
        found = []
        for item in entries:
            if not isinstance(item, dict):
                continue
            name, version = item.get("name"), item.get("version", "")
            if not isinstance(name, str) or not name or not isinstance(version, str):
                continue
            source = item.get("source", "")
            source = source if isinstance(source, str) else ""
            checksum = item.get("checksum") or checksums.get(f"{name} {version} ({source})", "")
            deps = item.get("dependencies", [])
            meta: dict[str, Any] = {
                "source": source, "source_kind": source_kind(source),
                "checksum": checksum if isinstance(checksum, str) else "",
                "dependencies": [d for d in deps if isinstance(d, str)]
                if isinstance(deps, list) else [],
                "lock_version": lock_version,
            }
            if item.get("_root"):
                meta["root"] = True
            found.append(self.package(ctx, entry, name, version, cargo_purl(name, version),
                                      metadata=meta))
        return found


def _v1_checksums(metadata: object) -> dict[str, str]:
    """`name version (source)` -> sha256, from a v1 lockfile's `[metadata]` table."""
    if not isinstance(metadata, dict):
        return {}
    return {key[len("checksum "):]: value for key, value in metadata.items()
            if key.startswith("checksum ") and isinstance(value, str) and value != "<none>"}
