"""Alpine's security database (secdb JSON): fixed versions per package per branch."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from stackwarden.vulndb.model import Advisory, Affected, Range
from stackwarden.vulndb.sources.base import BadRecord, SourceReader


def secdb_files(path: Path) -> list[Path]:
    """The secdb JSON files under a path (`v3.20/main.json`, …) or the path itself."""
    if path.is_file():
        return [path]
    return sorted(p for p in path.rglob("*.json") if p.is_file())


class AlpineSecdbReader(SourceReader):
    """One advisory per (branch, package, CVE): affected from 0 up to the fixing release.

    secdb lists a CVE under version "0" when the package was never affected; those are
    recorded as not affecting anything (no range), so they never match.
    """

    kind = "alpine-secdb"

    def read(self, path: Path) -> Iterator[Advisory | BadRecord]:
        for file in secdb_files(path):
            try:
                doc: Any = json.loads(file.read_bytes())
            except (ValueError, OSError) as exc:
                yield BadRecord(f"not valid JSON: {str(exc)[:160]}", str(file))
                continue
            if not isinstance(doc, dict) or not isinstance(doc.get("packages"), list):
                yield BadRecord("not an Alpine secdb document (no packages list)", str(file))
                continue
            branch = str(doc.get("distroversion", ""))
            repo = str(doc.get("reponame", ""))
            for item in doc["packages"]:
                pkg = item.get("pkg") if isinstance(item, dict) else None
                if not isinstance(pkg, dict) or not isinstance(pkg.get("name"), str):
                    yield BadRecord("package entry without a name", str(file))
                    continue
                yield from self._advisories(pkg, branch, repo, str(file))

    def _advisories(self, pkg: dict[str, Any], branch: str, repo: str,
                    where: str) -> Iterator[Advisory | BadRecord]:
        fixes = pkg.get("secfixes") or {}
        if not isinstance(fixes, dict):
            yield BadRecord(f"secfixes of {pkg['name']} is not a mapping", where)
            return
        for version, ids in fixes.items():
            if not isinstance(ids, list):
                continue
            for raw_id in ids:
                if not isinstance(raw_id, str) or not raw_id.strip():
                    continue
                # entries look like "CVE-2021-1234" or "CVE-2021-1234 XSA-123"
                vuln_id, *others = raw_id.split()
                never = str(version) == "0"
                affected = Affected("Alpine", branch, pkg["name"],
                                    () if never else (Range("ECOSYSTEM",
                                                             (("introduced", "0"),
                                                              ("fixed", str(version)))),))
                yield Advisory(id=f"ALPINE-{branch}-{pkg['name']}-{vuln_id}",
                               source=f"{self.kind}:{branch}/{repo}",
                               aliases=(vuln_id, *others), affected=(affected,),
                               extra={"not_affected": never})
