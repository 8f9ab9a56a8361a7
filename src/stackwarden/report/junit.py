"""JUnit XML, the test-result format Jenkins, GitLab and most CI systems display.

One `<testsuite>` per kind of finding (per scanner). Every finding is one failing test case, every
suppressed finding a skipped one (the reason is the skip message). So that CI shows real counts,
each package without vulnerabilities is a passing test case in the vulnerability suite, and a
scanner that found nothing contributes one passing test case.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

from stackwarden.core.findings import Finding, FindingKind
from stackwarden.report.findings_dict import (
    SCANNER_OF_KIND,
    kinds_in,
    sorted_findings,
    sorted_suppressed,
    suppression_info,
)
from stackwarden.report.text import http_links, location_text, xml_text

if TYPE_CHECKING:
    from stackwarden.core.models import Package
    from stackwarden.scan import ScanResult

MAX_DETAIL = 4000


def _name(f: Finding) -> str:
    if f.package:
        return f"{f.id} in {f.package.name} {f.package.version}"
    where = location_text(f)
    return f"{f.id} at {where}" if where else f.id


def _classname(kind: FindingKind, f: Finding | None = None, pkg: Package | None = None) -> str:
    scope = (pkg.name if pkg else f.package.name if f and f.package
             else f.location.path if f else "")
    return f"stackwarden.{kind}" + (f".{scope}" if scope else "")


def _details(f: Finding) -> str:
    lines = [f"{f.severity.upper()} {f.kind} {f.id}: {f.title}"]
    if f.aliases:
        lines.append(f"aliases: {', '.join(f.aliases)}")
    if f.package:
        lines.append(f"package: {f.package.name} {f.package.version} ({f.package.type}) "
                     f"{f.package.purl}".rstrip())
    if f.fixed_versions:
        lines.append(f"fixed in: {', '.join(f.fixed_versions)}")
    if location_text(f):
        lines.append(f"location: {location_text(f)}")
    if f.location.layer:
        lines.append(f"layer: {f.location.layer}")
    if f.kev_due:
        lines.append(f"known exploited (CISA KEV), due {f.kev_due}")
    if f.remediation:
        lines.append(f"remediation: {f.remediation}")
    if f.description:
        lines.append("")
        lines.append(f.description[:MAX_DETAIL])
    lines += [f"see {u}" for u in http_links(f.references)[:5]]
    return "\n".join(lines)


def _case(suite: ET.Element, name: str, classname: str, path: str = "") -> ET.Element:
    case = ET.SubElement(suite, "testcase", name=xml_text(name), classname=xml_text(classname),
                         time="0")
    if path:
        case.set("file", xml_text(path))
    return case


def _suite(root: ET.Element, result: ScanResult, kind: FindingKind) -> ET.Element:
    suite = ET.SubElement(root, "testsuite", name=f"stackwarden.{kind}")
    props = ET.SubElement(suite, "properties")
    ET.SubElement(props, "property", name="target", value=xml_text(result.target))
    ET.SubElement(props, "property", name="scanner", value=SCANNER_OF_KIND[kind])
    findings = sorted_findings(f for f in result.findings if f.kind is kind)
    suppressed = sorted_suppressed(s for s in result.suppressed if s.finding.kind is kind)
    for f in findings:
        case = _case(suite, _name(f), _classname(kind, f), "" if f.package else f.location.path)
        failure = ET.SubElement(case, "failure", type=str(f.severity),
                                message=xml_text(f"{f.severity}: {f.title or f.id}"))
        failure.text = xml_text(_details(f))
    for s in suppressed:
        case = _case(suite, _name(s.finding), _classname(kind, s.finding),
                     "" if s.finding.package else s.finding.location.path)
        info = suppression_info(s)
        ET.SubElement(case, "skipped", message=xml_text(f"suppressed ({info['source']}): "
                                                        f"{info['reason']}"))
    passed = 0
    if kind is FindingKind.VULNERABILITY:
        affected = {(f.package.type, f.package.name, f.package.version)
                    for f in (*findings, *(s.finding for s in suppressed)) if f.package}
        for pkg in sorted(result.sbom.packages, key=lambda p: (p.name, p.version, str(p.type))):
            if (str(pkg.type), pkg.name, pkg.version) not in affected:
                _case(suite, f"{pkg.name} {pkg.version}", _classname(kind, pkg=pkg))
                passed += 1
    if not findings and not suppressed and not passed:
        _case(suite, f"no {kind} findings", f"stackwarden.{kind}")
        passed = 1
    seconds = result.timings.get(SCANNER_OF_KIND[kind], 0.0)
    suite.set("tests", str(len(findings) + len(suppressed) + passed))
    suite.set("failures", str(len(findings)))
    suite.set("errors", "0")
    suite.set("skipped", str(len(suppressed)))
    suite.set("time", f"{seconds:.3f}")
    if result.created:
        suite.set("timestamp", result.created.rstrip("Z"))
    return suite


def build_junit(result: ScanResult) -> ET.Element:
    """The `<testsuites>` element for a scan result."""
    root = ET.Element("testsuites", name=xml_text(f"StackWarden scan of {result.target}"))
    suites = [_suite(root, result, kind)
              for kind in kinds_in(result) or [FindingKind.VULNERABILITY]]
    for attr in ("tests", "failures", "errors", "skipped"):
        root.set(attr, str(sum(int(s.get(attr, "0")) for s in suites)))
    root.set("time", f"{result.timings.get('total', 0.0):.3f}")
    return root


def render_scan(result: ScanResult) -> bytes:
    """JUnit XML (UTF-8, with the XML declaration)."""
    root = build_junit(result)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"
