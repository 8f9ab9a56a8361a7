"""Re-match stored SBOMs and scan reports against the current database: what is new, what is fixed."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stackwarden.catalog.sbom_import import read_sbom_document
from stackwarden.core.errors import UsageError
from stackwarden.core.findings import Finding
from stackwarden.report.findings_dict import finding_to_dict
from stackwarden.vulndb.match import match_sbom
from stackwarden.vulndb.store import VulnDB, default_db_path


@dataclass
class RematchChange:
    """The difference between a stored report's findings and today's match."""

    path: Path
    new: list[Finding] = field(default_factory=list)
    fixed: list[tuple[str, str]] = field(default_factory=list)  # (id, package) no longer found
    unchanged: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"path": str(self.path), "new": [finding_to_dict(f) for f in self.new],
                "fixed": [{"id": i, "package": p} for i, p in self.fixed],
                "unchanged": self.unchanged}


def _previous(doc: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """fingerprint -> (id, package name) of the vulnerability findings a report recorded."""
    found = {}
    for item in doc.get("findings") or []:
        if isinstance(item, dict) and item.get("kind") == "vulnerability":
            package = (item.get("package") or {}).get("name", "")
            found[str(item.get("fingerprint", ""))] = (str(item.get("id", "")), package)
    return found


def rematch_files(paths: Sequence[Path], db_path: Path | None, *,
                  progress: Callable[[str, int, int], None] | None = None) -> list[RematchChange]:
    """Re-match each stored report or SBOM; no image is read."""
    changes = []
    with VulnDB(db_path or default_db_path()) as db:
        for number, path in enumerate(paths):
            if progress:
                progress(f"re-matching {path}", number, len(paths))
            try:
                doc = json.loads(path.read_bytes())
            except (OSError, ValueError) as exc:
                raise UsageError(f"cannot read: {str(exc)[:200]}", source=str(path)) from exc
            sbom = read_sbom_document(doc, str(path))
            before = _previous(doc) if isinstance(doc, dict) else {}
            now = match_sbom(sbom, db).findings
            change = RematchChange(path)
            seen = set()
            for finding in now:
                seen.add(finding.fingerprint)
                if finding.fingerprint in before:
                    change.unchanged += 1
                else:
                    change.new.append(finding)
            change.fixed = sorted(v for k, v in before.items() if k not in seen)
            changes.append(change)
    return changes
