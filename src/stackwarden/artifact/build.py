"""Write OCI image layouts and docker archives from layer contents (sample images, tests)."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stackwarden.artifact.image import DOCKER_CONFIG, OCI_CONFIG, OCI_INDEX, OCI_MANIFEST

LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"


@dataclass(frozen=True)
class LayerFile:
    """One entry to put in a layer tar."""

    path: str
    data: bytes = b""
    mode: int = 0o644
    type: str = "file"  # file, dir, symlink, hardlink, whiteout, opaque
    linkname: str = ""
    uid: int = 0
    gid: int = 0


def _add(tar: tarfile.TarFile, info: tarfile.TarInfo, data: bytes | None = None) -> None:
    info.mtime = 0
    info.uname = info.gname = ""
    tar.addfile(info, io.BytesIO(data) if data is not None else None)


def layer_tar(files: Iterable[LayerFile]) -> bytes:
    """An uncompressed layer tar holding `files` (whiteouts written the OCI way)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for f in files:
            name = f.path.lstrip("/")
            if f.type == "whiteout":
                head, _, base = name.rpartition("/")
                info = tarfile.TarInfo((head + "/" if head else "") + ".wh." + base)
                _add(tar, info, b"")
                continue
            if f.type == "opaque":
                info = tarfile.TarInfo(name.rstrip("/") + "/.wh..wh..opq")
                _add(tar, info, b"")
                continue
            info = tarfile.TarInfo(name)
            info.mode, info.uid, info.gid = f.mode, f.uid, f.gid
            if f.type == "dir":
                info.type = tarfile.DIRTYPE
                _add(tar, info)
            elif f.type == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, f.linkname
                _add(tar, info)
            elif f.type == "hardlink":
                info.type, info.linkname = tarfile.LNKTYPE, f.linkname.lstrip("/")
                _add(tar, info)
            else:
                info.size = len(f.data)
                _add(tar, info, f.data)
    return out.getvalue()


def layer_from_dir(source: Path, prefix: str = "/") -> bytes:
    """An uncompressed layer tar of a directory tree, placed under `prefix`, sorted, mtime 0."""
    out = io.BytesIO()
    root = Path(source)
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            rel_dir = Path(dirpath).relative_to(root)
            for name in sorted(dirnames) + sorted(filenames):
                full = Path(dirpath) / name
                arcname = (Path(prefix.lstrip("/")) / rel_dir / name).as_posix()
                info = tar.gettarinfo(str(full), arcname=arcname)
                info.uid = info.gid = 0
                if info.isreg():
                    with open(full, "rb") as handle:
                        _add(tar, info, handle.read())
                else:
                    _add(tar, info)
    return out.getvalue()


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _gzip(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=6, mtime=0)


@dataclass
class ImageSpec:
    """What goes into a built image: layers (uncompressed tars) and config fields."""

    layers: Sequence[bytes]
    os: str = "linux"
    architecture: str = "amd64"
    variant: str | None = None
    config: dict[str, Any] = field(default_factory=dict)  # Env, User, ExposedPorts, ...
    history: Sequence[str] = ()  # created_by per layer
    compress: bool = True

    def config_json(self) -> bytes:
        """The image config blob (diff_ids computed from the layers)."""
        history = list(self.history) + [""] * (len(self.layers) - len(self.history))
        doc: dict[str, Any] = {
            "architecture": self.architecture,
            "os": self.os,
            "config": self.config,
            "rootfs": {"type": "layers", "diff_ids": [_digest(layer) for layer in self.layers]},
            "history": [{"created": "1970-01-01T00:00:00Z", "created_by": h} for h in history],
        }
        if self.variant:
            doc["variant"] = self.variant
        return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()

    @property
    def platform(self) -> dict[str, str]:
        """The platform object an index lists for this image."""
        p = {"os": self.os, "architecture": self.architecture}
        if self.variant:
            p["variant"] = self.variant
        return p


def _write_blob(root: Path, data: bytes) -> str:
    digest = _digest(data)
    path = root / "blobs" / "sha256" / digest.split(":", 1)[1]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return digest


def write_image_blobs(root: Path, spec: ImageSpec) -> dict[str, Any]:
    """Write one image's layer, config and manifest blobs; returns the manifest descriptor."""
    layers = []
    for layer in spec.layers:
        blob = _gzip(layer) if spec.compress else layer
        layers.append({"mediaType": LAYER_GZIP if spec.compress else LAYER_TAR,
                       "digest": _write_blob(root, blob), "size": len(blob)})
    config = spec.config_json()
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": _write_blob(root, config),
                   "size": len(config)},
        "layers": layers,
    }, sort_keys=True, separators=(",", ":")).encode()
    return {"mediaType": OCI_MANIFEST, "digest": _write_blob(root, manifest),
            "size": len(manifest), "platform": spec.platform}


def write_oci_layout(dest: Path, images: ImageSpec | Sequence[ImageSpec], *,
                     tag: str | None = "latest", multiarch: bool = False) -> str:
    """Write an OCI image layout; several images become one multi-arch index when `multiarch`.

    Returns the digest of the top-level manifest (or index).
    """
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    specs = [images] if isinstance(images, ImageSpec) else list(images)
    descriptors = [write_image_blobs(dest, spec) for spec in specs]
    annotations = {"org.opencontainers.image.ref.name": tag} if tag else {}
    if multiarch:
        index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX,
                            "manifests": descriptors}, sort_keys=True).encode()
        top = {"mediaType": OCI_INDEX, "digest": _write_blob(dest, index), "size": len(index)}
        entries = [top]
    else:
        entries = [{k: v for k, v in d.items() if k != "platform"} for d in descriptors]
    for entry in entries:
        if annotations:
            entry["annotations"] = annotations
    (dest / "index.json").write_text(json.dumps(
        {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}, sort_keys=True))
    return str(entries[0]["digest"])


def write_docker_archive(dest: Path, spec: ImageSpec, *, repo_tag: str = "sample:latest") -> str:
    """Write a `docker save`-style archive (legacy `<id>/layer.tar` layout); returns the image id."""
    config = spec.config_json().replace(b'"' + OCI_CONFIG.encode() + b'"',
                                        b'"' + DOCKER_CONFIG.encode() + b'"')
    config_digest = _digest(config)
    with tarfile.open(dest, mode="w") as tar:
        layer_names = []
        for layer in spec.layers:
            name = f"{hashlib.sha256(layer).hexdigest()}/layer.tar"
            layer_names.append(name)
            info = tarfile.TarInfo(name)
            info.size = len(layer)
            _add(tar, info, layer)
        config_name = config_digest.split(":", 1)[1] + ".json"
        info = tarfile.TarInfo(config_name)
        info.size = len(config)
        _add(tar, info, config)
        manifest = json.dumps([{"Config": config_name, "RepoTags": [repo_tag],
                                "Layers": layer_names}]).encode()
        info = tarfile.TarInfo("manifest.json")
        info.size = len(manifest)
        _add(tar, info, manifest)
    return config_digest
