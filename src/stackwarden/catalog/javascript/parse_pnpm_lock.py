"""pnpm-lock.yaml, lockfileVersion 5.x (pnpm 6-7), 6.x (pnpm 8) and 9.x (pnpm 9+).

The `packages` map lists every resolved package once per peer set. Its keys changed shape:
5.x `/name/1.0.0_peer@2.0.0`, 6.x `/name@1.0.0(peer@2.0.0)`, 9.x `name@1.0.0` (peers live
in `snapshots`). Non-registry packages (git, tarballs, local directories) carry `name:` and
`version:` fields in their entry instead.
"""

from __future__ import annotations

from typing import Any

from stackwarden.catalog.depgraph import dev_only
from stackwarden.catalog.javascript.common import LOCAL_PREFIXES, split_spec
from stackwarden.catalog.parsing import Found, load_yaml_mapping
from stackwarden.core.errors import CatalogError

DEP_FIELDS = ("dependencies", "optionalDependencies")


def lockfile_version(doc: dict[str, Any], path: str) -> float:
    """`lockfileVersion` as a number (5.4, '6.0', '9.0' all occur)."""
    raw = doc.get("lockfileVersion")
    try:
        return float(str(raw))
    except ValueError as exc:
        raise CatalogError(f"unknown lockfileVersion {raw!r}", source=path) from exc


def parse_key(key: str, version5: bool) -> tuple[str, str]:
    """(name, version) from a `packages` key, peer suffixes removed."""
    key = key.removeprefix("/")
    if version5:  # /@scope/name/1.0.0_peer@1.0.0
        name, _, version = key.rpartition("/")
        return name, version.partition("_")[0]
    return split_spec(key.partition("(")[0])  # name@1.0.0(peer@1.0.0)


def _snapshot_key(name: str, reference: Any) -> str | None:
    """The snapshot a dependency reference points at: `1.0.0(peer@1)` under its own name,
    or an alias's `real@1.0.0`. Links and local directories have none."""
    if not isinstance(reference, str) or reference.startswith(("link:", "file:")):
        return None
    if reference[:1].isdigit():
        return f"{name}@{reference}"
    return reference


def dev_only_ids(doc: dict[str, Any]) -> set[str]:
    """v9: `name@version` ids reachable only through the importers' devDependencies."""
    importers, snapshots = doc.get("importers"), doc.get("snapshots")
    if not isinstance(importers, dict) or not isinstance(snapshots, dict):
        return set()
    main: list[str] = []
    dev: list[str] = []
    for importer in importers.values():
        if not isinstance(importer, dict):
            continue
        for field, roots in (("dependencies", main), ("optionalDependencies", main),
                             ("devDependencies", dev)):
            deps = importer.get(field)
            for name, spec in (deps.items() if isinstance(deps, dict) else ()):
                ref = spec.get("version") if isinstance(spec, dict) else spec
                target = _snapshot_key(name, ref)
                if target:
                    roots.append(target)
    edges: dict[str, list[str]] = {}
    for key, snapshot in snapshots.items():
        targets = edges.setdefault(key, [])
        if not isinstance(snapshot, dict):
            continue
        for field in DEP_FIELDS:
            deps = snapshot.get(field)
            for name, ref in (deps.items() if isinstance(deps, dict) else ()):
                target = _snapshot_key(name, ref)
                if target:
                    targets.append(target)
    return {key.partition("(")[0] for key in dev_only(main, dev, edges)}


def parse_pnpm_lock(data: bytes, path: str) -> list[Found]:
    """Every package of a pnpm lockfile, peer-dependency variants reported once."""
    doc = load_yaml_mapping(data.decode("utf-8", "replace"), path)
    version = lockfile_version(doc, path)
    packages = doc.get("packages") or {}
    if not isinstance(packages, dict):
        raise CatalogError("`packages` is not a mapping", source=path)
    version5 = version < 6
    dev_ids = dev_only_ids(doc) if version >= 9 else set()
    found: dict[tuple[str, str], Found] = {}
    for key, entry in packages.items():
        if not isinstance(key, str):
            continue
        entry = entry if isinstance(entry, dict) else {}
        name, ref = parse_key(key, version5) if key.startswith("/") or version >= 9 else ("", "")
        name = entry["name"] if isinstance(entry.get("name"), str) else name
        version_field = entry.get("version")
        pkg_version = version_field if isinstance(version_field, str) else ref
        if not name or not pkg_version or pkg_version.startswith(LOCAL_PREFIXES):
            continue  # a local directory without a recorded version
        metadata: dict[str, Any] = {}
        resolution = entry.get("resolution")
        if isinstance(resolution, dict):
            for field in ("integrity", "tarball", "repo", "commit"):
                if isinstance(resolution.get(field), str):
                    metadata[field] = resolution[field]
        if entry.get("dev") is True or f"{name}@{pkg_version}" in dev_ids:
            metadata["dev"] = True
        if entry.get("optional") is True:
            metadata["optional"] = True
        seen = found.get((name, pkg_version))
        if seen is None:
            found[(name, pkg_version)] = Found(name, pkg_version, metadata=metadata)
        elif not metadata.get("dev"):
            seen.metadata.pop("dev", None)  # dev only if every peer variant is
    return list(found.values())
