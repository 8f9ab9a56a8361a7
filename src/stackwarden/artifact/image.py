"""Container images: manifests, platform selection, and the layered artifact they become."""

from __future__ import annotations

import json
import os
import platform as host_platform
import shutil
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from stackwarden.artifact.index_cache import LayerIndexCache
from stackwarden.artifact.layered import LayeredArtifact  # re-exported: the image view
from stackwarden.artifact.layers import (
    BlobLocation,
    LayerIndex,
    MaterializedLayer,
    index_layer,
    is_compressed,
    materialize_layer,
    verify_in_place,
)
from stackwarden.core.config import DEFAULT_LIMITS, Limits
from stackwarden.core.errors import ArtifactError
from stackwarden.core.models import ArtifactInfo, LayerInfo, Skipped

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_SCHEMA1 = ("application/vnd.docker.distribution.manifest.v1+json",
                  "application/vnd.docker.distribution.manifest.v1+prettyjws")
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
MANIFEST_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
CONFIG_TYPES = (OCI_CONFIG, DOCKER_CONFIG)
LAYER_TYPES = (
    "application/vnd.oci.image.layer.v1.tar",
    "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.oci.image.layer.v1.tar+zstd",
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
    "application/vnd.docker.image.rootfs.diff.tar",
    "application/vnd.docker.image.rootfs.diff.tar.gzip",
    "application/vnd.docker.image.rootfs.diff.tar.zstd",
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
)


@dataclass(frozen=True, slots=True)
class Descriptor:
    """An OCI content descriptor: what a blob is, its digest and size."""

    media_type: str
    digest: str
    size: int = -1
    platform: dict[str, Any] | None = None
    annotations: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, raw: Any, where: str) -> Descriptor:
        """Read a descriptor from manifest JSON, refusing malformed ones with a clear message."""
        if not isinstance(raw, dict) or not isinstance(raw.get("digest"), str):
            raise ArtifactError("descriptor without a digest", source=where)
        digest = raw["digest"]
        algorithm, _, hexpart = digest.partition(":")
        if not algorithm or not hexpart or not all(c in "0123456789abcdef" for c in hexpart):
            raise ArtifactError(f"malformed digest {digest!r}", source=where)
        size = raw.get("size", -1)
        return cls(str(raw.get("mediaType", "")), digest, size if isinstance(size, int) else -1,
                   raw.get("platform") if isinstance(raw.get("platform"), dict) else None,
                   dict(raw.get("annotations") or {}))


@dataclass(slots=True)
class ResolvedImage:
    """One image chosen from a source: manifest, config, layers, and how to read its blobs."""

    reference: str
    kind: str
    name: str
    manifest_digest: str | None
    config_digest: str
    config: dict[str, Any]
    layers: list[Descriptor]
    open_blob: Callable[[Descriptor], AbstractContextManager[BinaryIO]]
    repo_tags: tuple[str, ...] = ()
    diff_ids_trusted: bool = True  # docker-archive layer files are their own diff_id
    # where a blob lies in a local file (read in place when it is a plain tar), if it does
    locate_blob: Callable[[Descriptor], BlobLocation | None] = field(
        default=lambda desc: None)


class ImageSource(ABC):
    """Somewhere images come from: an OCI layout, an archive, a registry."""

    kind: str
    reference: str

    @abstractmethod
    def resolve(self, platform: str | None) -> ResolvedImage:
        """Pick the image to read (by platform for multi-arch indexes) and read its config."""

    def close(self) -> None:
        """Release handles and temporary files."""


def parse_json(data: bytes, where: str) -> Any:
    """Parse JSON, turning any error into one line naming the document."""
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"not valid JSON: {exc}", source=where) from exc


def manifest_kind(manifest: Any, media_type: str, where: str) -> str:
    """Classify a manifest document as 'index' or 'manifest' (schema 1 is refused)."""
    if not isinstance(manifest, dict):
        raise ArtifactError("manifest is not a JSON object", source=where)
    media_type = manifest.get("mediaType") or media_type or ""
    if media_type in DOCKER_SCHEMA1 or manifest.get("schemaVersion") == 1:
        raise ArtifactError("Docker schema 1 manifests are not supported (deprecated since "
                            "2017); re-push the image with a current client", source=where)
    if media_type in INDEX_TYPES or ("manifests" in manifest and "layers" not in manifest):
        return "index"
    if media_type in MANIFEST_TYPES or "layers" in manifest:
        return "manifest"
    raise ArtifactError(f"unknown manifest type {media_type!r}", source=where)


def default_platform() -> str:
    """linux/<this machine's architecture> in OCI's spelling."""
    machine = host_platform.machine().lower()
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64",
            "armv7l": "arm", "i686": "386", "ppc64le": "ppc64le", "s390x": "s390x"}
    return f"linux/{arch.get(machine, machine)}"


