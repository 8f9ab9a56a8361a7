"""Build small vulnerability databases from OSV dictionaries for tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from stackwarden.core.models import Location, OSRelease, Package, PackageType
from stackwarden.vulndb.build import build_database
from stackwarden.vulndb.store import VulnDB


def make_db(tmp_path: Path, records: list[dict[str, Any]], *, extra: list[str] = ()) -> VulnDB:
    """A database built from OSV records written to a temporary directory."""
    src = tmp_path / "osv"
    src.mkdir(exist_ok=True)
    for i, record in enumerate(records):
        (src / f"{i:04d}-{record.get('id', 'x')}.json").write_text(json.dumps(record))
    out = tmp_path / "vulndb.sqlite"
    build_database([str(src), *extra], out)
    return VulnDB(out)


def osv(vuln_id: str, ecosystem: str, name: str, *events: tuple[str, str],
        range_type: str = "ECOSYSTEM", aliases: tuple[str, ...] = (),
        versions: tuple[str, ...] = (), **fields: Any) -> dict[str, Any]:
    """An OSV record with one affected package and one range."""
    affected: dict[str, Any] = {"package": {"name": name, "ecosystem": ecosystem}}
    if events:
        affected["ranges"] = [{"type": range_type,
                               "events": [{k: v} for k, v in events]}]
    if versions:
        affected["versions"] = list(versions)
    return {"id": vuln_id, "aliases": list(aliases), "modified": "2024-01-01T00:00:00Z",
            "affected": [affected], **fields}


def pkg(name: str, version: str, type_: PackageType = PackageType.PYTHON, *,
        source: tuple[str, str] | None = None, path: str = "/x", **meta: Any) -> Package:
    """A package as a cataloger would report it."""
    return Package(name=name, version=version, type=type_, purl=f"pkg:generic/{name}@{version}",
                   found_by=("test",), locations=(Location(path),),
                   source_name=source[0] if source else None,
                   source_version=source[1] if source else None, metadata=dict(meta))


DEBIAN_12 = OSRelease(id="debian", version_id="12", version_codename="bookworm")
ALPINE_320 = OSRelease(id="alpine", version_id="3.20.3")
