"""package-lock.json (and npm-shrinkwrap.json): lockfileVersion 1, 2 and 3.

v1 (npm 5-6) nests a `dependencies` tree; v2 and v3 (npm 7+) keep a flat `packages` map
keyed by install path (`node_modules/a/node_modules/b`). v2 carries both; the map wins.
"""

from __future__ import annotations

import fnmatch
from typing import Any

from stackwarden.catalog.javascript.common import LOCAL_PREFIXES, license_values, split_spec
from stackwarden.catalog.parsing import Found, load_json
from stackwarden.core.errors import CatalogError

MAX_DEPTH = 128  # v1 trees nest once per conflicting version; real ones stay under 20
MAX_ENTRIES = 2_000_000


def _flags(entry: dict[str, Any]) -> dict[str, Any]:
    """dev/optional flags and where the package came from."""
    metadata: dict[str, Any] = {}
    if entry.get("dev") is True or entry.get("devOptional") is True:
        metadata["dev"] = True
    if entry.get("optional") is True:
        metadata["optional"] = True
    for key in ("resolved", "integrity"):
        if isinstance(entry.get(key), str):
            metadata[key] = entry[key]
    return metadata


def _from_v1(dependencies: dict[str, Any]) -> list[Found]:
    """Walk the v1 tree; the nested `dependencies` are packages installed deeper down."""
    found: dict[tuple[str, str], Found] = {}
    stack: list[tuple[dict[str, Any], int]] = [(dependencies, 0)]
    visited = 0
    while stack:
        level, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise CatalogError(f"dependency tree deeper than {MAX_DEPTH} levels")
        for name, entry in level.items():
            visited += 1
            if visited > MAX_ENTRIES:
                raise CatalogError(f"more than {MAX_ENTRIES} entries")
            if not isinstance(entry, dict):
                continue
            nested = entry.get("dependencies")
            if isinstance(nested, dict):
                stack.append((nested, depth + 1))
            version = entry.get("version")
            if not isinstance(version, str) or not version or version.startswith(LOCAL_PREFIXES):
                continue  # a local directory: the lock records its path, not a version
            metadata = _flags(entry)
            if version.startswith("npm:"):  # alias: "npm:string-width@4.2.3"
                metadata["alias"] = name
                name, version = split_spec(version[4:])
            found.setdefault((name, version), Found(name, version, metadata=metadata))
    return list(found.values())


def _package_name(key: str, entry: dict[str, Any], links: dict[str, str]) -> str:
    """The real name: an entry's own `name` (aliases, workspaces), else the install path's
    last component (`node_modules/@s/x` -> `@s/x`), else the link that points at it."""
    name = entry.get("name")
    if isinstance(name, str) and name:
        return name
    if "node_modules/" in key:
        return key.rpartition("node_modules/")[2]
    return links.get(key, key.rpartition("/")[2])


def _from_packages(packages: dict[str, Any]) -> list[Found]:
    """v2/v3: every install path except the root (""), links (`"link": true`, the target is
    listed under its own path) and workspace members (the project's own code)."""
    root = packages.get("")
    patterns = root.get("workspaces") if isinstance(root, dict) else None
    workspaces = [p for p in patterns if isinstance(p, str)] if isinstance(patterns, list) else []
    if isinstance(patterns, dict):  # the older {"packages": [...]} form
        workspaces = [p for p in patterns.get("packages", []) if isinstance(p, str)]
    links: dict[str, str] = {}
    for key, entry in packages.items():
        if isinstance(entry, dict) and entry.get("link") is True:
            target = entry.get("resolved")
            if isinstance(target, str):
                links[target] = key.rpartition("node_modules/")[2]
    found: dict[tuple[str, str], Found] = {}
    for key, entry in packages.items():
        if not key or not isinstance(entry, dict) or entry.get("link") is True:
            continue
        if "node_modules/" not in key and any(fnmatch.fnmatch(key, w) for w in workspaces):
            continue
        version = entry.get("version")
        if not isinstance(version, str) or not version:
            continue
        name = _package_name(key, entry, links)
        metadata = _flags(entry)
        if "node_modules/" not in key:
            metadata["local_path"] = key
        elif name != key.rpartition("node_modules/")[2]:
            metadata["alias"] = key.rpartition("node_modules/")[2]
        licenses = tuple(dict.fromkeys(license_values(entry.get("license"))))
        found.setdefault((name, version), Found(name, version, licenses, metadata))
    return list(found.values())


def parse_package_lock(data: bytes, path: str) -> list[Found]:
    """Every package a package-lock.json (any lockfileVersion) records."""
    doc = load_json(data, path)
    if not isinstance(doc, dict):
        raise CatalogError(f"expected a JSON object, found {type(doc).__name__}", source=path)
    packages, dependencies = doc.get("packages"), doc.get("dependencies")
    try:
        if isinstance(packages, dict):
            return _from_packages(packages)
        if isinstance(dependencies, dict):
            return _from_v1(dependencies)
    except CatalogError as exc:
        raise CatalogError(exc.message, source=path) from exc
    if packages is None and dependencies is None:
        return []  # a project without dependencies
    raise CatalogError("neither `packages` nor `dependencies` is an object", source=path)
