"""VEX input: OpenVEX (v0.2 and legacy) and CycloneDX VEX statements matched to findings."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from stackwarden.core.findings import Finding
from stackwarden.core.models import ArtifactInfo
from stackwarden.policy import PolicyError, apply_policy, load_vex, load_vex_files
from stackwarden.policy.vex import decide
from stackwarden.report import render_scan
from stackwarden.scan import ScanResult
from tests.report.sample import SECRET, VULNERABILITIES, sample_result

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "policy"
OPENSSL_VULN, WEBP_VULN, ZLIB_VULN, EVIL_VULN = VULNERABILITIES
OPENVEX_HEAD = '{"@context": "https://openvex.dev/ns/v0.2.0",\n "statements": [\n'


@pytest.fixture()
def result(tmp_path: Path) -> ScanResult:
    res = sample_result(tmp_path)
    # The requests finding the sample suppresses is a plain finding here.
    res.findings.append(res.suppressed[0].finding)
    res.suppressed = []
    return res


def _requests(result: ScanResult) -> Finding:
    return next(f for f in result.findings if f.id == "CVE-2023-32681")


def test_openvex_statements(result: ScanResult) -> None:
    docs = [load_vex(FIXTURES / "openvex.json")]
    art = result.sbom.artifact
    requests = decide(_requests(result), art, docs)
    assert requests is not None and requests.status == "not_affected"
    assert requests.reason() == ("VEX not_affected (vulnerable_code_not_in_execute_path): "
                                 "proxies are never configured")
    assert requests.origin.endswith("openvex.json:8")  # the statement's opening brace
    # The image product (by digest) with a subcomponent names the package.
    webp = decide(WEBP_VULN, art, docs)
    assert webp is not None and webp.status == "fixed"
    # under_investigation governs but does not suppress.
    openssl = decide(OPENSSL_VULN, art, docs)
    assert openssl is not None and not openssl.suppresses
    # Two statements for zlib: the later one (affected) wins.
    zlib = decide(ZLIB_VULN, art, docs)
    assert zlib is not None and zlib.status == "affected"
    assert decide(EVIL_VULN, art, docs) is None
    assert decide(SECRET, art, docs) is None  # VEX speaks about vulnerabilities only


def test_image_product_must_be_this_image(result: ScanResult) -> None:
    docs = [load_vex(FIXTURES / "openvex.json")]
    other = dataclasses.replace(result.sbom.artifact, digest="sha256:" + "9" * 64)
    assert decide(WEBP_VULN, other, docs) is None


@pytest.mark.parametrize(
    ("product", "artifact_name", "applies"),
    [
        ("pkg:oci/app", "example/app:1.0", True),  # no digest: the repository name decides
        ("pkg:oci/other", "example/app:1.0", False),
        ("example/app:1.0", "example/app:1.0", True),  # the image's own name
        ("pkg:deb/debian/libwebp7@1.2.4-0.2", "x", True),  # the package itself, this version
        ("pkg:deb/debian/libwebp7@1.2.4-0.3", "x", False),
        ("pkg:deb/debian/libwebp7?arch=amd64", "x", True),
        ("pkg:deb/debian/libwebp7?arch=arm64", "x", False),
    ],
)
def test_product_matching(tmp_path: Path, product: str, artifact_name: str,
                          applies: bool) -> None:
    path = tmp_path / "vex.json"
    path.write_text(json.dumps({
        "@context": "https://openvex.dev/ns/v0.2.0", "@id": "x", "author": "a",
        "timestamp": "2024-01-01T00:00:00Z", "version": 1,
        "statements": [{"vulnerability": {"name": "CVE-2023-4863"},
                        "products": [{"@id": product}], "status": "fixed"}]}))
    art = ArtifactInfo(kind="oci-dir", reference="oci-dir:x", name=artifact_name)
    assert (decide(WEBP_VULN, art, [load_vex(path)]) is not None) is applies


def test_legacy_openvex(result: ScanResult) -> None:
    doc = load_vex(FIXTURES / "openvex-legacy.json")
    statement = decide(EVIL_VULN, result.sbom.artifact, [doc])
    assert statement is not None and statement.justification == "component_not_present"


def test_cyclonedx_vex(result: ScanResult) -> None:
    doc = load_vex(FIXTURES / "cyclonedx-vex.json")
    assert doc.format == "cyclonedx"
    art = result.sbom.artifact
    requests = decide(_requests(result), art, [doc])  # matched through the alias + BOM-Link
    assert requests is not None and requests.status == "not_affected"
    assert requests.detail == "we vendor a patched copy"
    zlib = decide(ZLIB_VULN, art, [doc])  # resolved -> fixed, through the bom-ref's PURL
    assert zlib is not None and zlib.status == "fixed" and zlib.justification == \
        "code_not_present"
    openssl = decide(OPENSSL_VULN, art, [doc])  # exploitable -> affected
    assert openssl is not None and openssl.status == "affected"
    assert decide(WEBP_VULN, art, [doc]) is None  # no analysis: says nothing


def test_a_later_document_wins_a_tie(tmp_path: Path, result: ScanResult) -> None:
    def vex(name: str, status: str) -> Path:
        path = tmp_path / name
        statement = {"vulnerability": {"name": "CVE-2023-0286"},
                     "products": [{"@id": "pkg:deb/debian/openssl"}], "status": status}
        if status == "not_affected":
            statement["justification"] = "component_not_present"
        path.write_text(json.dumps({"@context": "https://openvex.dev/ns/v0.2.0", "@id": name,
                                    "author": "a", "timestamp": "2024-01-01T00:00:00Z",
                                    "version": 1, "statements": [statement]}))
        return path

    docs = load_vex_files([vex("a.json", "not_affected"), vex("b.json", "affected")])
    decided = decide(OPENSSL_VULN, result.sbom.artifact, docs)
    assert decided is not None and decided.status == "affected"


def test_apply_policy_moves_vex_suppressed_findings(result: ScanResult) -> None:
    docs = load_vex_files([FIXTURES / "openvex.json"])
    applied, decision = apply_policy(result, vex=docs)
    moved = {s.finding.id: s for s in applied.suppressed}
    assert set(moved) == {"CVE-2023-32681", "CVE-2023-4863"}
    assert moved["CVE-2023-4863"].reason == "VEX fixed"
    assert all(f.id not in moved for f in applied.findings)
    assert len(applied.findings) + len(applied.suppressed) == len(result.findings)
    assert moved["CVE-2023-32681"].finding is _requests(result)  # never changed
    assert decision.passed


def test_our_cyclonedx_output_edited_is_vex_input(tmp_path: Path, result: ScanResult) -> None:
    """A team can take the CycloneDX report, fill in analysis, and feed it back as VEX."""
    doc = json.loads(render_scan(result, "cyclonedx"))
    for vuln in doc["vulnerabilities"]:
        if vuln["id"] == "CVE-2023-0286":
            vuln["analysis"] = {"state": "not_affected", "justification": "code_not_reachable",
                                "detail": "X.400 names are never parsed"}
    path = tmp_path / "triaged.cdx.json"
    path.write_text(json.dumps(doc))
    applied, _ = apply_policy(result, vex=load_vex_files([path]))
    assert [s.finding.id for s in applied.suppressed] == ["CVE-2023-0286"]
    assert applied.suppressed[0].reason == ("VEX not_affected (code_not_reachable): "
                                            "X.400 names are never parsed")


@pytest.mark.parametrize(
    ("doc", "line", "needle"),
    [
        ('{"statements": [}', 1, "invalid VEX document"),
        ('{"hello": "world"}', 1, "not a VEX document"),
        ((OPENVEX_HEAD + ' {"vulnerability": {"name": "CVE-1"}, "status": "maybe"}]}'), 3,
         "unknown status"),
        ((OPENVEX_HEAD + ' {"vulnerability": {"name": "CVE-1"}, "status": "not_affected"}]}'), 3,
         "needs a justification or an impact_statement"),
        ((OPENVEX_HEAD + ' {"vulnerability": {"name": "CVE-1"}, "status": "not_affected",\n'
          '  "justification": "trust_me"}]}'), 4, "unknown justification"),
        ((OPENVEX_HEAD + ' {"status": "fixed"}]}'), 3, "needs a vulnerability name"),
        (('{"bomFormat": "CycloneDX",\n "vulnerabilities": [\n'
          ' {"id": "CVE-1", "analysis": {"state": "fine"}}]}'), 3, "unknown analysis state"),
        (('{"@context": "https://openvex.dev/ns/v0.2.0", "timestamp": "yesterday",\n'
          ' "statements": []}'), 1, "not an RFC 3339 date-time"),
    ],
)
def test_bad_documents_name_the_line(tmp_path: Path, doc: str, line: int, needle: str) -> None:
    path = tmp_path / "bad.vex.json"
    path.write_text(doc)
    with pytest.raises(PolicyError) as caught:
        load_vex(path)
    assert caught.value.source == f"{path}:{line}"
    assert needle in caught.value.message


def test_json_with_tabs_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "tabs.json"
    path.write_text('{\t"@context":\t"https://openvex.dev/ns", "statements": [{"vulnerability":'
                    ' "CVE-2023-0286", "status": "fixed"}]}')
    assert load_vex(path).statements[0].status == "fixed"
