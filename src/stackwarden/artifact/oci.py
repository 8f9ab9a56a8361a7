"""OCI image layouts, as a directory (`oci-dir:`) or a tar archive (`oci-archive:`)."""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, BinaryIO

from stackwarden.artifact.image import (
    Descriptor,
    ImageSource,
    ResolvedImage,
    manifest_kind,
    manifest_layers,
    parse_json,
    select_manifest,
)
from stackwarden.artifact.layers import BlobLocation
from stackwarden.artifact.stores import DirStore, FileStore, TarStore
from stackwarden.core.config import DEFAULT_LIMITS, Limits
from stackwarden.core.errors import ArtifactError

REF_NAME = "org.opencontainers.image.ref.name"
CONTAINERD_NAME = "io.containerd.image.name"
MAX_INDEX_DEPTH = 4


class OCILayoutSource(ImageSource):
    """An OCI image layout: `oci-layout`, `index.json` and `blobs/<alg>/<hex>`."""

    def __init__(self, store: FileStore, *, kind: str, reference: str, tag: str | None = None,
                 limits: Limits = DEFAULT_LIMITS) -> None:
        self.store = store
        self.kind = kind
        self.reference = reference
        self.tag = tag
        self.limits = limits
        if not store.exists("index.json"):
            store.close()
            raise ArtifactError("not an OCI image layout (no index.json)", source=store.label)

    @classmethod
    def from_dir(cls, path: Path, *, reference: str, tag: str | None = None,
                 limits: Limits = DEFAULT_LIMITS) -> OCILayoutSource:
        """Open a layout directory."""
        if not path.is_dir():
            raise ArtifactError("not a directory", source=str(path))
        return cls(DirStore(path), kind="oci-dir", reference=reference, tag=tag, limits=limits)

    @classmethod
    def from_archive(cls, path: Path, *, reference: str, tag: str | None = None,
                     limits: Limits = DEFAULT_LIMITS) -> OCILayoutSource:
        """Open a layout packed in a tar archive (compressed or not)."""
        return cls(TarStore(path, limits), kind="oci-archive", reference=reference, tag=tag,
                   limits=limits)

    def _choose_top(self, index: dict[str, Any], platform: str | None) -> Descriptor:
        where = f"{self.store.label}:index.json"
        raw = index.get("manifests")
        if not isinstance(raw, list) or not raw:
            raise ArtifactError("index.json lists no manifests", source=where)
        descriptors = [Descriptor.parse(m, where) for m in raw]
        if self.tag is not None:
            named = [d for d in descriptors if d.annotations.get(REF_NAME) == self.tag
                     or d.annotations.get(CONTAINERD_NAME, "").endswith(":" + self.tag)]
            if not named:
                names = sorted({d.annotations.get(REF_NAME, "") for d in descriptors} - {""})
                raise ArtifactError(f"no image tagged {self.tag!r} (tags: "
                                    f"{', '.join(names) or 'none'})", source=where)
            descriptors = named
        if len(descriptors) == 1:
            return descriptors[0]
        if all(d.platform for d in descriptors):
            return select_manifest({"manifests": raw if self.tag is None else
                                    [m for m in raw if m.get("annotations", {}).get(REF_NAME)
                                     == self.tag]}, platform, where)
        names = sorted({d.annotations.get(REF_NAME, d.digest) for d in descriptors})
        raise ArtifactError("the layout holds several images; name one as "
                            f"oci-dir:PATH:TAG (one of: {', '.join(names)})", source=where)

    def resolve(self, platform: str | None) -> ResolvedImage:
        where = self.store.label
        index = parse_json(self.store.read("index.json", self.limits.max_manifest_bytes),
                           f"{where}:index.json")
        if not isinstance(index, dict):
            raise ArtifactError("index.json is not a JSON object", source=where)
        desc = self._choose_top(index, platform)
        top = desc
        for _ in range(MAX_INDEX_DEPTH):
            manifest = parse_json(self.store.read_blob(desc, self.limits),
                                  f"{where}:{desc.digest}")
            if manifest_kind(manifest, desc.media_type, f"{where}:{desc.digest}") == "manifest":
                break
            desc = select_manifest(manifest, platform, f"{where}:{desc.digest}")
        else:
            raise ArtifactError(f"image indexes nested deeper than {MAX_INDEX_DEPTH}",
                                source=where)
        config_desc, layers = manifest_layers(manifest, f"{where}:{desc.digest}")
        config = parse_json(self.store.read_blob(config_desc, self.limits),
                            f"{where}:{config_desc.digest}")
        if not isinstance(config, dict):
            raise ArtifactError("image config is not a JSON object", source=where)
        name = top.annotations.get(CONTAINERD_NAME) or top.annotations.get(REF_NAME) or ""
        return ResolvedImage(reference=self.reference, kind=self.kind, name=name or where,
                             manifest_digest=desc.digest, config_digest=config_desc.digest,
                             config=config, layers=layers, open_blob=self._open_blob,
                             repo_tags=(name,) if name else (),
                             locate_blob=self._locate_blob)

    def _open_blob(self, desc: Descriptor) -> AbstractContextManager[BinaryIO]:
        return self.store.open(self.store.blob_name(desc))

    def _locate_blob(self, desc: Descriptor) -> BlobLocation | None:
        return self.store.locate(self.store.blob_name(desc))

    def close(self) -> None:
        self.store.close()
