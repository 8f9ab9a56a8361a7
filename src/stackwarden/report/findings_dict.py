"""Findings and scan results as plain dictionaries (the JSON report's building blocks)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from stackwarden.core.findings import Finding, FindingKind, Severity

if TYPE_CHECKING:
    from stackwarden.scan import ScanResult, Suppressed

SCAN_SCHEMA_VERSION = "1.1"
SEVERITIES = tuple(sorted(Severity, key=lambda s: -s.rank))  # worst first
# The scanner (`--scanners` name) that produces each kind of finding.
SCANNER_OF_KIND = {FindingKind.VULNERABILITY: "vuln", FindingKind.SECRET: "secret",
                   FindingKind.MALWARE: "malware", FindingKind.MISCONFIGURATION: "misconfig",
                   FindingKind.LICENSE: "license"}
KIND_OF_SCANNER = {v: k for k, v in SCANNER_OF_KIND.items()}
_KIND_ORDER = {k: i for i, k in enumerate(FindingKind)}


def finding_sort_key(f: Finding) -> tuple[Any, ...]:
    """Worst first, then kind, id, package and place: the order every report uses."""
    loc = f.location
    return (-f.severity.rank, _KIND_ORDER[f.kind], f.id, f.package.name if f.package else "",
            f.package.version if f.package else "", loc.path, loc.line or 0, f.fingerprint)


def sorted_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Findings in report order (deterministic whatever order the scanners produced)."""
    return sorted(findings, key=finding_sort_key)


def sorted_suppressed(suppressed: Iterable[Suppressed]) -> list[Suppressed]:
    """Suppressed findings in report order."""
    return sorted(suppressed, key=lambda s: finding_sort_key(s.finding))


def kinds_in(result: ScanResult) -> list[FindingKind]:
    """Every kind of finding the scan could produce: its scanners' kinds plus any found."""
    kinds = {KIND_OF_SCANNER[s] for s in result.scanners if s in KIND_OF_SCANNER}
    kinds.update(f.kind for f in result.findings)
    kinds.update(s.finding.kind for s in result.suppressed)
    return [k for k in FindingKind if k in kinds]


def finding_to_dict(f: Finding) -> dict[str, Any]:
    """One finding in the documented JSON form."""
    loc = f.location
    return {
        "kind": str(f.kind),
        "id": f.id,
        "aliases": list(f.aliases),
        "title": f.title,
        "message": str(f.evidence.get("message") or f.title),
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


def suppression_info(s: Suppressed) -> dict[str, str]:
    """Why and by what a finding was suppressed: source, origin, VEX status and justification.

    Suppressions made by a scanner itself (e.g. `--ignore-unfixed`) have source "scanner".
    """
    from stackwarden.policy.model import PolicySuppressed

    if isinstance(s, PolicySuppressed):
        return {"reason": s.reason, "source": s.source, "origin": s.origin,
                "status": s.status, "justification": s.justification, "expires": s.expires}
    return {"reason": s.reason, "source": "scanner", "origin": "", "status": "",
            "justification": "", "expires": ""}


def finding_from_dict(raw: dict[str, Any]) -> Finding:
    """Read back a finding written by `finding_to_dict` (caches, stored reports)."""
    from stackwarden.core.findings import (
        CvssScore,
        FindingKind,
        FindingLocation,
        PackageRef,
    )

    loc = raw.get("location") or {}
    pkg = raw.get("package")
    epss = raw.get("epss")
    return Finding(
        kind=FindingKind(raw["kind"]), id=raw["id"], title=raw.get("title", ""),
        severity=Severity(raw.get("severity", "unknown")),
        location=FindingLocation(path=loc.get("path", ""), line=loc.get("line"),
                                 end_line=loc.get("end_line"), layer=loc.get("layer"),
                                 commit=loc.get("commit"), resource=loc.get("resource")),
        package=None if not pkg else PackageRef(pkg["name"], pkg["version"], pkg.get("type", ""),
                                                pkg.get("purl", "")),
        aliases=tuple(raw.get("aliases", ())), description=raw.get("description", ""),
        fixed_versions=tuple(raw.get("fixed_versions", ())), status=raw.get("status", ""),
        references=tuple(raw.get("references", ())),
        cvss=tuple(CvssScore(c["version"], c["vector"], c["score"], c.get("source", ""))
                   for c in raw.get("cvss", ())),
        epss=(epss["probability"], epss["percentile"]) if epss else None,
        kev_due=(raw.get("kev") or {}).get("due_date"), remediation=raw.get("remediation", ""),
        controls=tuple(raw.get("controls", ())), evidence=dict(raw.get("evidence") or {}),
        fingerprint=raw.get("fingerprint", ""),
    )


def severity_counts(findings: Iterable[Finding]) -> dict[str, int]:
    """Findings per severity, worst first, every level present."""
    counts = Counter(f.severity for f in findings)
    return {str(s): counts.get(s, 0) for s in SEVERITIES}


def kind_severity_counts(result: ScanResult) -> dict[str, dict[str, int]]:
    """For each kind of finding the scan covers: findings per severity."""
    return {str(k): severity_counts(f for f in result.findings if f.kind is k)
            for k in kinds_in(result)}


def scan_to_dict(result: ScanResult) -> dict[str, Any]:
    """The whole scan report (`schema_version` first; schema in docs/report.schema.json)."""
    from stackwarden.catalog.sbom import sbom_to_dict

    sbom = sbom_to_dict(result.sbom)
    art = sbom["artifact"]
    return {
        "schema_version": SCAN_SCHEMA_VERSION,
        "tool": {"name": "stackwarden", "version": result.tool_version},
        "created": result.created,
        "target": result.target,
        "artifact_digest": art["digest"] or art["config_digest"],
        "artifact": art,
        "os": sbom["os"],
        "scanners": list(result.scanners),
        "database": result.database,
        "summary": {
            "findings": len(result.findings),
            "by_severity": severity_counts(result.findings),
            "by_kind": dict(sorted(Counter(str(f.kind) for f in result.findings).items())),
            "by_kind_and_severity": kind_severity_counts(result),
            "suppressed": len(result.suppressed),
            "suppressed_by_source": dict(sorted(Counter(
                suppression_info(s)["source"] for s in result.suppressed).items())),
            "skipped": len(result.skipped),
            "packages": len(result.sbom.packages),
            "warnings": len(result.warnings),
        },
        "findings": [finding_to_dict(f) for f in sorted_findings(result.findings)],
        "suppressed": [{**suppression_info(s), "finding": finding_to_dict(s.finding)}
                       for s in sorted_suppressed(result.suppressed)],
        "skipped": [{"path": s.path, "reason": s.reason, "by": s.by} for s in result.skipped],
        "warnings": list(result.warnings),
        "timings": {k: round(v, 4) for k, v in result.timings.items()},
        "sbom": {"packages": sbom["packages"], "catalogers": sbom["catalogers"]},
    }
