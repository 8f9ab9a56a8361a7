"""The layered view of an image: layer indexes squashed in order, whiteouts applied."""

from __future__ import annotations

import os
import shutil
import tarfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from stackwarden.artifact.base import Artifact, FileEntry, FileType, normalize_path
from stackwarden.artifact.layers import LayerIndex, SliceReader
from stackwarden.core.errors import ArtifactError
from stackwarden.core.models import ArtifactInfo, Skipped

Loader = Callable[[], tuple[ArtifactInfo, list[LayerIndex], list[Skipped]]]


class LayeredArtifact(Artifact):
    """An image's filesystem: layer indexes squashed in order, whiteouts applied.

    Built eagerly from layer indexes, or lazily from a loader that reads the layers the first
    time a file is asked for (a scan whose results are all cached never reads them). A layer
    whose index came from the index cache may have no local bytes yet: `fetch` brings them
    (decompressed and verified) the first time one of its files is opened.
    """

    def __init__(self, info: ArtifactInfo, layers: list[LayerIndex] | None,
                 workdir: Path | None, skipped: list[Skipped], *,
                 loader: Loader | None = None, on_close: Callable[[], None] | None = None,
                 fetch: Callable[[LayerIndex], None] | None = None) -> None:
        self.info = info
        self.workdir = workdir
        self.skipped = skipped
        self._fds: dict[int, int] = {}
        self._fd_lock = threading.Lock()  # scanners open files from several threads
        self._fetch_lock = threading.Lock()
        self._loader = loader
        self._fetch = fetch
        self._on_close = on_close
        self._layers: list[LayerIndex] | None = layers
        self._squashed_view: dict[str, FileEntry] | None = (self._squash(layers)
                                                            if layers is not None else None)

    def _ensure(self) -> None:
        with self._fd_lock:
            if self._layers is not None:
                return
            assert self._loader is not None
            self.info, layers, skipped = self._loader()
            self.skipped.extend(skipped)
            self._squashed_view = self._squash(layers)
            self._layers = layers

    @property
    def layers(self) -> list[LayerIndex]:
        """The layer indexes (read on first use for a lazily loaded image)."""
        if self._layers is None:
            self._ensure()
        return self._layers  # type: ignore[return-value]

    @property
    def _squashed(self) -> dict[str, FileEntry]:
        if self._squashed_view is None:
            self._ensure()
        return self._squashed_view  # type: ignore[return-value]

    @property
    def loaded(self) -> bool:
        """Whether the layers have been read."""
        return self._layers is not None

    @staticmethod
    def _squash(layers: list[LayerIndex]) -> dict[str, FileEntry]:
        squashed: dict[str, FileEntry] = {}
        for layer in layers:
            prefixes: list[str] = [d.rstrip("/") + "/" for d in layer.opaque]
            for path in layer.whiteouts:
                squashed.pop(path, None)
                prefixes.append(path + "/")  # its children, even those without a dir entry
            if squashed:
                for path, entry in layer.entries.items():
                    if entry.type is not FileType.DIR:
                        lower = squashed.get(path)
                        if lower is not None and lower.type is FileType.DIR:
                            prefixes.append(path + "/")
            if prefixes:
                gone = tuple(prefixes)
                squashed = {p: e for p, e in squashed.items() if not p.startswith(gone)}
            squashed.update(layer.entries)
        return squashed

    def files(self) -> Iterator[FileEntry]:
        return iter(self._squashed.values())

    def _lookup(self, path: str) -> FileEntry | None:
        if path == "/":
            return FileEntry("/", FileType.DIR, 0, 0o755)
        return self._squashed.get(path)

    def history(self, path: str) -> list[FileEntry]:
        normalized = normalize_path(path) or "/"
        parent, _, base = normalized.rpartition("/")
        real_parent = self.realpath(parent or "/")
        if real_parent is None:
            return []
        real = (real_parent.rstrip("/") + "/" + base) if base else real_parent
        return [layer.entries[real] for layer in self.layers if real in layer.entries]

    def layer_files(self, layer: int) -> Iterator[FileEntry]:
        return iter(self.layers[layer].entries.values())

    def _local(self, layer: LayerIndex) -> LayerIndex:
        """The layer, its bytes fetched first if they are not on local disk yet."""
        if layer.path is None:
            with self._fetch_lock:
                if layer.path is None:
                    if self._fetch is None:
                        raise ArtifactError(f"layer {layer.index} has no local content")
                    self._fetch(layer)
        return layer

    def _open_entry(self, entry: FileEntry) -> BinaryIO:
        layer = self._local(self.layers[entry.layer])
        span = layer.offsets.get(entry.path)
        if span is None:
            sparse = layer.sparse.get(entry.path)
            if sparse is None or layer.path is None:
                raise ArtifactError(f"no content in layer {entry.layer}", source=entry.path)
            tar = tarfile.open(fileobj=layer.window(), mode="r:")
            handle = tar.extractfile(sparse)
            if handle is None:
                raise ArtifactError("unreadable sparse entry", source=entry.path)
            return handle  # type: ignore[return-value]
        fd = self._fds.get(entry.layer)
        if fd is None:
            with self._fd_lock:
                fd = self._fds.get(entry.layer)
                if fd is None:
                    assert layer.path is not None
                    fd = self._fds[entry.layer] = os.open(layer.path, os.O_RDONLY)
        return SliceReader(fd, layer.base + span[0], span[1])  # type: ignore[return-value]

    def close(self) -> None:
        with self._fd_lock:
            for fd in self._fds.values():
                os.close(fd)
            self._fds.clear()
        if self._on_close is not None:
            self._on_close()
            self._on_close = None
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None
