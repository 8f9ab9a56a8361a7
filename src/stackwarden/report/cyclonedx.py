"""CycloneDX 1.6 JSON, built with cyclonedx-python-lib: the SBOM, and for scans its vulnerabilities
(ratings, affected components, and a VEX analysis for every suppressed one)."""

from __future__ import annotations

import uuid
import warnings
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from cyclonedx.contrib.license.factories import LicenseFactory
from cyclonedx.model import HashAlgorithm, HashType, Property, XsUri
from cyclonedx.model.bom import Bom
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.model.impact_analysis import (
    ImpactAnalysisJustification,
    ImpactAnalysisResponse,
    ImpactAnalysisState,
)
from cyclonedx.model.vulnerability import (
    BomTarget,
    Vulnerability,
    VulnerabilityAdvisory,
    VulnerabilityAnalysis,
    VulnerabilityRating,
    VulnerabilityReference,
    VulnerabilityScoreSource,
    VulnerabilitySeverity,
    VulnerabilitySource,
)
from cyclonedx.output.json import JsonV1Dot6
from packageurl import PackageURL

from stackwarden import __version__
from stackwarden.core.findings import Finding, FindingKind, Severity
from stackwarden.core.licenses import to_spdx
from stackwarden.core.models import SBOM, Package
from stackwarden.report.findings_dict import sorted_findings, sorted_suppressed, suppression_info
from stackwarden.report.text import http_links

if TYPE_CHECKING:
    from stackwarden.scan import ScanResult, Suppressed

_LICENSES = LicenseFactory()


def _property(name: str, value: str) -> Property:
    return Property(name=f"stackwarden:{name}", value=value)


def _component(pkg: Package, layer_index: dict[str, int]) -> Component:
    props = [_property("package:type", str(pkg.type))]
    props += [_property("package:foundBy", f) for f in pkg.found_by]
    props += [_property(f"location:{i}:path", loc.path) for i, loc in enumerate(pkg.locations)]
    if pkg.layer:
        props.append(_property("layer:diffID", pkg.layer))
        if pkg.layer in layer_index:
            props.append(_property("layer:index", str(layer_index[pkg.layer])))
    if pkg.source_name:
        props.append(_property("package:sourceName", pkg.source_name))
        props.append(_property("package:sourceVersion", pkg.source_version or ""))
    if pkg.arch:
        props.append(_property("package:arch", pkg.arch))
    try:
        purl = PackageURL.from_string(pkg.purl) if pkg.purl else None
    except ValueError:
        purl = None
    return Component(
        type=ComponentType.LIBRARY,
        name=pkg.name,
        version=pkg.version,
        purl=purl,
        cpe=pkg.cpes[0] if pkg.cpes else None,
        bom_ref=f"pkg:{pkg.id}",
        licenses=[_LICENSES.make_from_string(to_spdx(text) or text) for text in pkg.licenses
                  if text],
        properties=props,
    )


def build_bom(sbom: SBOM, *, kind: str = "sbom") -> Bom:
    """The CycloneDX Bom object for an SBOM (the artifact is the metadata component).

    The serial number is derived from the artifact, the time and `kind`, so the same inventory
    renders to the same bytes (golden files) while different documents get different serials.
    """
    art = sbom.artifact
    image = art.digest is not None or art.config_digest is not None
    subject = Component(
        type=ComponentType.CONTAINER if image else ComponentType.FILE,
        name=art.name or art.reference,
        version=art.digest or art.config_digest or None,
        bom_ref=f"artifact:{art.digest or art.config_digest or art.reference}",
        properties=[_property("artifact:kind", art.kind),
                    _property("artifact:reference", art.reference)]
        + [_property(f"layer:{layer.index}:diffID", layer.diff_id) for layer in art.layers],
    )
    if art.config_digest and art.config_digest.startswith("sha256:"):
        subject.hashes.add(HashType(alg=HashAlgorithm.SHA_256,
                                    content=art.config_digest.split(":", 1)[1]))
    if sbom.os:
        subject.properties.add(_property("os:id", sbom.os.id))
        subject.properties.add(_property("os:versionID", sbom.os.version_id))
    bom = Bom(serial_number=uuid.uuid5(uuid.NAMESPACE_URL, "|".join(
        (kind, art.reference, art.digest or "", art.config_digest or "", sbom.created))))
    bom.metadata.component = subject
    if sbom.created:
        bom.metadata.timestamp = datetime.fromisoformat(sbom.created.replace("Z", "+00:00"))
    tool = Component(type=ComponentType.APPLICATION, name="stackwarden",
                     version=sbom.tool_version or __version__)
    bom.metadata.tools.components.add(tool)
    layer_index = {layer.diff_id: layer.index for layer in art.layers}
    components = [_component(pkg, layer_index) for pkg in sbom.packages]
    for component in components:
        bom.components.add(component)
    bom.register_dependency(subject, components)
    return bom


