"""Findings and scan results as plain dictionaries (the JSON report's building blocks)."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from stackwarden.core.findings import Finding, Severity

if TYPE_CHECKING:
    from stackwarden.scan import ScanResult

SCAN_SCHEMA_VERSION = "1.0"


def finding_to_dict(f: Finding) -> dict[str, Any]:
    """One finding in the documented JSON form."""
    loc = f.location
    return {
        "kind": str(f.kind),
        "id": f.id,
        "aliases": list(f.aliases),
        "title": f.title,
        "severity": str(f.severity),
        "package": None if f.package is None else {
            "name": f.package.name, "version": f.package.version, "type": f.package.type,
            "purl": f.package.purl},
        "fixed_versions": list(f.fixed_versions),
        "status": f.status,
        "location": {"path": loc.path, "line": loc.line, "end_line": loc.end_line,
                     "layer": loc.layer, "commit": loc.commit, "resource": loc.resource},
        "cvss": [{"version": c.version, "vector": c.vector, "score": c.score, "source": c.source}
                 for c in f.cvss],
        "epss": None if f.epss is None else {"probability": f.epss[0],
                                             "percentile": f.epss[1]},
        "kev": None if f.kev_due is None else {"due_date": f.kev_due},
        "references": list(f.references),
        "description": f.description,
        "remediation": f.remediation,
        "controls": list(f.controls),
        "fingerprint": f.fingerprint,
        "evidence": f.evidence,
    }


def severity_counts(findings: list[Finding]) -> dict[str, int]:
    """Findings per severity, worst first, every level present."""
    counts = Counter(f.severity for f in findings)
    return {str(s): counts.get(s, 0) for s in sorted(Severity, key=lambda s: -s.rank)}


def scan_to_dict(result: ScanResult) -> dict[str, Any]:
    """The whole scan report (`schema_version` first; documented in docs/scanning.md)."""
    from stackwarden.catalog.sbom import sbom_to_dict

    sbom = sbom_to_dict(result.sbom)
    return {
        "schema_version": SCAN_SCHEMA_VERSION,
        "tool": {"name": "stackwarden", "version": result.tool_version},
        "created": result.created,
        "target": result.target,
        "artifact": sbom["artifact"],
        "os": sbom["os"],
        "scanners": list(result.scanners),
        "database": result.database,
        "summary": {
            "findings": len(result.findings),
            "by_severity": severity_counts(result.findings),
            "by_kind": dict(sorted(Counter(str(f.kind) for f in result.findings).items())),
            "suppressed": len(result.suppressed),
            "skipped": len(result.skipped),
            "packages": len(result.sbom.packages),
        },
        "findings": [finding_to_dict(f) for f in result.findings],
        "suppressed": [{"reason": s.reason, "finding": finding_to_dict(s.finding)}
                       for s in result.suppressed],
        "skipped": [{"path": s.path, "reason": s.reason, "by": s.by} for s in result.skipped],
        "warnings": list(result.warnings),
        "timings": {k: round(v, 4) for k, v in result.timings.items()},
        "sbom": {"packages": sbom["packages"], "catalogers": sbom["catalogers"]},
    }
