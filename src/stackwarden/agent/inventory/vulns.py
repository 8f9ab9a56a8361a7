"""The host's vulnerabilities: its package inventory through the same matcher as images."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stackwarden.agent.inventory.packages import os_sbom
from stackwarden.vulndb.match import MatchResult


def host_vulnerabilities(root: str = "/", db_path: Path | None = None, *,
                         all_packages: bool = False, ignore_unfixed: bool = False
                         ) -> MatchResult:
    """Match the root's packages (OS packages, or every ecosystem with all_packages) against
    the vulnerability database (`db update` writes the default one)."""
    from stackwarden.vulndb.match import match_sbom
    from stackwarden.vulndb.store import VulnDB, default_db_path

    sbom = os_sbom(root, all_packages=all_packages)
    with VulnDB(db_path or default_db_path()) as db:
        return match_sbom(sbom, db, ignore_unfixed=ignore_unfixed)


def vulnerabilities_dict(result: MatchResult, root: str) -> dict[str, Any]:
    """The JSON form: findings as every report writes them, counts by severity."""
    from stackwarden.report.findings_dict import finding_to_dict

    counts: dict[str, int] = {}
    for finding in result.findings:
        counts[str(finding.severity)] = counts.get(str(finding.severity), 0) + 1
    return {"schema_version": "1.0", "root": root, "summary": counts,
            "findings": [finding_to_dict(f) for f in result.findings],
            "unmatched": [{"package": p.name, "reason": r} for p, r in result.unmatched]}


def vulnerabilities_table(result: MatchResult) -> bytes:
    """One row per finding: severity, id, package, installed version, fixed versions."""
    rows = [("SEVERITY", "ID", "PACKAGE", "VERSION", "FIXED IN")]
    rows += [(str(f.severity), f.id, f.package.name if f.package else "-",
              f.package.version if f.package else "-", ", ".join(f.fixed_versions) or "-")
             for f in result.findings]
    if len(rows) == 1:
        return b"no known vulnerabilities\n"
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    return ("\n".join("  ".join([*(r[i].ljust(widths[i]) for i in range(4)), r[4]])
                      for r in rows) + "\n").encode()