def _platform_string(p: dict[str, Any]) -> str:
    parts = [str(p.get("os", "")), str(p.get("architecture", ""))]
    if p.get("variant"):
        parts.append(str(p["variant"]))
    return "/".join(parts)


def select_manifest(index: dict[str, Any], platform: str | None, where: str) -> Descriptor:
    """Choose the manifest for `platform` from an index; attestations are never chosen."""
    raw = index.get("manifests")
    if not isinstance(raw, list) or not raw:
        raise ArtifactError("image index lists no manifests", source=where)
    descriptors = [Descriptor.parse(m, where) for m in raw]
    images = [d for d in descriptors
              if d.annotations.get("vnd.docker.reference.type") != "attestation-manifest"
              and (d.platform or {}).get("os") != "unknown"]
    if not images:
        raise ArtifactError("image index holds no image manifests", source=where)
    if platform is None and all(d.platform is None for d in images):
        return images[0]
    want = (platform or default_platform()).split("/")
    os_name, arch = want[0], want[1] if len(want) > 1 else ""
    variant = want[2] if len(want) > 2 else None
    matches = [d for d in images if d.platform and d.platform.get("os") == os_name
               and d.platform.get("architecture") == arch
               and (variant is None or d.platform.get("variant") == variant)]
    if not matches:
        if platform is None and len(images) == 1:
            return images[0]
        available = ", ".join(sorted({_platform_string(d.platform or {}) for d in images}))
        raise ArtifactError(f"no image for platform {'/'.join(want)} (available: {available})",
                            source=where)
    # Prefer the canonical variant (arm64 -> v8) when none was asked for.
    matches.sort(key=lambda d: (d.platform or {}).get("variant") not in (None, "v8"))
    return matches[0]


def manifest_layers(manifest: dict[str, Any], where: str) -> tuple[Descriptor, list[Descriptor]]:
    """The config descriptor and layer descriptors of an image manifest."""
    config = Descriptor.parse(manifest.get("config"), where + " (config)")
    if config.media_type and config.media_type not in CONFIG_TYPES:
        raise ArtifactError(f"not a container image: config media type {config.media_type!r}",
                            source=where)
    layers_raw = manifest.get("layers")
    if not isinstance(layers_raw, list):
        raise ArtifactError("manifest has no layer list", source=where)
    return config, [Descriptor.parse(layer, where) for layer in layers_raw]


def _layer_history(config: dict[str, Any], count: int) -> list[str]:
    history = [h for h in config.get("history") or [] if isinstance(h, dict)]
    created = [str(h.get("created_by", "")) for h in history if not h.get("empty_layer")]
    return created + [""] * (count - len(created)) if len(created) < count else created[:count]


def _diff_ids(config: dict[str, Any]) -> list[str]:
    rootfs = config.get("rootfs")
    return [d for d in (rootfs.get("diff_ids") or []) if isinstance(d, str)] \
        if isinstance(rootfs, dict) else []


def load_image(source: ImageSource, *, platform: str | None = None,
               limits: Limits = DEFAULT_LIMITS, workdir: Path | None = None,
               progress: Callable[[str, int, int], None] | None = None,
               lazy: bool = False, index_cache: LayerIndexCache | None = None
               ) -> LayeredArtifact:
    """Read an image from `source` into a LayeredArtifact.

    A plain-tar layer stored in a local file (docker-archive, OCI layout) is read where it
    lies; a compressed or remote one is decompressed to `workdir`. Every blob read is verified
    against its digest and every layer against the config's diff_ids. A layer whose index is
    in `index_cache` (keyed by diff_id) is not read to be listed, nor hashed: its bytes are
    read (and then verified, unless they lie in place) only if one of its files is opened.
    With `lazy`, only the manifest and config are read now (enough for `info`: digests, layer
    diff_ids, config); the layers are indexed the first time a file is needed.
    """
    try:
        image = source.resolve(platform)
    except BaseException:
        source.close()
        raise
    owned = workdir is None
    work = Path(tempfile.mkdtemp(prefix="stackwarden-")) if owned else workdir
    assert work is not None
    reader = _LayerReader(image, limits, work, progress, index_cache)
    diff_ids = _diff_ids(image.config)
    if lazy and len(diff_ids) == len(image.layers) and diff_ids:
        created_by = _layer_history(image.config, len(diff_ids))
        info = _artifact_info(image, [LayerInfo(i, d.digest, diff_ids[i], d.size, d.media_type,
                                                created_by[i])
                                      for i, d in enumerate(image.layers)])
        return LayeredArtifact(info, None, work if owned else None, [], loader=reader.read_all,
                               on_close=source.close, fetch=reader.fetch)
    try:
        info, indexes, skipped = reader.read_all()
    except BaseException:
        source.close()
        if owned:
            shutil.rmtree(work, ignore_errors=True)
        raise
    return LayeredArtifact(info, indexes, work if owned else None, skipped,
                           on_close=source.close, fetch=reader.fetch)


