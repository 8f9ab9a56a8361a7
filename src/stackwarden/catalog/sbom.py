"""Target to SBOM in one call, and the SBOM's documented JSON form (written and read back)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stackwarden.core.errors import UsageError
from stackwarden.core.models import (
    SBOM,
    ArtifactInfo,
    LayerInfo,
    Location,
    OSRelease,
    Package,
    PackageType,
    Skipped,
)

if TYPE_CHECKING:
    from stackwarden.artifact.targets import TargetOptions

SCHEMA_VERSION = "1.0"


def generate_sbom(target: str, *, options: TargetOptions | None = None,
                  catalogers: Sequence[str] = (),
                  progress: Callable[[str, int, int], None] | None = None) -> SBOM:
    """Open `target`, run the selected catalogers over it in one walk, return its SBOM."""
    # Imported here: every report that writes package JSON imports this module, and the
    # catalogers (every ecosystem's parsers) are only needed to make an SBOM.
    from stackwarden.artifact.targets import TargetOptions, open_target
    from stackwarden.catalog.engine import catalog_artifact
    from stackwarden.catalog.registry import select_catalogers

    options = options or TargetOptions()
    with open_target(target, options) as artifact:
        chosen = select_catalogers(artifact.info.kind, catalogers)
        return catalog_artifact(artifact, chosen, limits=options.limits, progress=progress)


def package_to_dict(pkg: Package) -> dict[str, Any]:
    """One package in the JSON form."""
    return {
        "id": pkg.id,
        "name": pkg.name,
        "version": pkg.version,
        "type": str(pkg.type),
        "purl": pkg.purl,
        "cpes": list(pkg.cpes),
        "licenses": list(pkg.licenses),
        "found_by": list(pkg.found_by),
        "locations": [{"path": loc.path, "layer": loc.layer} for loc in pkg.locations],
        "layer": pkg.layer,
        "source": ({"name": pkg.source_name, "version": pkg.source_version}
                   if pkg.source_name else None),
        "arch": pkg.arch,
        "files": list(pkg.files),
        "metadata": pkg.metadata,
    }


def sbom_to_dict(sbom: SBOM) -> dict[str, Any]:
    """The SBOM as the documented JSON object (`schema_version` first; see docs/inventory.md)."""
    art = sbom.artifact
    by_type = Counter(str(p.type) for p in sbom.packages)
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "stackwarden", "version": sbom.tool_version},
        "created": sbom.created,
        "artifact": {
            "kind": art.kind, "reference": art.reference, "name": art.name,
            "digest": art.digest, "config_digest": art.config_digest,
            "platform": art.platform, "repo_tags": list(art.repo_tags),
            "layers": [{"index": layer.index, "digest": layer.digest, "diff_id": layer.diff_id,
                        "size": layer.size, "media_type": layer.media_type,
                        "created_by": layer.created_by} for layer in art.layers],
        },
        "os": None if sbom.os is None else {
            "id": sbom.os.id, "version_id": sbom.os.version_id,
            "version_codename": sbom.os.version_codename, "name": sbom.os.name,
            "pretty_name": sbom.os.pretty_name, "id_like": list(sbom.os.id_like),
            "source": sbom.os.source},
        "summary": {"packages": len(sbom.packages), "by_type": dict(sorted(by_type.items())),
                    "skipped": len(sbom.skipped)},
        "packages": [package_to_dict(p) for p in sbom.packages],
        "skipped": [{"path": s.path, "reason": s.reason, "by": s.by} for s in sbom.skipped],
        "catalogers": list(sbom.catalogers),
        "timings": {k: round(v, 4) for k, v in sbom.timings.items()},
    }


def package_from_dict(raw: dict[str, Any]) -> Package:
    """A package from its JSON form (the inverse of `package_to_dict`)."""
    source = raw.get("source") or {}
    return Package(
        name=raw["name"], version=raw["version"], type=PackageType(raw["type"]),
        purl=raw.get("purl", ""), found_by=tuple(raw.get("found_by", ())),
        locations=tuple(Location(loc["path"], loc.get("layer")) for loc in raw.get("locations", ())),
        licenses=tuple(raw.get("licenses", ())), cpes=tuple(raw.get("cpes", ())),
        source_name=source.get("name"), source_version=source.get("version"),
        arch=raw.get("arch"), layer=raw.get("layer"), files=tuple(raw.get("files", ())),
        metadata=dict(raw.get("metadata") or {}),
    )


def sbom_from_dict(doc: dict[str, Any], *, where: str = "SBOM") -> SBOM:
    """Read back an SBOM written by `sbom_to_dict` (for re-matching without the image)."""
    if not isinstance(doc, dict) or "packages" not in doc or "artifact" not in doc:
        raise UsageError("not a StackWarden SBOM (no artifact/packages)", source=where)
    major = str(doc.get("schema_version", "")).split(".")[0]
    if major != SCHEMA_VERSION.split(".")[0]:
        raise UsageError(f"unsupported schema_version {doc.get('schema_version')!r}",
                         source=where)
    try:
        art = doc["artifact"]
        info = ArtifactInfo(
            kind=art["kind"], reference=art["reference"], name=art.get("name", ""),
            digest=art.get("digest"), config_digest=art.get("config_digest"),
            platform=art.get("platform"), repo_tags=tuple(art.get("repo_tags", ())),
            layers=tuple(LayerInfo(layer["index"], layer["digest"], layer["diff_id"],
                                   layer.get("size", 0), layer.get("media_type", ""),
                                   layer.get("created_by", "")) for layer in art.get("layers", ())))
        os_raw = doc.get("os")
        os_release = None if not os_raw else OSRelease(
            id=os_raw["id"], version_id=os_raw.get("version_id", ""),
            version_codename=os_raw.get("version_codename", ""), name=os_raw.get("name", ""),
            pretty_name=os_raw.get("pretty_name", ""), id_like=tuple(os_raw.get("id_like", ())),
            source=os_raw.get("source", ""))
        return SBOM(artifact=info, packages=tuple(package_from_dict(p) for p in doc["packages"]),
                    os=os_release,
                    skipped=tuple(Skipped(s["path"], s["reason"], s.get("by", ""))
                                  for s in doc.get("skipped", ())),
                    catalogers=tuple(doc.get("catalogers", ())), created=doc.get("created", ""),
                    tool_version=(doc.get("tool") or {}).get("version", ""))
    except (KeyError, TypeError, ValueError) as exc:
        raise UsageError(f"malformed SBOM: {type(exc).__name__}: {exc}", source=where) from exc


def load_sbom(path: Path) -> SBOM:
    """Read an SBOM JSON file written by `stackwarden sbom --format json`."""
    try:
        doc = json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read SBOM: {exc}", source=str(path)) from exc
    return sbom_from_dict(doc, where=str(path))
