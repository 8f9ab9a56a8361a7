"""The Node.js security working group's npm advisories (JSON with node-semver ranges)."""

from __future__ import annotations

import json
from pathlib import Path

from stackwarden.vulndb.model import AFFECTED_REQUIREMENTS, Advisory, Affected, Range
from stackwarden.vulndb.names import normalize_name
from stackwarden.vulndb.sources.base import BadRecord, FilePerRecordReader


class NodejsWGReader(FilePerRecordReader):
    """`vuln/npm/<n>.json`: affected when the version satisfies `vulnerable_versions`."""

    kind = "nodejs-wg"

    def files(self, path: Path) -> list[Path]:
        if path.is_file():
            return [path]
        npm = path / "vuln" / "npm" if (path / "vuln" / "npm").is_dir() else path
        return sorted((p for p in npm.glob("*.json") if p.stem != "index"),
                      key=lambda p: (len(p.stem), p.stem))

    def parse(self, data: bytes, where: str) -> Advisory:
        try:
            doc = json.loads(data)
        except ValueError as exc:
            raise BadRecord(f"not valid JSON: {str(exc)[:160]}", where) from exc
        if not isinstance(doc, dict) or not isinstance(doc.get("module_name"), str):
            raise BadRecord("no module_name", where)
        vulnerable = doc.get("vulnerable_versions")
        if not isinstance(vulnerable, str) or not vulnerable.strip():
            raise BadRecord("no vulnerable_versions range", where)
        cves = tuple(c for c in doc.get("cves") or [] if isinstance(c, str))
        patched = doc.get("patched_versions") if isinstance(doc.get("patched_versions"),
                                                            str) else ""
        severity: tuple[tuple[str, str], ...] = ()
        if isinstance(doc.get("cvss_vector"), str) and doc["cvss_vector"].startswith("CVSS:3"):
            severity = (("CVSS_V3", doc["cvss_vector"]),)
        return Advisory(
            id=f"NSWG-ECO-{doc.get('id', Path(where).stem)}", source=self.kind, aliases=cves,
            summary=str(doc.get("title", "")), details=str(doc.get("overview", ""))[:20_000],
            published=str(doc.get("created_at", "")), modified=str(doc.get("updated_at", "")),
            severity=severity,
            references=tuple(r for r in str(doc.get("references", "")).split() if
                             r.startswith("http")),
            affected=(Affected("npm", "", normalize_name("npm", doc["module_name"]), (Range(
                AFFECTED_REQUIREMENTS, events=(("fixed", str(patched)),) if patched else (),
                requirements=(vulnerable,)),)),),
        )
