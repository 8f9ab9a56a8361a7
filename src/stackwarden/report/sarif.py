"""SARIF 2.1.0 for code-scanning services (GitHub code scanning ingests exactly this shape).

One run; one rule per finding id with help text, a help link and GitHub's `security-severity`;
one result per finding with a physical location (the file, or for packages the file the package
was found in) and a region when the line is known, and `partialFingerprints` from the finding's
stable fingerprint so an alert survives rebuilds. Suppressed findings are results too, carrying
an external suppression with the reason (never silently dropped).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from stackwarden.core.findings import Finding, FindingKind, Severity, fingerprint
from stackwarden.report.findings_dict import (
    sorted_findings,
    sorted_suppressed,
    suppression_info,
)
from stackwarden.report.json_report import dump
from stackwarden.report.text import advisory_url, http_links, location_text, security_score

if TYPE_CHECKING:
    from stackwarden.scan import ScanResult, Suppressed

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://stackwarden.dev"
FINGERPRINT_KEY = "stackwarden/v1"
MAX_NOTIFICATIONS = 1000
_LEVEL = {Severity.CRITICAL: "error", Severity.HIGH: "error", Severity.MEDIUM: "warning",
          Severity.LOW: "note", Severity.NEGLIGIBLE: "note", Severity.UNKNOWN: "note"}
# Characters a SARIF `uri` (an RFC 3986 reference) may carry unescaped in a path.
_URI_SAFE = "/:@!$&'()*+,;=-._~"


def _uri(path: str) -> str:
    """A relative URI reference for a path inside the artifact (image paths drop the leading /)."""
    path = path.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return quote(path.lstrip("/"), safe=_URI_SAFE) or "."


def _help(f: Finding) -> tuple[str, str]:
    """(text, markdown) help for a rule: remediation, fixed versions, references."""
    lines = [f.description.strip() or f.title]
    if f.remediation:
        lines.append(f"Remediation: {f.remediation}")
    if f.fixed_versions:
        lines.append(f"Fixed in: {', '.join(f.fixed_versions)}")
    if f.kev_due:
        lines.append(f"Known exploited (CISA KEV), remediation due {f.kev_due}.")
    refs = http_links(f.references)[:10]
    text = "\n\n".join(lines + (["References:\n" + "\n".join(refs)] if refs else []))
    markdown = "\n\n".join(
        [_md(line) for line in lines] + (["**References**\n\n" + "\n".join(
            f"- <{ref}>" for ref in refs)] if refs else []))
    return text, markdown


def _md(text: str) -> str:
    """Markdown-safe text: no raw HTML reaches a code-scanning UI from advisory prose."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _rule(f: Finding) -> dict[str, Any]:
    text, markdown = _help(f)
    tags = ["security", str(f.kind)]
    if f.in_kev:
        tags.append("kev")
    properties: dict[str, Any] = {"tags": tags, "precision": "very-high",
                                  "problem.severity": _LEVEL[f.severity]}
    score = security_score(f)
    if score is not None:
        properties["security-severity"] = f"{score:.1f}"
    rule: dict[str, Any] = {
        "id": f.id,
        "name": f.id,
        "shortDescription": {"text": f.title or f.id},
        "fullDescription": {"text": (f.description or f.title or f.id)[:4000]},
        "defaultConfiguration": {"level": _LEVEL[f.severity]},
        "help": {"text": text, "markdown": markdown},
        "properties": properties,
    }
    url = advisory_url(f)
    if url:
        rule["helpUri"] = url
    return rule


def _message(f: Finding) -> str:
    if f.kind is FindingKind.VULNERABILITY and f.package:
        fixed = f" (fixed in {', '.join(f.fixed_versions)})" if f.fixed_versions else ""
        return (f"{f.package.name} {f.package.version} is affected by {f.id}{fixed}: "
                f"{f.title}")
    where = location_text(f)
    return f"{f.title} ({f.id})" + (f" at {where}" if where else "")