def render_sbom(sbom: SBOM) -> bytes:
    """CycloneDX 1.6 JSON."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return JsonV1Dot6(build_bom(sbom)).output_as_string(indent=2).encode() + b"\n"


# OpenVEX justifications in CycloneDX's vocabulary (CycloneDX's own values pass through).
_JUSTIFICATIONS = {
    "component_not_present": ImpactAnalysisJustification.CODE_NOT_PRESENT,
    "vulnerable_code_not_present": ImpactAnalysisJustification.CODE_NOT_PRESENT,
    "vulnerable_code_not_in_execute_path": ImpactAnalysisJustification.CODE_NOT_REACHABLE,
    "vulnerable_code_cannot_be_controlled_by_adversary":
        ImpactAnalysisJustification.REQUIRES_ENVIRONMENT,
    "inline_mitigations_already_exist":
        ImpactAnalysisJustification.PROTECTED_BY_MITIGATING_CONTROL,
    **{j.value: j for j in ImpactAnalysisJustification},
}
_SCORE_METHODS = {"2": VulnerabilityScoreSource.CVSS_V2, "3.0": VulnerabilityScoreSource.CVSS_V3,
                  "3.1": VulnerabilityScoreSource.CVSS_V3_1, "4": VulnerabilityScoreSource.CVSS_V4}
_SEVERITIES = {Severity.CRITICAL: VulnerabilitySeverity.CRITICAL,
               Severity.HIGH: VulnerabilitySeverity.HIGH,
               Severity.MEDIUM: VulnerabilitySeverity.MEDIUM,
               Severity.LOW: VulnerabilitySeverity.LOW,
               Severity.NEGLIGIBLE: VulnerabilitySeverity.INFO,
               Severity.UNKNOWN: VulnerabilitySeverity.UNKNOWN}


def _source(vuln_id: str) -> VulnerabilitySource:
    """Who publishes an id: NVD for CVEs, GitHub for GHSAs, OSV for the rest."""
    if vuln_id.startswith("CVE-"):
        return VulnerabilitySource(name="NVD",
                                   url=XsUri(f"https://nvd.nist.gov/vuln/detail/{vuln_id}"))
    if vuln_id.startswith("GHSA-"):
        return VulnerabilitySource(name="GitHub",
                                   url=XsUri(f"https://github.com/advisories/{vuln_id}"))
    return VulnerabilitySource(name="OSV", url=XsUri(f"https://osv.dev/vulnerability/{vuln_id}"))


def _ratings(f: Finding) -> list[VulnerabilityRating]:
    ratings = []
    for c in f.cvss:
        method = _SCORE_METHODS.get(c.version) or _SCORE_METHODS.get(c.version.split(".")[0])
        ratings.append(VulnerabilityRating(
            source=_source(c.source) if c.source else None,
            score=Decimal(str(c.score)) if c.score is not None else None,
            severity=_SEVERITIES[Severity.from_cvss(c.score)] if c.score is not None else None,
            method=method or VulnerabilityScoreSource.OTHER, vector=c.vector or None))
    if not ratings or all(Severity.from_cvss(c.score) is not f.severity for c in f.cvss):
        # The severity StackWarden reports (e.g. the distribution's rating) is a rating too.
        ratings.append(VulnerabilityRating(severity=_SEVERITIES[f.severity],
                                           method=VulnerabilityScoreSource.OTHER,
                                           justification="severity reported by StackWarden"))
    return ratings


def _analysis(s: Suppressed | None) -> VulnerabilityAnalysis | None:
    """The VEX analysis of a suppressed finding: VEX states as given, ignore entries as accepted."""
    if s is None:
        return None
    info = suppression_info(s)
    if info["source"] == "vex":
        state = (ImpactAnalysisState.RESOLVED if info["status"] == "fixed"
                 else ImpactAnalysisState.NOT_AFFECTED)
        return VulnerabilityAnalysis(state=state,
                                     justification=_JUSTIFICATIONS.get(info["justification"]),
                                     detail=info["reason"])
    responses = [ImpactAnalysisResponse.WILL_NOT_FIX] if info["source"] == "ignore" else []
    if info["source"] == "scanner" and not s.finding.fixed_versions:
        responses = [ImpactAnalysisResponse.CAN_NOT_FIX]
    return VulnerabilityAnalysis(responses=responses, detail=info["reason"])


def _package_refs(sbom: SBOM) -> dict[tuple[str, str, str, str], list[Package]]:
    refs: dict[tuple[str, str, str, str], list[Package]] = {}
    for pkg in sbom.packages:
        refs.setdefault((str(pkg.type), pkg.name, pkg.version, pkg.purl), []).append(pkg)
    return refs


def _affects(f: Finding, refs: dict[tuple[str, str, str, str], list[Package]]) -> list[str]:
    """bom-refs of the SBOM components a finding is about (the one at its path when several)."""
    if f.package is None:
        return []
    candidates = refs.get((f.package.type, f.package.name, f.package.version, f.package.purl), [])
    at_path = [p for p in candidates if any(loc.path == f.location.path for loc in p.locations)]
    return [f"pkg:{p.id}" for p in (at_path or candidates)]


def _vulnerability(f: Finding, s: Suppressed | None, affects: list[str]) -> Vulnerability:
    props = [_property("finding:kind", str(f.kind))]
    if f.kev_due:
        props.append(_property("kev:dueDate", f.kev_due))
    if f.epss:
        props += [_property("epss:probability", f"{f.epss[0]:.5f}"),
                  _property("epss:percentile", f"{f.epss[1]:.5f}")]
    props += [_property("fixedVersion", v) for v in f.fixed_versions]
    if f.package and not affects:
        props.append(_property("package:purl", f.package.purl or
                               f"{f.package.name}@{f.package.version}"))
    return Vulnerability(
        bom_ref=f"vuln:{f.id}:{'suppressed:' if s else ''}{f.fingerprint or f.id}",
        id=f.id, source=_source(f.id),
        references=[VulnerabilityReference(id=a, source=_source(a)) for a in f.aliases],
        ratings=_ratings(f), description=f.title or None, detail=f.description or None,
        recommendation=f.remediation or None,
        advisories=[VulnerabilityAdvisory(url=XsUri(u)) for u in http_links(f.references)],
        analysis=_analysis(s), affects=[BomTarget(ref=r) for r in affects], properties=props)


def build_scan_bom(result: ScanResult) -> Bom:
    """The SBOM plus one `vulnerabilities` entry per vulnerability finding (VEX for suppressed)."""
    bom = build_bom(result.sbom, kind="scan")
    refs = _package_refs(result.sbom)
    entries: list[tuple[Finding, Suppressed | None]] = [
        (f, None) for f in sorted_findings(result.findings)]
    entries += [(s.finding, s) for s in sorted_suppressed(result.suppressed)]
    for f, s in entries:
        if f.kind is FindingKind.VULNERABILITY:
            bom.vulnerabilities.add(_vulnerability(f, s, _affects(f, refs)))
    return bom


def render_scan(result: ScanResult) -> bytes:
    """CycloneDX 1.6 JSON: components, then vulnerabilities with ratings, affects and analysis."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return JsonV1Dot6(build_scan_bom(result)).output_as_string(indent=2).encode() + b"\n"
