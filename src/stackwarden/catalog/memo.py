"""Cataloger results remembered per layer, with what each result depended on.

A cataloger's packages for one file copy depend on that copy's bytes (its layer's diff_id and
its path name them), on the OS release and limits, and on whatever else the cataloger looked
up in the squashed view: a `RECORD` beside a `METADATA`, a symlink on the way to a library.
`RecordingView` notes every path looked up and what it found; the memo entry is reused in a
later scan (a rebuilt image sharing the layer) only when every such lookup finds the same
thing again, so a new layer that changes a side file is noticed. A call that listed the whole
filesystem, or that skipped something, is not remembered.

Entries are grouped in one JSON file per layer (diff_id) and settings, written under a
temporary name and renamed into place; a lost race costs only a re-parse.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from stackwarden import __version__
from stackwarden.artifact.base import Artifact, FileEntry, FileType
from stackwarden.catalog.base import Cataloger, CatalogContext
from stackwarden.catalog.engine import Dispatcher
from stackwarden.catalog.sbom import package_from_dict, package_to_dict
from stackwarden.core.config import Limits
from stackwarden.core.models import OSRelease, Package

FORMAT = 1
Ident = tuple[Any, ...] | None


def _ident(artifact: Artifact, entry: FileEntry | None) -> Ident:
    """What a lookup found, independent of layer numbering: a directory is just a directory,
    a symlink its target, a file its layer's diff_id, size and mode."""
    if entry is None:
        return None
    if entry.type is FileType.DIR:
        return ("dir",)
    if entry.type is FileType.SYMLINK:
        return ("symlink", entry.linkname)
    return (entry.type.value, artifact.layer_digest(entry.layer), entry.size, entry.mode)


class RecordingView(Artifact):
    """The artifact as one cataloger call sees it, noting each path lookup and its result."""

    def __init__(self, artifact: Artifact) -> None:
        self.inner = artifact
        self.info = artifact.info
        self.lookups: dict[str, Ident] = {}
        self.unbounded = False  # listed files: depends on more than the lookups say

    @property
    def layer_count(self) -> int:
        return self.inner.layer_count

    def layer_digest(self, index: int) -> str | None:
        return self.inner.layer_digest(index)

    def _lookup(self, path: str) -> FileEntry | None:
        entry = self.inner.exact(path)
        self.lookups[path] = _ident(self.inner, entry)
        return entry

    def history(self, path: str) -> list[FileEntry]:
        self.realpath(path)  # the directories on the way, recorded lookup by lookup
        versions = self.inner.history(path)
        self.lookups[f"\0history\0{path}"] = tuple(_ident(self.inner, v) for v in versions)
        return versions

    def files(self) -> Iterator[FileEntry]:
        self.unbounded = True
        return self.inner.files()

    def layer_files(self, layer: int) -> Iterator[FileEntry]:
        self.unbounded = True
        return self.inner.layer_files(layer)

    def _open_entry(self, entry: FileEntry) -> BinaryIO:
        return self.inner._open_entry(entry)  # its bytes: named by the lookup that found it


def _found_now(artifact: Artifact, key: str) -> Any:
    """What a recorded lookup finds in `artifact`, in the recorded (JSON) form."""
    if key.startswith("\0history\0"):
        return [list(_ident(artifact, v) or ()) for v in
                artifact.history(key[len("\0history\0"):])]
    return _as_json(_ident(artifact, artifact.exact(key)))


def _as_json(ident: Ident) -> Any:
    return list(ident) if ident is not None else None


