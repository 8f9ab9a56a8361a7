"""uv.lock: `[[package]]` tables with name, version and source; the project itself is left out."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from stackwarden.catalog.depgraph import dev_only
from stackwarden.catalog.parsing import Found, load_toml
from stackwarden.catalog.python.common import canonical_name, tables, text_field


def is_project(table: dict[str, Any], members: set[str]) -> bool:
    """The locked project or a workspace member: the code being scanned, not a dependency.

    uv marks it `source = { virtual = "." }` or `{ editable = "." }`; members of a
    workspace are listed in `[manifest] members`.
    """
    source = table.get("source")
    if not isinstance(source, dict):
        return False
    if "virtual" in source or source.get("editable") == ".":
        return True
    return canonical_name(text_field(table, "name")) in members


def _names(entries: Any) -> Iterable[str]:
    """Dependency names from a list of `{ name = ... }` tables, or a dict of such lists."""
    groups = entries.values() if isinstance(entries, dict) else [entries]
    for group in groups:
        if isinstance(group, list):
            for dep in group:
                if isinstance(dep, dict) and isinstance(dep.get("name"), str):
                    yield canonical_name(dep["name"])


def dev_only_names(packages: list[dict[str, Any]], members: set[str]) -> set[str]:
    """Canonical names reachable from the projects' dev groups and not from their main or
    optional dependencies."""
    edges: dict[str, set[str]] = {}
    main_roots: set[str] = set()
    dev_roots: set[str] = set()
    for table in packages:
        name = canonical_name(text_field(table, "name"))
        deps = set(_names(table.get("dependencies")))
        deps.update(_names(table.get("optional-dependencies")))
        if is_project(table, members):
            main_roots |= deps
            dev_roots |= set(_names(table.get("dev-dependencies")))
        else:
            edges.setdefault(name, set()).update(deps)
    return dev_only(main_roots, dev_roots, edges)


def parse_uv_lock(data: bytes, path: str) -> list[Found]:
    """Every locked dependency (the project and its workspace members excluded)."""
    doc = load_toml(data, path)
    manifest = doc.get("manifest")
    raw_members = manifest.get("members", []) if isinstance(manifest, dict) else []
    members = {canonical_name(m) for m in raw_members if isinstance(m, str)}
    packages = tables(doc, "package", path)
    dev = dev_only_names(packages, members)
    seen: dict[tuple[str, str], Found] = {}
    for table in packages:
        name, version = text_field(table, "name"), text_field(table, "version")
        if not name or not version or (name, version) in seen or is_project(table, members):
            continue
        metadata: dict[str, Any] = {}
        source = table.get("source")
        if isinstance(source, dict):
            metadata["source"] = {k: v for k, v in source.items() if isinstance(v, str)}
        if canonical_name(name) in dev:
            metadata["dev"] = True
        seen[(name, version)] = Found(name, version, metadata=metadata)
    return list(seen.values())
