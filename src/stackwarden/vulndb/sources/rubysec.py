"""RubySec advisories (YAML) for RubyGems."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from stackwarden.vulndb.model import UNAFFECTED_REQUIREMENTS, Advisory, Affected, Range
from stackwarden.vulndb.names import normalize_name
from stackwarden.vulndb.sources.base import BadRecord, FilePerRecordReader

_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class RubySecReader(FilePerRecordReader):
    """`gems/<gem>/*.yml`: affected unless a patched or unaffected requirement holds."""

    kind = "rubysec"

    def files(self, path: Path) -> list[Path]:
        if path.is_file():
            return [path]
        gems = path / "gems" if (path / "gems").is_dir() else path
        return sorted(gems.rglob("*.yml"))

    def parse(self, data: bytes, where: str) -> Advisory:
        try:
            doc = yaml.load(data, Loader=_LOADER)  # noqa: S506 - a safe loader
        except yaml.YAMLError as exc:
            raise BadRecord(f"not valid YAML: {str(exc).splitlines()[0]}", where) from exc
        if not isinstance(doc, dict) or not isinstance(doc.get("gem"), str):
            raise BadRecord("no gem name", where)
        ids = []
        if doc.get("cve"):
            ids.append(f"CVE-{doc['cve']}")
        if doc.get("ghsa"):
            ids.append(f"GHSA-{doc['ghsa']}")
        if not ids and doc.get("osvdb"):
            ids.append(f"OSVDB-{doc['osvdb']}")
        if not ids:
            raise BadRecord("no CVE, GHSA or OSVDB id", where)
        vuln_id = f"RUBYSEC-{doc['gem']}-{ids[0]}"
        requirements = tuple(str(r) for key in ("patched_versions", "unaffected_versions")
                             for r in doc.get(key) or [])
        severity: tuple[tuple[str, str], ...] = ()
        if isinstance(doc.get("cvss_v3"), (int, float)):
            severity = (("CVSS_V3_SCORE", str(doc["cvss_v3"])),)
        elif isinstance(doc.get("cvss_v2"), (int, float)):
            severity = (("CVSS_V2_SCORE", str(doc["cvss_v2"])),)
        related = doc.get("related") if isinstance(doc.get("related"), dict) else {}
        urls = [doc.get("url"), *(related.get("url") or [])]
        return Advisory(
            id=vuln_id, source=self.kind, aliases=tuple(ids), summary=str(doc.get("title", "")),
            details=str(doc.get("description", ""))[:20_000],
            published=str(doc.get("date", "")), severity=severity,
            references=tuple(u for u in urls if isinstance(u, str)),
            affected=(Affected("RubyGems", "", normalize_name("RubyGems", doc["gem"]),
                               (Range(UNAFFECTED_REQUIREMENTS, requirements=requirements),)),),
        )