def _location(f: Finding) -> dict[str, Any]:
    loc = f.location
    # No path (a cluster resource, say): "." keeps the result valid and attached to the scan.
    physical: dict[str, Any] = {"artifactLocation": {"uri": _uri(loc.path)}}
    if loc.line:
        region: dict[str, Any] = {"startLine": loc.line}
        if loc.end_line and loc.end_line >= loc.line:
            region["endLine"] = loc.end_line
        physical["region"] = region
    location: dict[str, Any] = {"physicalLocation": physical}
    logical = []
    if f.package:
        logical.append({"name": f.package.name, "kind": "package",
                        "fullyQualifiedName": f.package.purl or
                        f"{f.package.name}@{f.package.version}"})
    if loc.resource:
        logical.append({"name": loc.resource, "kind": "resource"})
    if logical:
        location["logicalLocations"] = logical
    return location


def _result(f: Finding, rule_index: int,
            suppression: Suppressed | None = None) -> dict[str, Any]:
    properties: dict[str, Any] = {"kind": str(f.kind), "severity": str(f.severity)}
    if f.package:
        properties["package"] = {"name": f.package.name, "version": f.package.version,
                                 "type": f.package.type, "purl": f.package.purl}
    if f.fixed_versions:
        properties["fixedVersions"] = list(f.fixed_versions)
    if f.location.layer:
        properties["layer"] = f.location.layer
    if f.location.commit:
        properties["commit"] = f.location.commit
    if f.aliases:
        properties["aliases"] = list(f.aliases)
    if f.kev_due:
        properties["kevDueDate"] = f.kev_due
    result: dict[str, Any] = {
        "ruleId": f.id,
        "ruleIndex": rule_index,
        "level": _LEVEL[f.severity],
        "message": {"text": _message(f)},
        "locations": [_location(f)],
        "partialFingerprints": {FINGERPRINT_KEY: f.fingerprint or fingerprint(
            str(f.kind), f.id, f.location.path, f.package.name if f.package else "")},
        "properties": properties,
    }
    if suppression is not None:
        info = suppression_info(suppression)
        result["suppressions"] = [{"kind": "external", "status": "accepted",
                                   "justification": info["reason"]}]
    return result


def _notifications(result: ScanResult) -> list[dict[str, Any]]:
    notes: list[dict[str, Any]] = [{"level": "warning", "message": {"text": w}}
                                   for w in result.warnings]
    notes += [{"level": "note", "message": {"text": f"skipped {s.path}: {s.reason}"},
               "locations": [{"physicalLocation": {"artifactLocation": {"uri": _uri(s.path)}}}]}
              for s in result.skipped[:MAX_NOTIFICATIONS]]
    if len(result.skipped) > MAX_NOTIFICATIONS:
        notes.append({"level": "note", "message": {
            "text": f"{len(result.skipped) - MAX_NOTIFICATIONS} more skipped files "
                    "(see the JSON report)"}})
    return notes


def build_sarif(result: ScanResult) -> dict[str, Any]:
    """The SARIF log as a dictionary."""
    rules: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    entries: list[tuple[Finding, Suppressed | None]] = [
        (f, None) for f in sorted_findings(result.findings)]
    entries += [(s.finding, s) for s in sorted_suppressed(result.suppressed)]
    results = []
    for f, suppression in entries:
        if f.id not in index:
            index[f.id] = len(rules)
            rules.append(_rule(f))
        results.append(_result(f, index[f.id], suppression))
    art = result.sbom.artifact
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "StackWarden", "version": result.tool_version,
                                "semanticVersion": result.tool_version,
                                "informationUri": INFORMATION_URI, "rules": rules}},
            "invocations": [{"executionSuccessful": True,
                             "toolExecutionNotifications": _notifications(result)}],
            "results": results,
            "properties": {"target": result.target, "artifactKind": art.kind,
                           "artifactDigest": art.digest or art.config_digest or "",
                           "scanners": list(result.scanners)},
        }],
    }


def render_scan(result: ScanResult) -> bytes:
    """SARIF 2.1.0 JSON."""
    return dump(build_sarif(result))
