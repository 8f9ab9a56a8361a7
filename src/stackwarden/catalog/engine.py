"""Walk an artifact once, hand each file to the catalogers that want it, assemble the SBOM."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from stackwarden import __version__
from stackwarden.artifact.base import Artifact, FileEntry, FileType
from stackwarden.catalog.base import Cataloger, CatalogContext
from stackwarden.catalog.os_release import detect_os
from stackwarden.core.config import DEFAULT_LIMITS, Limits
from stackwarden.core.models import SBOM, Package, PackageType, Skipped

if TYPE_CHECKING:
    from stackwarden.catalog.memo import CatalogMemo

Progress = Callable[[str, int, int], None]


class Dispatcher:
    """Decides, with a few dict lookups per path, which catalogers want a file."""

    def __init__(self, catalogers: Sequence[Cataloger]) -> None:
        self.catalogers = tuple(catalogers)
        self.by_name: dict[str, list[Cataloger]] = defaultdict(list)
        self.by_parent: dict[str, list[Cataloger]] = defaultdict(list)
        self.suffixes: list[tuple[str, Cataloger]] = []
        self.prefixes: list[tuple[str, Cataloger]] = []
        self.executables: list[Cataloger] = []
        for cataloger in catalogers:
            p = cataloger.patterns
            for name in p.names:
                self.by_name[name].append(cataloger)
            for parent in p.parents:
                self.by_parent[parent].append(cataloger)
            self.suffixes += [(s, cataloger) for s in p.suffixes]
            self.prefixes += [(s, cataloger) for s in p.prefixes]
            if p.executables:
                self.executables.append(cataloger)
        self.any_suffix = tuple(s for s, _ in self.suffixes)
        self.any_prefix = tuple(s for s, _ in self.prefixes)

    def wanted_by(self, entry: FileEntry) -> list[Cataloger]:
        """The catalogers whose patterns (and `accept` refinements) select this file."""
        path = entry.path
        cut = path.rfind("/")
        base = path[cut + 1:]
        found: list[Cataloger] = []
        hit = self.by_name.get(base)
        if hit:
            found += hit
        hit = self.by_parent.get(path[:cut] or "/")
        if hit:
            found += hit
        if self.any_suffix and base.endswith(self.any_suffix):
            found += [c for s, c in self.suffixes if base.endswith(s)]
        if self.any_prefix and base.startswith(self.any_prefix):
            found += [c for s, c in self.prefixes if base.startswith(s)]
        if self.executables and entry.mode & 0o111:
            found += self.executables
        if not found:
            return found
        unique = list(dict.fromkeys(found))
        return [c for c in unique if c.patterns.accept is None or c.patterns.accept(path)]


def walk(artifact: Artifact, catalogers: Sequence[Cataloger],
         memo: CatalogMemo | None = None) -> dict[str, list[FileEntry]]:
    """One pass over the artifact's regular files: the files each cataloger asked for (with a
    memo, each layer's wanted files are remembered rather than dispatched again)."""
    dispatcher = Dispatcher(catalogers)
    wanted: dict[str, list[FileEntry]] = defaultdict(list)
    if memo is not None:
        layers = [memo.wanted_in_layer(i, dispatcher) for i in range(artifact.layer_count)]
        for entry in artifact.files():
            names = layers[entry.layer].get(entry.path) if entry.type is FileType.REG else None
            if names:
                for name in names:
                    wanted[name].append(entry)
        return wanted
    for entry in artifact.files():
        if not entry.is_file:
            continue
        for cataloger in dispatcher.wanted_by(entry):
            wanted[cataloger.name].append(entry)
    return wanted


def _identity(pkg: Package) -> tuple[str, str, str]:
    return (pkg.type, pkg.name, pkg.version)


def attribute_layers(artifact: Artifact, cataloger: Cataloger, entry: FileEntry,
                     packages: list[Package], ctx: CatalogContext,
                     memo: CatalogMemo | None = None) -> list[Package]:
    """Set each package's introducing layer: the oldest layer from which on, every version of
    its file lists it. Without this every dpkg package would blame the last `apt-get` layer."""
    versions = [v for v in artifact.history(entry.path) if v.is_file]
    if len(versions) <= 1:
        digest = artifact.layer_digest(entry.layer)
        return [replace(p, layer=p.layer or digest) for p in packages]
    older_ctx = CatalogContext(artifact, ctx.os, ctx.limits, [], identity_only=True)
    present: list[set[tuple[str, str, str]]] = []
    for version in versions[:-1]:
        try:
            found = memo.catalog(cataloger, version, older_ctx, identity_only=True) \
                if memo is not None else cataloger.parse(version, older_ctx)
            present.append({_identity(p) for p in found})
        except Exception:  # an older copy that does not parse simply proves nothing
            present.append(set())
    result = []
    for pkg in packages:
        first = len(versions) - 1
        while first > 0 and _identity(pkg) in present[first - 1]:
            first -= 1
        result.append(replace(pkg, layer=artifact.layer_digest(versions[first].layer)))
    return result


