"""pdm.lock: `[[package]]` tables with name, version and the dependency groups using them."""

from __future__ import annotations

from typing import Any

from stackwarden.catalog.parsing import Found, load_toml
from stackwarden.catalog.python.common import tables, text_field


def parse_pdm_lock(data: bytes, path: str) -> list[Found]:
    """Every locked package; one used only by non-default groups is flagged dev.

    The same name can be locked twice for different platforms (PDM's cross-platform
    targets); each (name, version) is kept once.
    """
    doc = load_toml(data, path)
    seen: dict[tuple[str, str], Found] = {}
    for table in tables(doc, "package", path):
        name, version = text_field(table, "name"), text_field(table, "version")
        if not name or not version or (name, version) in seen:
            continue
        metadata: dict[str, Any] = {}
        groups = table.get("groups")
        if isinstance(groups, list):
            metadata["groups"] = [g for g in groups if isinstance(g, str)]
            if "default" not in groups:
                metadata["dev"] = True
        for key in ("git", "path", "url", "revision"):
            if text_field(table, key):
                metadata[key] = text_field(table, key)
        if table.get("editable") is True:
            metadata["editable"] = True
        seen[(name, version)] = Found(name, version, metadata=metadata)
    return list(seen.values())
