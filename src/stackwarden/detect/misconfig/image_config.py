"""Container image configurations (the config blob an image manifest points at).

The document body is the config JSON as the OCI image spec defines it (`config.User`,
`config.ExposedPorts`, `config.Env`, `config.Healthcheck`, `history[].created_by`, …);
`check_image_config` in the package checks one held in memory.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stackwarden.detect.misconfig.model import Document, FileType, never
from stackwarden.detect.misconfig.source import SourceFile

NAME = "image-config"
KIND = "ImageConfig"


def candidate(path: str) -> bool:
    """Config blobs are JSON (in OCI layouts they have no extension: blobs/sha256/<hex>)."""
    return path.lower().endswith(".json")


def sniff(src: SourceFile) -> bool:
    """An image config has `rootfs` with `diff_ids`, and a `config` or `architecture`."""
    head = src.data[:65536]
    return b'"rootfs"' in head and b'"diff_ids"' in head and (b'"config"' in head
                                                            or b'"architecture"' in head)


def is_image_config(value: Any) -> bool:
    """Whether a parsed JSON value has the shape of an image config."""
    return isinstance(value, Mapping) and isinstance(value.get("rootfs"), Mapping) and (
        isinstance(value.get("config"), Mapping) or "architecture" in value)


def config_document(config: Mapping[str, Any], *, path: str = "",
                    name: str = "image config") -> Document:
    """The document for one image config (no line numbers: configs are machine-written)."""
    return Document(NAME, KIND, name, config, path=path)


def parse(src: SourceFile) -> list[Document]:
    """The image config in a JSON file ([] when the JSON is something else)."""
    value = src.json()
    return [config_document(value, path=src.path)] if is_image_config(value) else []


FILE_TYPE = FileType(NAME, claims=never, candidate=candidate, sniff=sniff, parse=parse)
