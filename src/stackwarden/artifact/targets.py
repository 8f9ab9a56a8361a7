"""Turn a target string (`oci-dir:PATH`, `registry:REF`, a bare path, …) into an artifact."""

from __future__ import annotations

import os
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from stackwarden.artifact.base import Artifact
from stackwarden.artifact.directory import DirectoryArtifact
from stackwarden.artifact.image import ImageSource, load_image
from stackwarden.core.config import DEFAULT_LIMITS, Limits
from stackwarden.core.errors import ArtifactError, UsageError

SCHEMES = ("oci-dir", "oci-archive", "docker-archive", "registry", "rootfs", "dir")
IMAGE_SCHEMES = ("oci-dir", "oci-archive", "docker-archive", "registry")


@dataclass(frozen=True)
class TargetOptions:
    """How to read a target: platform, registry credentials, limits, progress callback."""

    platform: str | None = None
    username: str | None = None
    password: str | None = None
    insecure: bool = False
    docker_config: Path | None = None
    ca_bundle: Path | None = None  # registries: extra CAs to trust (PEM file)
    retries: int = 3  # registries: retries after connection errors, 429 and 5xx
    limits: Limits = DEFAULT_LIMITS
    progress: Callable[[str, int, int], None] | None = field(default=None, compare=False)
    lazy: bool = False  # images: read layers only when a file is first needed
    index_cache: Path | None = None  # images: where layer indexes are cached by diff_id


def split_scheme(target: str) -> tuple[str | None, str]:
    """`oci-dir:/x` -> ("oci-dir", "/x"); a target without a known scheme -> (None, target)."""
    scheme, sep, rest = target.partition(":")
    if sep and scheme in SCHEMES:
        return scheme, rest
    return None, target


def _path_and_tag(value: str) -> tuple[Path, str | None]:
    """`archive.tar:v1` -> (archive.tar, "v1") unless the whole string names a file."""
    if os.path.exists(value) or ":" not in value:
        return Path(value), None
    path, _, tag = value.rpartition(":")
    return Path(path), tag or None


def _sniff_archive(path: Path) -> str | None:
    """Tell a docker-archive from an oci-archive by the names inside (uncompressed tars)."""
    try:
        with tarfile.open(path, mode="r:*") as tar:
            for count, member in enumerate(tar):
                name = member.name.lstrip("./")
                if name == "manifest.json":
                    return "docker-archive"
                if name == "oci-layout":
                    return "oci-archive"
                if count > 10_000:
                    break
    except (tarfile.TarError, OSError, EOFError):
        return None
    return None


def is_plain_file(value: str) -> bool:
    """A path to a regular file that is not an image archive (one file to scan, say from
    pre-commit)."""
    path = Path(value)
    return split_scheme(value)[0] is None and path.is_file() and _sniff_archive(path) is None


def detect_scheme(value: str) -> str:
    """The scheme a bare target most likely means (the Syft convention)."""
    path = Path(value)
    if path.is_dir():
        if (path / "oci-layout").is_file() and (path / "index.json").is_file():
            return "oci-dir"
        return "dir"
    if path.is_file():
        kind = _sniff_archive(path)
        if kind is None:
            raise UsageError("not a directory, image archive or image reference", source=value)
        return kind
    if os.sep in value and not any(c in value for c in ":@") and value.startswith((".", "/")):
        raise UsageError("no such file or directory", source=value)
    return "registry"


def image_source(scheme: str, value: str, target: str, options: TargetOptions) -> ImageSource:
    """The ImageSource for an image scheme."""
    if scheme == "registry":
        from stackwarden.artifact.registry import RegistryOptions, RegistrySource

        return RegistrySource(value, reference=target, limits=options.limits,
                              options=RegistryOptions(username=options.username,
                                                      password=options.password,
                                                      insecure=options.insecure,
                                                      docker_config=options.docker_config,
                                                      ca_bundle=options.ca_bundle,
                                                      retries=options.retries,
                                                      timeout=options.limits.network_timeout))
    path, tag = _path_and_tag(value)
    if not path.exists():
        raise ArtifactError("no such file or directory", source=str(path))
    if scheme == "oci-dir":
        from stackwarden.artifact.oci import OCILayoutSource

        return OCILayoutSource.from_dir(path, reference=target, tag=tag, limits=options.limits)
    if scheme == "oci-archive":
        from stackwarden.artifact.oci import OCILayoutSource

        return OCILayoutSource.from_archive(path, reference=target, tag=tag,
                                            limits=options.limits)
    from stackwarden.artifact.docker_archive import DockerArchiveSource

    return DockerArchiveSource(path, reference=target, tag=tag, limits=options.limits)


def open_target(target: str, options: TargetOptions | None = None) -> Artifact:
    """Open any supported target as an Artifact (close it when done)."""
    options = options or TargetOptions()
    scheme, value = split_scheme(target)
    if not value:
        raise UsageError("empty target", source=target)
    if scheme is None:
        scheme = detect_scheme(value)
    if scheme in ("dir", "rootfs"):
        return DirectoryArtifact(value, kind=scheme, reference=target)
    source = image_source(scheme, value, target, options)
    cache = None
    if options.index_cache is not None:
        from stackwarden.artifact.index_cache import LayerIndexCache

        cache = LayerIndexCache(options.index_cache, options.limits)
    return load_image(source, platform=options.platform, limits=options.limits,
                      progress=options.progress, lazy=options.lazy, index_cache=cache)
