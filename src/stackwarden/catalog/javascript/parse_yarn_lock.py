"""yarn.lock: the classic v1 format (yarn 1.x) and berry's YAML (yarn 2+, `__metadata:`).

Classic entries are `"spec, spec":` headers with indented `version "x"` / `resolved "url"`
lines. Berry entries carry `version:` and `resolution: "name@protocol:reference"`: the
resolution names the real package (an `npm:` alias key does not), `patch:` resolutions repeat
a package with a patch applied, and `workspace:` ones are the project's own packages.
"""

from __future__ import annotations

from typing import Any

from stackwarden.catalog.javascript.common import LOCAL_PREFIXES, split_spec
from stackwarden.catalog.parsing import Found, load_yaml_mapping
from stackwarden.core.errors import CatalogError

LOCAL_VERSION = "0.0.0-use.local"  # what berry writes for workspaces, link: and portal:


def _unquote(value: str) -> str:
    value = value.strip()
    return value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value


def _classic_name(header: str) -> tuple[str, str | None]:
    """The package name of a classic entry's first spec, and the alias it was installed as
    (`string-width-cjs@npm:string-width@^4` -> `string-width`, alias `string-width-cjs`)."""
    first_spec = _unquote(header.rstrip(":").split(",")[0])
    name, spec = split_spec(first_spec)
    if spec.startswith("npm:"):
        real, _ = split_spec(spec[4:])
        if real and real != name:
            return real, name
    return name, None


def parse_classic(text: str) -> list[Found]:
    """yarn 1.x: walk the entries line by line (the format is not YAML)."""
    found: dict[tuple[str, str], Found] = {}
    name: str | None = None
    alias: str | None = None
    fields: dict[str, str] = {}

    def flush() -> None:
        version = fields.get("version", "")
        if name and version and not version.startswith(LOCAL_PREFIXES):
            metadata: dict[str, Any] = {k: v for k, v in fields.items()
                                        if k in ("resolved", "integrity")}
            if alias:
                metadata["alias"] = alias
            found.setdefault((name, version), Found(name, version, metadata=metadata))

    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line[0] not in " \t":
            flush()
            fields = {}
            header = line.rstrip().endswith(":")
            name, alias = _classic_name(line.strip()) if header else (None, None)
            continue
        if name is None or line.startswith(("    ", "\t\t")):
            continue  # nested blocks (dependencies:) say nothing about this entry's identity
        key, _, value = line.strip().partition(" ")
        if key in ("version", "resolved", "integrity"):
            fields[key] = _unquote(value)
    flush()
    return list(found.values())


def _resolution_name(resolution: str) -> tuple[str, str]:
    """`@s/x@npm:1.0.0` -> (`@s/x`, `npm`); `x@patch:x@npm%3A1.0#...` -> (`x`, `patch`)."""
    name, reference = split_spec(resolution)
    protocol = reference.partition(":")[0] if ":" in reference else ""
    return name, protocol


def parse_berry(text: str, path: str) -> list[Found]:
    """yarn 2+: a YAML mapping from spec lists to entries."""
    doc = load_yaml_mapping(text, path)
    found: dict[tuple[str, str], Found] = {}
    for key, entry in doc.items():
        if key == "__metadata" or not isinstance(entry, dict):
            continue
        version = entry.get("version")
        resolution = entry.get("resolution")
        if not isinstance(version, str | int | float) or not isinstance(resolution, str):
            continue
        version = str(version)
        name, protocol = _resolution_name(resolution)
        if not name or version == LOCAL_VERSION or protocol in ("workspace", "link", "portal"):
            continue
        metadata: dict[str, Any] = {"resolution": resolution}
        if protocol == "patch":
            metadata["patched"] = True
        if isinstance(entry.get("checksum"), str):
            metadata["checksum"] = entry["checksum"]
        alias = split_spec(str(key).split(",")[0].strip())[0]
        if alias and alias != name:
            metadata["alias"] = alias
        seen = found.get((name, version))
        if seen is None:
            found[(name, version)] = Found(name, version, metadata=metadata)
        elif protocol == "patch":
            seen.metadata["patched"] = True  # the patched build is what gets installed
        elif seen.metadata.get("patched"):
            found[(name, version)] = Found(name, version, metadata={**metadata, "patched": True})
    return list(found.values())


def parse_yarn_lock(data: bytes, path: str) -> list[Found]:
    """Every package of a yarn.lock, classic or berry."""
    text = data.decode("utf-8", "replace")
    head = text[:4096]
    if "__metadata:" in head:
        return parse_berry(text, path)
    if "\0" in head:
        raise CatalogError("binary data, not a yarn.lock", source=path)
    return parse_classic(text)
