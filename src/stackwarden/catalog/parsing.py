"""What package-file parsers share: the record they return, and decoding JSON, TOML and YAML
with one clear CatalogError per broken file."""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from typing import Any

import yaml

from stackwarden.core.errors import CatalogError

# libyaml's C loader: several times faster than the pure-Python one on big lockfiles.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True, slots=True)
class Found:
    """One package a file records, before it becomes a Package: its name as the file spells
    it, version, declared licenses and format-specific extras (dev flag, alias, hashes...)."""

    name: str
    version: str
    licenses: tuple[str, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)


def load_json(data: bytes, path: str) -> Any:
    """Decode JSON (UTF-8/16/32, BOM tolerated); garbage becomes a CatalogError naming the file."""
    try:
        return json.loads(data)
    except UnicodeDecodeError as exc:
        raise CatalogError(f"not JSON text: {exc.reason} at byte {exc.start}",
                           source=path) from exc
    except ValueError as exc:
        raise CatalogError(f"not valid JSON: {exc}", source=path) from exc
    except RecursionError as exc:
        raise CatalogError("JSON nested too deeply to be a package file", source=path) from exc


def load_json_object(data: bytes, path: str) -> dict[str, Any]:
    """A JSON document that must be an object."""
    doc = load_json(data, path)
    if not isinstance(doc, dict):
        raise CatalogError(f"expected a JSON object, found {type(doc).__name__}", source=path)
    return doc


def load_toml(data: bytes, path: str) -> dict[str, Any]:
    """A TOML document; bad UTF-8 or bad TOML becomes a CatalogError naming the file."""
    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise CatalogError(f"not UTF-8 text: {exc.reason} at byte {exc.start}",
                           source=path) from exc
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"not valid TOML: {exc}", source=path) from exc
    except RecursionError as exc:
        raise CatalogError("TOML nested too deeply to be a package file", source=path) from exc


def load_yaml_mapping(text: str, path: str) -> dict[Any, Any]:
    """A YAML document that must be a mapping, read with the safe (C) loader only."""
    try:
        doc = yaml.load(text, Loader=_YAML_LOADER)
    except yaml.YAMLError as exc:
        raise CatalogError(f"not valid YAML: {str(exc).splitlines()[0]}", source=path) from exc
    except RecursionError as exc:
        raise CatalogError("YAML nested too deeply to be a package file", source=path) from exc
    if not isinstance(doc, dict):
        raise CatalogError("expected a YAML mapping", source=path)
    return doc