def _artifact_info(image: ResolvedImage, layers: list[LayerInfo]) -> ArtifactInfo:
    plat = "/".join(p for p in (image.config.get("os"), image.config.get("architecture"),
                                image.config.get("variant")) if isinstance(p, str) and p)
    return ArtifactInfo(kind=image.kind, reference=image.reference, name=image.name,
                        digest=image.manifest_digest, config_digest=image.config_digest,
                        platform=plat or None, layers=tuple(layers),
                        repo_tags=image.repo_tags, config=image.config)


class _LayerReader:
    """Indexes an image's layers (two at a time), verifying digests and diff_ids, and fetches
    the bytes of a layer whose index came from the cache when a file of it is opened."""

    def __init__(self, image: ResolvedImage, limits: Limits, work: Path,
                 progress: Callable[[str, int, int], None] | None,
                 cache: LayerIndexCache | None) -> None:
        self.image = image
        self.limits = limits
        self.work = work
        self.progress = progress
        self.cache = cache
        self.diff_ids = _diff_ids(image.config)
        self.created_by = _layer_history(image.config, len(image.layers))

    def _label(self, i: int) -> str:
        return f"{self.image.reference} layer {i} ({self.image.layers[i].digest})"

    def _diff_id(self, i: int) -> str | None:
        return self.diff_ids[i] if i < len(self.diff_ids) else None

    def read_all(self) -> tuple[ArtifactInfo, list[LayerIndex], list[Skipped]]:
        """Index every layer; the artifact's info with verified digests, the indexes, skips."""
        layers = self.image.layers
        if self.diff_ids and len(self.diff_ids) != len(layers):
            raise ArtifactError(f"config lists {len(self.diff_ids)} diff_ids for {len(layers)} "
                                "layers", source=self.image.reference)
        skipped: list[Skipped] = []
        workers = min(2, os.cpu_count() or 1, max(1, len(layers)))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(lambda i: self._one(i, skipped), range(len(layers))))
        indexes = [r[0] for r in results]
        for index in indexes:
            skipped.extend(index.skipped)
        return _artifact_info(self.image, [r[1] for r in results]), indexes, skipped

    def _one(self, i: int, skipped: list[Skipped]) -> tuple[LayerIndex, LayerInfo]:
        desc = self.image.layers[i]
        label = self._label(i)
        diff_id = self._diff_id(i)
        if desc.media_type and desc.media_type not in LAYER_TYPES:
            skipped.append(Skipped(desc.digest, f"layer media type {desc.media_type!r} is "
                                                "not a filesystem layer: not read", "image"))
            return LayerIndex(i, None), LayerInfo(i, desc.digest, diff_id or desc.digest,
                                                  desc.size, desc.media_type, self.created_by[i])
        location = self.image.locate_blob(desc)
        if location is not None and is_compressed(location.peek()):
            location = None  # decompressed to the work directory instead
        cached = self.cache.get(diff_id, i) if self.cache is not None and diff_id else None
        if cached is not None and (location is None or location.size == cached.size):
            if location is not None:
                cached.path, cached.base = location.path, location.offset
            if self.progress:
                self.progress(f"{label} (index cached)", i, len(self.image.layers))
            return cached, LayerInfo(i, desc.digest, diff_id or desc.digest, desc.size,
                                     desc.media_type, self.created_by[i])
        if location is not None:
            done = verify_in_place(location, digest=desc.digest, diff_id=diff_id, label=label,
                                   limits=self.limits)
            index = index_layer(location.path, i, label=label, limits=self.limits,
                                base=location.offset, size=location.size)
        else:
            done = self._materialize(i)
            index = index_layer(done.path, i, label=label, limits=self.limits)
        if self.cache is not None and diff_id:
            self.cache.put(diff_id, index)
        if self.progress:
            self.progress(label, i, len(self.image.layers))
        return index, LayerInfo(i, done.digest, done.diff_id, desc.size, desc.media_type,
                                self.created_by[i])

    def _materialize(self, i: int) -> MaterializedLayer:
        desc = self.image.layers[i]
        with self.image.open_blob(desc) as blob:
            return materialize_layer(blob, self.work / f"layer-{i}.tar", digest=desc.digest,
                                     diff_id=self._diff_id(i), label=self._label(i),
                                     limits=self.limits)

    def fetch(self, layer: LayerIndex) -> None:
        """Bring the bytes of a layer indexed from the cache to local disk, verified."""
        done = self._materialize(layer.index)
        if done.size != layer.size:
            raise ArtifactError(f"layer holds {done.size} bytes, its cached index says "
                                f"{layer.size}", source=self._label(layer.index))
        layer.base = 0
        layer.path = done.path