class CatalogMemo:
    """Remembered cataloger results for the layers of one artifact (see the module doc)."""

    def __init__(self, root: Path, artifact: Artifact, os_release: OSRelease | None,
                 limits: Limits) -> None:
        self.root = root
        self.artifact = artifact
        self._salt = f"{FORMAT}\0{__version__}\0{os_release!r}\0{limits!r}"
        self._layers: dict[str, dict[str, Any]] = {}
        self._dirty: set[str] = set()
        self._now: dict[str, Any] = {}  # lookups answered in this artifact (shared prefixes)
        self.hits = 0
        self.misses = 0

    def _path(self, diff_id: str) -> Path:
        digest = hashlib.sha256(f"{self._salt}\0{diff_id}".encode()).hexdigest()
        return self.root / digest[:2] / f"{digest}.json"

    def _entries(self, diff_id: str) -> dict[str, Any]:
        entries = self._layers.get(diff_id)
        if entries is None:
            try:
                doc = json.loads(self._path(diff_id).read_bytes())
                entries = doc["entries"] if doc.get("diff_id") == diff_id else {}
                if not isinstance(entries, dict):
                    entries = {}
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                entries = {}
            self._layers[diff_id] = entries
        return entries

    def catalog(self, cataloger: Cataloger, entry: FileEntry, ctx: CatalogContext,
                *, identity_only: bool = False) -> list[Package]:
        """`cataloger.catalog([entry])` (or `parse` when `identity_only`), remembered."""
        diff_id = self.artifact.layer_digest(entry.layer)
        if diff_id is None:
            return self._run(cataloger, entry, ctx, identity_only)
        key = f"{cataloger.name}\0{cataloger.version}\0{int(identity_only)}\0{entry.path}\0" \
              f"{entry.size}\0{entry.mode}"
        entries = self._entries(diff_id)
        saved = entries.get(key)
        if saved is not None:
            try:
                if self._still_true(saved["lookups"]):
                    self.hits += 1
                    return [package_from_dict(p) for p in saved["packages"]]
            except (KeyError, TypeError, ValueError):
                pass
        self.misses += 1
        view = RecordingView(self.artifact)
        local = CatalogContext(view, ctx.os, ctx.limits, [], identity_only=ctx.identity_only)
        found = self._run(cataloger, entry, local, identity_only)
        ctx.skipped.extend(local.skipped)
        if not local.skipped and not view.unbounded:
            entries[key] = {"packages": [package_to_dict(p) for p in found],
                            "lookups": [[k, _as_json(v) if not k.startswith("\0history\0")
                                         else [list(x or ()) for x in v]]  # type: ignore[union-attr]
                                        for k, v in view.lookups.items()]}
            self._dirty.add(diff_id)
        return found

    def _still_true(self, lookups: list[list[Any]]) -> bool:
        now = self._now
        for key, ident in lookups:
            found = now.get(key, now)  # `now` itself marks "not looked up yet"
            if found is now:
                found = now[key] = _found_now(self.artifact, key)
            if found != ident:
                return False
        return True

    def wanted_in_layer(self, index: int, dispatcher: Dispatcher) -> dict[str, list[str]]:
        """The regular files of layer `index` some cataloger wants (path -> cataloger names),
        remembered per layer: which files a cataloger wants depends on their path and mode
        alone, so a cached layer is not dispatched file by file again."""
        diff_id = self.artifact.layer_digest(index)
        entries = self._entries(diff_id) if diff_id is not None else {}
        key = "\0wanted\0" + "\0".join(sorted(f"{c.name}@{c.version}"
                                               for c in dispatcher.catalogers))
        saved = entries.get(key)
        if isinstance(saved, dict):
            return saved
        wanted = {}
        for entry in self.artifact.layer_files(index):
            if entry.type is FileType.REG:
                names = [c.name for c in dispatcher.wanted_by(entry)]
                if names:
                    wanted[entry.path] = names
        if diff_id is not None:
            entries[key] = wanted
            self._dirty.add(diff_id)
        return wanted

    @staticmethod
    def _run(cataloger: Cataloger, entry: FileEntry, ctx: CatalogContext,
             identity_only: bool) -> list[Package]:
        if identity_only:
            return list(cataloger.parse(entry, ctx))
        return list(cataloger.catalog([entry], ctx))

    def save(self) -> None:
        """Write the layers that gained entries (a cache that cannot be written is not used)."""
        for diff_id in sorted(self._dirty):
            path = self._path(diff_id)
            doc = {"diff_id": diff_id, "entries": self._layers[diff_id]}
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(prefix=".entry-", dir=path.parent)
                with os.fdopen(fd, "w") as handle:
                    handle.write(json.dumps(doc))
                os.replace(tmp, path)
            except (OSError, TypeError, ValueError):
                continue
        self._dirty.clear()
