"""poetry.lock: `[[package]]` tables with name, version, groups (or the older category)."""

from __future__ import annotations

from typing import Any

from stackwarden.catalog.parsing import Found, load_toml
from stackwarden.catalog.python.common import tables, text_field


def parse_poetry_lock(data: bytes, path: str) -> list[Found]:
    """Every locked package, main and dev groups alike (dev ones flagged in metadata)."""
    doc = load_toml(data, path)
    found: list[Found] = []
    for table in tables(doc, "package", path):
        name, version = text_field(table, "name"), text_field(table, "version")
        if not name or not version:
            continue
        metadata: dict[str, Any] = {}
        groups = table.get("groups")
        if isinstance(groups, list):
            metadata["groups"] = [g for g in groups if isinstance(g, str)]
            dev = "main" not in groups
        else:  # Poetry 1.x: category = "main" | "dev"
            dev = text_field(table, "category") == "dev"
        if dev:
            metadata["dev"] = True
        if table.get("optional") is True:
            metadata["optional"] = True
        source = table.get("source")
        if isinstance(source, dict):
            metadata["source"] = {k: v for k, v in source.items()
                                  if k in ("type", "url", "reference", "resolved_reference")
                                  and isinstance(v, str)}
        found.append(Found(name, version, metadata=metadata))
    return found