def merge_packages(packages: Iterable[Package], layer_order: dict[str | None, int]) -> list[Package]:
    """One package per (type, name, version, purl); locations and finders combined."""
    groups: dict[tuple[str, str, str, str], list[Package]] = defaultdict(list)
    for pkg in packages:
        groups[(pkg.type, pkg.name, pkg.version, pkg.purl)].append(pkg)
    merged = []
    for group in groups.values():
        first = group[0]
        if len(group) == 1:
            merged.append(first)
            continue
        metadata: dict[str, object] = {}
        for pkg in reversed(group):  # the first copy's metadata wins
            metadata.update(pkg.metadata)
        merged.append(replace(
            first,
            found_by=tuple(dict.fromkeys(f for p in group for f in p.found_by)),
            locations=tuple(sorted({loc for p in group for loc in p.locations})),
            licenses=tuple(dict.fromkeys(x for p in group for x in p.licenses)),
            cpes=tuple(dict.fromkeys(x for p in group for x in p.cpes)),
            files=tuple(dict.fromkeys(x for p in group for x in p.files)),
            layer=min((p.layer for p in group), key=lambda d: layer_order.get(d, 1 << 30)),
            metadata=metadata,
        ))
    return sorted(merged, key=lambda p: (p.type, p.name, p.version, p.purl))


def drop_owned_binaries(packages: list[Package]) -> list[Package]:
    """Binary-classifier packages inside files an OS package owns are the OS package's own."""
    owned = {f for p in packages if p.type.is_os for f in p.files}
    if not owned:
        return packages
    return [p for p in packages
            if p.type is not PackageType.BINARY
            or not all(loc.path in owned for loc in p.locations)]


def catalog_artifact(artifact: Artifact, catalogers: Sequence[Cataloger], *,
                     limits: Limits = DEFAULT_LIMITS, progress: Progress | None = None,
                     memo_dir: Path | None = None) -> SBOM:
    """Inventory an artifact: one walk, each cataloger on its files, OS packages first.

    With `memo_dir` (images only), each cataloger's result for a file copy is remembered per
    layer and reused while everything it looked at is unchanged (see catalog/memo.py): a
    rebuilt image re-parses only what its new layers brought or changed.
    """
    started = time.perf_counter()
    timings: dict[str, float] = {}
    os_release = detect_os(artifact)
    ctx = CatalogContext(artifact, os_release, limits)
    memo = None
    if memo_dir is not None and artifact.info.layers:
        from stackwarden.catalog.memo import CatalogMemo

        memo = CatalogMemo(memo_dir, artifact, os_release, limits)
    wanted = walk(artifact, catalogers, memo)
    timings["walk"] = time.perf_counter() - started
    ordered = sorted(catalogers, key=lambda c: "os" not in c.tags)
    layered = artifact.layer_count > 1
    packages: list[Package] = []
    for number, cataloger in enumerate(ordered):
        t0 = time.perf_counter()
        files = wanted.get(cataloger.name, [])
        if progress:
            progress(f"cataloging {cataloger.name} ({len(files)} files)", number, len(ordered))
        for entry in files:
            found = memo.catalog(cataloger, entry, ctx) if memo is not None else \
                list(cataloger.catalog([entry], ctx))
            if found and layered:
                found = attribute_layers(artifact, cataloger, entry, found, ctx, memo)
            elif found:
                found = [replace(p, layer=p.layer or ctx.artifact.layer_digest(entry.layer))
                         for p in found]
            packages.extend(found)
        timings[cataloger.name] = time.perf_counter() - t0
    if memo is not None:
        memo.save()
        timings["memo_hits"] = float(memo.hits)
        timings["memo_misses"] = float(memo.misses)
    layer_order = {layer.diff_id: layer.index for layer in artifact.info.layers}
    result = drop_owned_binaries(merge_packages(packages, layer_order))
    skipped = list(getattr(artifact, "skipped", [])) + ctx.skipped
    timings["total"] = time.perf_counter() - started
    return SBOM(
        artifact=artifact.info,
        packages=tuple(result),
        os=os_release,
        skipped=tuple(sorted(set(skipped), key=lambda s: (s.path, s.reason))),
        catalogers=tuple(c.name for c in catalogers),
        created=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        tool_version=__version__,
        timings=timings,
    )


def skipped_summary(skipped: Sequence[Skipped], limit: int = 10) -> list[str]:
    """The first few skipped files as `path: reason` lines, for summaries."""
    return [f"{s.path}: {s.reason}" for s in skipped[:limit]]
