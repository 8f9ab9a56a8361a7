"""GitLab's container-scanning security report (`artifacts:reports:container_scanning`).

The format of GitLab's security report schemas, version 15 (container-scanning-report-format):
`version`, `scan` (analyzer, scanner, type, start/end time, status, messages) and one entry per
vulnerable package with identifiers, links, severity, solution and a location of dependency,
operating system and image (GitLab tracks a vulnerability by operating system + package name).
Only package vulnerabilities have such a location; other findings are counted in a scan message
(they reach GitLab through the JUnit report).
"""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from stackwarden.core.findings import Finding, FindingKind, Severity
from stackwarden.report.findings_dict import sorted_findings
from stackwarden.report.json_report import dump
from stackwarden.report.text import http_links

if TYPE_CHECKING:
    from stackwarden.scan import ScanResult

SCHEMA_VERSION = "15.0.6"
SCHEMA_URL = ("https://gitlab.com/gitlab-org/security-products/security-report-schemas/-/raw/"
              f"v{SCHEMA_VERSION}/dist/container-scanning-report-format.json")
MAX_VULNERABILITIES = 10_000
_SEVERITY = {Severity.CRITICAL: "Critical", Severity.HIGH: "High", Severity.MEDIUM: "Medium",
             Severity.LOW: "Low", Severity.NEGLIGIBLE: "Info", Severity.UNKNOWN: "Unknown"}
_ID_TYPES = (("CVE-", "cve", "https://nvd.nist.gov/vuln/detail/{}"),
             ("GHSA-", "ghsa", "https://github.com/advisories/{}"),
             ("USN-", "usn", "https://ubuntu.com/security/notices/{}"),
             ("RHSA-", "rhsa", "https://access.redhat.com/errata/{}"))
_TIME = "%Y-%m-%dT%H:%M:%S"


def _identifier(vuln_id: str) -> dict[str, str]:
    for prefix, kind, url in _ID_TYPES:
        if vuln_id.upper().startswith(prefix):
            return {"type": kind, "name": vuln_id, "value": vuln_id, "url": url.format(vuln_id)}
    kind = re.sub(r"[^a-z0-9]+", "_", vuln_id.split("-")[0].lower()).strip("_") or "id"
    return {"type": kind, "name": vuln_id, "value": vuln_id,
            "url": f"https://osv.dev/vulnerability/{vuln_id}"}


def _operating_system(result: ScanResult) -> str:
    os_release = result.sbom.os
    if os_release is None:
        return "unknown"
    return f"{os_release.id}:{os_release.version_id}" if os_release.version_id else os_release.id


def _vulnerability(f: Finding, image: str, operating_system: str) -> dict[str, Any]:
    assert f.package is not None
    ids = [f.id, *f.aliases][:20]
    solution = f.remediation or (f"Upgrade {f.package.name} to {' or '.join(f.fixed_versions)}"
                                 if f.fixed_versions else "")
    vulnerability: dict[str, Any] = {
        # A UUID derived from the fingerprint: the same finding keeps its id across pipelines.
        "id": str(uuid.UUID(hashlib.sha256(
            (f.fingerprint or f"{f.id}|{f.package.purl}").encode()).hexdigest()[:32])),
        "name": (f.title or f.id)[:255],
        "description": (f.description or f.title)[:1_048_576],
        "severity": _SEVERITY[f.severity],
        "identifiers": [_identifier(i) for i in ids],
        "location": {
            "dependency": {"package": {"name": f.package.name}, "version": f.package.version},
            "operating_system": operating_system,
            "image": image,
        },
    }
    links = [{"url": u} for u in http_links(f.references)[:20]]
    if links:
        vulnerability["links"] = links
    if solution:
        vulnerability["solution"] = solution[:7000]
    return vulnerability


def _times(result: ScanResult) -> tuple[str, str]:
    try:
        end = datetime.strptime(result.created[:19], _TIME)
    except ValueError:
        end = datetime(1970, 1, 1)
    start = end - timedelta(seconds=result.timings.get("total", 0.0))
    return start.strftime(_TIME), end.strftime(_TIME)


def build_report(result: ScanResult) -> dict[str, Any]:
    """The container-scanning report as a dictionary."""
    art = result.sbom.artifact
    image = art.name or art.reference or result.target
    operating_system = _operating_system(result)
    packaged = [f for f in sorted_findings(result.findings)
                if f.kind is FindingKind.VULNERABILITY and f.package is not None]
    others = len(result.findings) - len(packaged)
    messages = [{"level": "warn", "value": w} for w in result.warnings]
    if others:
        messages.append({"level": "info", "value": f"{others} findings without a package "
                         "(secrets, malware, misconfigurations) are in the JUnit and JSON "
                         "reports"})
    if len(packaged) > MAX_VULNERABILITIES:
        messages.append({"level": "warn", "value": f"{len(packaged) - MAX_VULNERABILITIES} "
                         "vulnerabilities over the report's limit are in the JSON report"})
    tool = {"id": "stackwarden", "name": "StackWarden", "url": "https://stackwarden.dev",
            "version": result.tool_version or "unknown", "vendor": {"name": "StackWarden"}}
    start, end = _times(result)
    return {
        "version": SCHEMA_VERSION,
        "schema": SCHEMA_URL,
        "scan": {"analyzer": tool, "scanner": tool, "type": "container_scanning",
                 "start_time": start, "end_time": end, "status": "success",
                 "messages": messages},
        "vulnerabilities": [_vulnerability(f, image, operating_system)
                            for f in packaged[:MAX_VULNERABILITIES]],
    }


def render_scan(result: ScanResult) -> bytes:
    """The report as JSON (write it to gl-container-scanning-report.json)."""
    return dump(build_report(result))
