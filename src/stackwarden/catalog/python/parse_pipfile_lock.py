"""Pipfile.lock: the `default` and `develop` sections, `"version": "==1.2.3"` each."""

from __future__ import annotations

from typing import Any

from stackwarden.catalog.parsing import Found, load_json_object
from stackwarden.catalog.python.common import text_field
from stackwarden.core.errors import CatalogError

SECTIONS = (("default", False), ("develop", True))


def parse_pipfile_lock(data: bytes, path: str) -> list[Found]:
    """Both sections; a package in both is reported once, as a default (non-dev) one.

    Entries without a version (editable paths, VCS checkouts) pin no release and are left out.
    """
    doc = load_json_object(data, path)
    seen: dict[tuple[str, str], Found] = {}
    for section, dev in SECTIONS:
        entries = doc.get(section, {})
        if not isinstance(entries, dict):
            raise CatalogError(f"`{section}` is not an object", source=path)
        for name, entry in entries.items():
            if not isinstance(entry, dict):
                continue
            version = text_field(entry, "version").removeprefix("===").removeprefix("==")
            if not name or not version:
                continue
            if (name, version) in seen:
                continue
            metadata: dict[str, Any] = {}
            if dev:
                metadata["dev"] = True
            for key in ("markers", "index"):
                if text_field(entry, key):
                    metadata[key] = text_field(entry, key)
            hashes = entry.get("hashes")
            if isinstance(hashes, list):
                metadata["hashes"] = [h for h in hashes if isinstance(h, str)]
            seen[(name, version)] = Found(name, version, metadata=metadata)
    return list(seen.values())
