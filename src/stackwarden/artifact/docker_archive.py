"""`docker save` archives (`docker-archive:`), plain or compressed."""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, BinaryIO

from stackwarden.artifact.image import Descriptor, ImageSource, ResolvedImage, parse_json
from stackwarden.artifact.layers import BlobLocation
from stackwarden.artifact.stores import TarStore, sha256_digest
from stackwarden.core.config import DEFAULT_LIMITS, Limits
from stackwarden.core.errors import ArtifactError

LAYER_TAR = "application/vnd.docker.image.rootfs.diff.tar"


class DockerArchiveSource(ImageSource):
    """A `docker save` tarball: `manifest.json`, a config JSON and one tar per layer."""

    kind = "docker-archive"

    def __init__(self, path: Path, *, reference: str, tag: str | None = None,
                 limits: Limits = DEFAULT_LIMITS) -> None:
        self.reference = reference
        self.tag = tag
        self.limits = limits
        self.store = TarStore(path, limits)
        if not self.store.exists("manifest.json"):
            self.store.close()
            raise ArtifactError("not a docker-archive (no manifest.json)", source=str(path))

    def _choose(self, entries: list[Any]) -> dict[str, Any]:
        where = f"{self.store.label}:manifest.json"
        images = [e for e in entries if isinstance(e, dict)]
        if not images:
            raise ArtifactError("manifest.json lists no images", source=where)
        if self.tag is None:
            if len(images) > 1:
                tags = [t for e in images for t in e.get("RepoTags") or []]
                raise ArtifactError("the archive holds several images; name one as "
                                    f"docker-archive:FILE:TAG (one of: {', '.join(tags)})",
                                    source=where)
            return images[0]
        for entry in images:
            tags = entry.get("RepoTags") or []
            if self.tag in tags or any(t.endswith(":" + self.tag) or t.split(":")[0] == self.tag
                                       for t in tags):
                return entry
        raise ArtifactError(f"no image tagged {self.tag!r}", source=where)

    def resolve(self, platform: str | None) -> ResolvedImage:
        where = f"{self.store.label}:manifest.json"
        entries = parse_json(self.store.read("manifest.json", self.limits.max_manifest_bytes),
                             where)
        if not isinstance(entries, list):
            raise ArtifactError("manifest.json is not a list", source=where)
        entry = self._choose(entries)
        config_name = entry.get("Config")
        layer_names = entry.get("Layers")
        if not isinstance(config_name, str) or not isinstance(layer_names, list):
            raise ArtifactError("manifest.json entry lacks Config or Layers", source=where)
        config_bytes = self.store.read(config_name, self.limits.max_manifest_bytes)
        config = parse_json(config_bytes, f"{self.store.label}:{config_name}")
        if not isinstance(config, dict):
            raise ArtifactError("image config is not a JSON object", source=where)
        diff_ids = (config.get("rootfs") or {}).get("diff_ids") or []
        if len(diff_ids) != len(layer_names):
            raise ArtifactError(f"config lists {len(diff_ids)} diff_ids for "
                                f"{len(layer_names)} layers", source=where)
        layers = []
        for i, name in enumerate(layer_names):
            if not isinstance(name, str):
                raise ArtifactError(f"layer {i} is not a file name", source=where)
            # A docker-archive layer is the uncompressed tar, so its digest is the diff_id.
            digest = ("sha256:" + name.rsplit("/", 1)[1] if name.startswith("blobs/sha256/")
                      else str(diff_ids[i]))
            layers.append(Descriptor(LAYER_TAR, digest, -1, None, {"path": name}))
        tags = tuple(t for t in entry.get("RepoTags") or [] if isinstance(t, str))
        return ResolvedImage(reference=self.reference, kind=self.kind,
                             name=tags[0] if tags else self.store.label,
                             manifest_digest=None, config_digest=sha256_digest(config_bytes),
                             config=config, layers=layers, open_blob=self._open_blob,
                             repo_tags=tags, locate_blob=self._locate_blob)

    def _open_blob(self, desc: Descriptor) -> AbstractContextManager[BinaryIO]:
        return self.store.open(desc.annotations["path"])

    def _locate_blob(self, desc: Descriptor) -> BlobLocation | None:
        return self.store.locate(desc.annotations["path"])

    def close(self) -> None:
        self.store.close()
