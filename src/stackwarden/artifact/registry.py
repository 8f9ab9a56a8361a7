"""Registry targets (`registry:HOST/REPO:TAG` or `@sha256:…`): references, pulling, pushing.

The HTTP side (TLS rules, auth, retries, the API calls) is `registry_client.RegistryClient`;
credentials and challenges are `registry_auth`. This module turns a reference into an image.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from stackwarden.artifact.image import (
    Descriptor,
    ImageSource,
    ResolvedImage,
    manifest_kind,
    manifest_layers,
    parse_json,
    select_manifest,
)
from stackwarden.artifact.oci import MAX_INDEX_DEPTH, REF_NAME
from stackwarden.artifact.registry_auth import HUB_HOSTS
from stackwarden.artifact.registry_client import (
    CHUNK,
    DEFAULT_OPTIONS,
    DIGEST,
    REPOSITORY,
    TAG,
    Manifest,
    RegistryClient,
    RegistryOptions,
)
from stackwarden.artifact.stores import DirStore
from stackwarden.core.config import DEFAULT_LIMITS, Limits
from stackwarden.core.errors import ArtifactError, UsageError

__all__ = ["ImageReference", "RegistryClient", "RegistryOptions", "RegistrySource",
           "parse_reference", "push_oci_layout"]

DOCKER_HUB = "registry-1.docker.io"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
HOST = re.compile(rf"(?:\[[0-9A-Fa-f:.]+\]|{_LABEL}(?:\.{_LABEL})*)(?::[0-9]{{1,5}})?")


@dataclass(frozen=True)
class ImageReference:
    """A parsed image reference: registry host[:port], repository, tag and/or digest."""

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def reference(self) -> str:
        """What to ask the registry for: the digest when there is one, else the tag."""
        return self.digest or self.tag or "latest"

    def __str__(self) -> str:
        text = f"{self.registry}/{self.repository}"
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def parse_reference(value: str) -> ImageReference:
    """Parse `HOST[:PORT]/REPO[:TAG][@DIGEST]`; Docker Hub shorthands (`alpine`) are expanded."""
    raw = value.strip()
    if not raw or any(c.isspace() for c in raw):
        raise UsageError("an image reference is HOST/REPOSITORY[:TAG][@sha256:…]", source=value)
    if "://" in raw:
        raise UsageError("give the image reference without a URL scheme (HOST/REPO:TAG)",
                         source=value)
    name, at, digest = raw.partition("@")
    if at and not DIGEST.fullmatch(digest):
        raise UsageError(f"malformed digest {digest!r} (expected sha256:<64 hex digits>)",
                         source=value)
    first, slash, rest = name.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost" or first.startswith("[")):
        host, path = first, rest
    else:
        host, path = "docker.io", name
    tag: str | None = None
    colon = path.rfind(":")
    if colon > path.rfind("/"):
        path, tag = path[:colon], path[colon + 1:]
        if not TAG.fullmatch(tag):
            raise UsageError(f"malformed tag {tag!r}", source=value)
    if not HOST.fullmatch(host):
        raise UsageError(f"malformed registry host {host!r}", source=value)
    if host.lower() in HUB_HOSTS:
        host = DOCKER_HUB
        if "/" not in path:
            path = "library/" + path
    if not REPOSITORY.fullmatch(path):
        raise UsageError(f"malformed repository name {path!r} (lower-case letters, digits and "
                         "separators . _ - /)", source=value)
    return ImageReference(host, path, tag if tag or at else "latest", digest or None)


class RegistrySource(ImageSource):
    """An image in a registry, read over the OCI Distribution API (blobs streamed)."""

    kind = "registry"

    def __init__(self, value: str, *, reference: str, limits: Limits = DEFAULT_LIMITS,
                 options: RegistryOptions = DEFAULT_OPTIONS) -> None:
        self.image = parse_reference(value)
        self.reference = reference
        self.limits = limits
        self.client = RegistryClient(self.image.registry, options=options, limits=limits,
                                     label=reference)

    def resolve(self, platform: str | None) -> ResolvedImage:
        repository = self.image.repository
        manifest: Manifest = self.client.get_manifest(repository, self.image.reference)
        for _ in range(MAX_INDEX_DEPTH):
            where = f"{self.reference} ({manifest.digest})"
            if manifest_kind(manifest.document, manifest.media_type, where) == "manifest":
                break
            chosen = select_manifest(manifest.document, platform, where)
            manifest = self.client.get_manifest(repository, chosen.digest)
        else:
            raise ArtifactError(f"image indexes nested deeper than {MAX_INDEX_DEPTH}",
                                source=self.reference)
        config_desc, layers = manifest_layers(manifest.document, where)
        data = self.client.read_blob(repository, config_desc, self.limits.max_manifest_bytes)
        config = parse_json(data, f"{self.reference} (config {config_desc.digest})")
        if not isinstance(config, dict):
            raise ArtifactError("image config is not a JSON object", source=self.reference)
        tagged = f"{self.image.registry}/{repository}:{self.image.tag}" if self.image.tag else ""
        return ResolvedImage(reference=self.reference, kind=self.kind, name=str(self.image),
                             manifest_digest=manifest.digest, config_digest=config_desc.digest,
                             config=config, layers=layers,
                             open_blob=partial(self.client.open_blob, repository),
                             repo_tags=(tagged,) if tagged else ())

    def close(self) -> None:
        self.client.close()


def _file_chunks(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            yield chunk


def push_oci_layout(layout_dir: Path, reference: str, *,
                    options: RegistryOptions = DEFAULT_OPTIONS,
                    limits: Limits = DEFAULT_LIMITS) -> str:
    """Push an OCI layout's image or multi-arch index to `reference`; returns the pushed digest.

    A layout with several top-level entries is narrowed to the one whose
    `org.opencontainers.image.ref.name` is the reference's tag.
    """
    target = parse_reference(reference)
    store = DirStore(Path(layout_dir))
    where = f"{layout_dir}:index.json"
    index = parse_json(store.read("index.json", limits.max_manifest_bytes), where)
    raw = index.get("manifests") if isinstance(index, dict) else None
    entries = [Descriptor.parse(m, where) for m in raw] if isinstance(raw, list) else []
    if len(entries) > 1:
        entries = [e for e in entries if e.annotations.get(REF_NAME) == target.tag]
    if len(entries) != 1:
        raise ArtifactError(f"the layout does not hold exactly one image tagged {target.tag!r}",
                            source=where)
    repository = target.repository
    with RegistryClient(target.registry, options=options, limits=limits) as client:

        def push(desc: Descriptor, ref: str, depth: int) -> str:
            if depth > MAX_INDEX_DEPTH:
                raise ArtifactError("image indexes nested too deep", source=where)
            data = store.read_blob(desc, limits)
            label = f"{layout_dir}:{desc.digest}"
            document = parse_json(data, label)
            if manifest_kind(document, desc.media_type, label) == "index":
                for child in document.get("manifests") or []:
                    child_desc = Descriptor.parse(child, label)
                    push(child_desc, child_desc.digest, depth + 1)
            else:
                config, layers = manifest_layers(document, label)
                for blob in (config, *layers):
                    path = Path(layout_dir) / store.blob_name(blob)
                    if not path.is_file():
                        raise ArtifactError(f"blob {blob.digest} is missing", source=label)
                    client.upload_blob(repository, blob.digest, path.stat().st_size,
                                       partial(_file_chunks, path))
            media_type = document.get("mediaType") or desc.media_type
            return client.put_manifest(repository, ref, data, str(media_type))

        return push(entries[0], target.reference, 0)
