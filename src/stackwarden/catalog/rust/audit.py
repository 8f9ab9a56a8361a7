"""Crates recorded in Rust binaries built with `cargo auditable`.

cargo-auditable links a `.dep-v0` section (`.rust-deps-v0` in rust-audit 0.1) holding the
zlib-compressed JSON dependency tree: `{"packages": [{"name", "version", "source", "kind",
"dependencies", "root"}]}`, where an absent `kind` means "runtime". Like Syft's
cargo-auditable-binary-cataloger, runtime crates are reported, build-only ones are not.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable
from typing import Any

from stackwarden.artifact.base import FileEntry
from stackwarden.catalog.base import Cataloger, CatalogContext, FilePatterns
from stackwarden.catalog.elf import open_elf
from stackwarden.catalog.rust.package import cargo_purl
from stackwarden.core.errors import CatalogError
from stackwarden.core.models import Package, PackageType

SECTIONS = (".dep-v0", ".rust-deps-v0")
MAX_COMPRESSED = 8 * 1024 * 1024
MAX_JSON = 32 * 1024 * 1024
MIN_ELF = 52


def decode_audit_data(blob: bytes, source: str = "") -> dict[str, Any]:
    """Inflate and parse an audit-data section, refusing zip bombs and malformed JSON."""
    inflater = zlib.decompressobj()
    try:
        text = inflater.decompress(blob, MAX_JSON)
    except zlib.error as exc:
        raise CatalogError(f"audit data is not zlib-compressed: {exc}", source=source) from None
    if inflater.unconsumed_tail:
        raise CatalogError(f"audit data inflates past {MAX_JSON} bytes", source=source)
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise CatalogError(f"audit data is not JSON: {exc}", source=source) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("packages"), list):
        raise CatalogError("audit data has no `packages` array", source=source)
    return doc


def _source(value: object) -> str:
    """"crates.io", "local", "git", "registry", or the name inside `{"Other": name}`."""
    if isinstance(value, dict):
        value = value.get("Other", "other")
    return value if isinstance(value, str) else ""


class CargoAuditableBinaryCataloger(Cataloger):
    """Runtime crates in the dependency tree `cargo auditable` embeds in Rust executables."""

    name = "cargo-auditable-binary-cataloger"
    tags = frozenset({"installed", "language", "binary", "rust"})
    patterns = FilePatterns(executables=True)
    package_type = PackageType.RUST

    def parse(self, entry: FileEntry, ctx: CatalogContext) -> Iterable[Package]:
        if entry.size < MIN_ELF:
            return []
        with ctx.open(entry) as handle:
            try:
                elf = open_elf(handle, entry.size, entry.path)
            except CatalogError:
                return []  # damaged ELF headers are reported once, by the Go binary cataloger
            if elf is None:
                return []
            section = next((s for name in SECTIONS if (s := elf.section(name)) is not None), None)
            if section is None:
                return []
            blob = elf.section_data(section, MAX_COMPRESSED)
        doc = decode_audit_data(blob, entry.path)
        items = doc["packages"]
        found = []
        for item in items:
            if not isinstance(item, dict) or item.get("kind", "runtime") != "runtime":
                continue
            name, version = item.get("name"), item.get("version", "")
            if not isinstance(name, str) or not name or not isinstance(version, str):
                continue
            deps = item.get("dependencies") or []
            meta: dict[str, Any] = {
                "source_kind": _source(item.get("source")), "section": section.name,
                "dependencies": sorted({items[i]["name"] for i in deps
                                        if isinstance(i, int) and 0 <= i < len(items)
                                        and isinstance(items[i], dict)
                                        and isinstance(items[i].get("name"), str)})
                if isinstance(deps, list) else [],
                "format": doc.get("format", 0),
            }
            if item.get("root") is True:
                meta["root"] = True
            found.append(self.package(ctx, entry, name, version, cargo_purl(name, version),
                                      metadata=meta))
        return found
