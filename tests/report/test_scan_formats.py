"""Scan report formats: golden files pin each one; SARIF, CycloneDX, SPDX and JSON validate
against their schemas; hostile values stay inert in every human-readable format."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import jsonschema
import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from stackwarden.report import SCAN_FORMAT_NAMES, render_scan
from stackwarden.report.markdown import render_markdown
from stackwarden.scan import ScanResult
from tests.helpers.env import shared_data
from tests.helpers.golden import assert_golden, redact
from tests.report.sample import XSS, sample_result

REPO = Path(__file__).resolve().parents[2]
GOLDEN_NAMES = {"table": "scan.table.txt", "json": "scan.json", "sarif": "scan.sarif",
                "cyclonedx": "scan.cdx.json", "spdx": "scan.spdx.json", "junit": "scan.junit.xml",
                "html": "scan.html", "markdown": "scan.md", "gitlab": "scan.gitlab.json"}


@pytest.fixture()
def result(tmp_path: Path) -> ScanResult:
    return sample_result(tmp_path)


def test_every_format_has_a_golden_file() -> None:
    assert set(GOLDEN_NAMES) == set(SCAN_FORMAT_NAMES)


@pytest.mark.parametrize("fmt", SCAN_FORMAT_NAMES)
def test_golden(fmt: str, result: ScanResult, tmp_path: Path) -> None:
    assert_golden(GOLDEN_NAMES[fmt], render_scan(result, fmt), tmp=tmp_path)


@pytest.mark.parametrize("fmt", SCAN_FORMAT_NAMES)
def test_output_is_deterministic(fmt: str, result: ScanResult, tmp_path: Path) -> None:
    again = sample_result(tmp_path)
    assert redact(render_scan(result, fmt).decode(), tmp=tmp_path) == \
        redact(render_scan(again, fmt).decode(), tmp=tmp_path)


def test_redaction_removes_unstable_values(result: ScanResult, tmp_path: Path) -> None:
    text = redact(render_scan(result, "json").decode(), tmp=tmp_path)
    doc = json.loads(text)
    assert doc["created"] == "<TIMESTAMP>" and doc["tool"]["version"] == "<VERSION>"
    assert doc["database"]["path"] == "<TMP>/vulndb.sqlite"
    assert set(doc["timings"].values()) == {"<DURATION>"} and len(doc["timings"]) == 3
    assert str(tmp_path) not in text


def test_json_validates_against_the_published_schema(result: ScanResult) -> None:
    schema = json.loads((REPO / "docs" / "report.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    doc = json.loads(render_scan(result, "json"))
    jsonschema.Draft202012Validator(schema).validate(doc)
    assert doc["artifact_digest"] == "sha256:" + "1" * 64
    assert [s["source"] for s in doc["suppressed"]] == ["vex", "ignore", "scanner"]
    assert doc["summary"]["by_severity"] == {"critical": 2, "high": 4, "medium": 2, "low": 0,
                                             "negligible": 0, "unknown": 0}
    assert [f["severity"] for f in doc["findings"]][:2] == ["critical", "critical"]
    assert doc["skipped"][0]["reason"] == "not a zip archive"


def test_sarif_is_valid_2_1_0_with_what_github_needs(result: ScanResult) -> None:
    schema = json.loads(Path(shared_data("sarif-schema", "sarif-schema-2.1.0.json")).read_text())
    doc = json.loads(render_scan(result, "sarif"))
    jsonschema.validators.validator_for(schema)(schema).validate(doc)
    assert doc["version"] == "2.1.0" and len(doc["runs"]) == 1
    run = doc["runs"][0]
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    assert rules["CVE-2023-45853"]["properties"]["security-severity"] == "9.8"
    assert rules["DS002"]["properties"]["security-severity"] == "8.0"
    assert rules["CVE-2023-0286"]["helpUri"] == "https://www.openssl.org/news/secadv/20230207.txt"
    assert "Upgrade openssl to 3.0.8-1" in rules["CVE-2023-0286"]["help"]["text"]
    assert all(r["help"]["text"] and r["shortDescription"]["text"] for r in rules.values())
    by_rule = {r["ruleId"]: r for r in run["results"]}
    secret = by_rule["aws-access-key-id"]
    assert secret["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "app/config/settings.py"},
        "region": {"startLine": 12, "endLine": 12}}
    vuln = by_rule["CVE-2023-0286"]["locations"][0]["physicalLocation"]
    assert vuln == {"artifactLocation": {"uri": "var/lib/dpkg/status"}}
    assert all(len(r["partialFingerprints"]["stackwarden/v1"]) == 32 for r in run["results"])
    assert [r["ruleIndex"] for r in run["results"]] == [
        list(rules).index(r["ruleId"]) for r in run["results"]]
    suppressed = [r for r in run["results"] if "suppressions" in r]
    assert len(suppressed) == 3
    assert suppressed[0]["suppressions"][0]["justification"].startswith("VEX not_affected")
    # A javascript: reference never becomes a help link.
    assert rules["GHSA-xxxx-yyyy-zzzz"]["helpUri"].startswith("https://github.com/")


def test_cyclonedx_is_valid_1_6_with_vulnerabilities_and_vex(result: ScanResult) -> None:
    data = render_scan(result, "cyclonedx").decode()
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(data) is None
    doc = json.loads(data)
    refs = {c["bom-ref"]: c["name"] for c in doc["components"]}
    vulns = {v["id"]: v for v in doc["vulnerabilities"]}
    # Vulnerabilities only: secrets, malware and misconfigurations are not CycloneDX vulns.
    assert set(vulns) == {"CVE-2023-0286", "CVE-2023-4863", "CVE-2023-45853",
                          "GHSA-xxxx-yyyy-zzzz", "CVE-2023-32681", "CVE-2024-35195",
                          "CVE-2024-0001"}
    assert [refs[a["ref"]] for a in vulns["CVE-2023-0286"]["affects"]] == ["openssl"]
    assert vulns["CVE-2023-45853"]["ratings"][0] == {
        "method": "CVSSv31", "score": 9.8, "severity": "critical",
        "source": {"name": "NVD", "url": "https://nvd.nist.gov/vuln/detail/CVE-2023-45853"},
        "vector": "AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}
    assert "analysis" not in vulns["CVE-2023-0286"]
    assert vulns["CVE-2023-32681"]["analysis"]["state"] == "not_affected"
    assert vulns["CVE-2023-32681"]["analysis"]["justification"] == "code_not_reachable"
    assert vulns["CVE-2024-35195"]["analysis"]["response"] == ["will_not_fix"]
    assert {"name": "stackwarden:kev:dueDate", "value": "2023-10-04"} in \
        vulns["CVE-2023-4863"]["properties"]


def test_spdx_is_the_sbom(result: ScanResult, tmp_path: Path) -> None:
    from spdx_tools.spdx.parser.parse_anything import parse_file
    from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

    path = tmp_path / "scan.spdx.json"
    path.write_bytes(render_scan(result, "spdx"))
    document = parse_file(str(path))
    assert validate_full_spdx_document(document) == []
    assert {p.name for p in document.packages} >= {"openssl", "requests", XSS}


def test_junit_counts_and_structure(result: ScanResult) -> None:
    root = ET.fromstring(render_scan(result, "junit"))
    assert root.tag == "testsuites"
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert list(suites) == ["stackwarden.vulnerability", "stackwarden.secret",
                            "stackwarden.malware", "stackwarden.misconfiguration"]
    for suite in suites.values():
        cases = suite.findall("testcase")
        assert int(suite.get("tests", -1)) == len(cases)
        assert int(suite.get("failures", -1)) == len([c for c in cases if c.find("failure") is
                                                      not None])
        assert int(suite.get("skipped", -1)) == len([c for c in cases if c.find("skipped") is
                                                     not None])
        assert all(c.get("name") and c.get("classname") for c in cases)
    assert (root.get("tests"), root.get("failures"), root.get("skipped")) == ("11", "8", "3")
    secret = suites["stackwarden.secret"].find("testcase")
    assert secret is not None and secret.get("file") == "/app/config/settings.py"
    assert "AKIA" not in ET.tostring(root, encoding="unicode").replace("AKIA****", "")


def test_junit_passing_cases_for_clean_packages_and_scanners(result: ScanResult) -> None:
    result.findings = [f for f in result.findings if f.kind.value != "secret"]
    result.suppressed = []
    root = ET.fromstring(render_scan(result, "junit"))
    vuln = root.find("testsuite[@name='stackwarden.vulnerability']")
    assert vuln is not None
    passing = [c.get("name") for c in vuln.findall("testcase") if len(c) == 0]
    assert passing == ["requests 2.25.0"]
    secret = root.find("testsuite[@name='stackwarden.secret']")
    assert secret is not None and secret.get("tests") == "1" and secret.get("failures") == "0"


def test_junit_survives_control_characters(result: ScanResult) -> None:
    import dataclasses

    bad = dataclasses.replace(result.findings[0], title="bell \x07 nul \x00 end")
    result.findings = [bad]
    ET.fromstring(render_scan(result, "junit"))


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts.append(data)


def test_html_is_self_contained_and_escapes_everything(result: ScanResult) -> None:
    page = render_scan(result, "html").decode()
    parser = _Collector()
    parser.feed(page)
    scripts = [t for t, _ in parser.tags if t == "script"]
    assert len(scripts) == 1 and len(parser.scripts) == 1
    assert XSS not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    # Nothing is loaded from anywhere: no src/href to another resource, no @import, no url().
    for tag, attrs in parser.tags:
        assert "src" not in attrs, tag
        if tag == "link":
            pytest.fail("external <link>")
        href = attrs.get("href")
        if href is not None:
            assert tag == "a" and href.startswith("https://"), (tag, href)
    assert "javascript:" not in page and "url(" not in page and "@import" not in page
    # The CSP allows exactly the page's own script.
    csp = next(a["content"] for t, a in parser.tags
               if t == "meta" and a.get("http-equiv") == "Content-Security-Policy")
    digest = base64.b64encode(hashlib.sha256(parser.scripts[0].encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in (csp or "")
    assert "default-src 'none'" in (csp or "")
    # Summary charts are inline SVG with one bar segment per severity present.
    assert page.count("<svg") == 2
    assert re.search(r'<rect [^>]*fill="#a50e0e"><title>2 critical</title>', page)
    rows = re.findall(r'<tr data-sev="(\d)" data-kind="([a-z]+)">', page)
    assert len(rows) == 8 and rows[0] == ("5", "vulnerability")


def test_markdown_escapes_and_summarises_first(result: ScanResult) -> None:
    text = render_scan(result, "markdown").decode()
    assert text.index("**8 findings**") < text.index("### Findings")
    assert XSS not in text and "&lt;script&gt;" in text
    assert "| medium | GHSA-xxxx-yyyy-zzzz |" in text
    assert "3 suppressed" in text and "we never disable TLS verification" in text


@pytest.mark.parametrize("limit", [1500, 2500, 4000, 65_000])
def test_markdown_respects_the_size_limit(result: ScanResult, limit: int) -> None:
    import dataclasses

    base = result.findings[0]
    result.findings = [dataclasses.replace(base, id=f"CVE-2099-{i:05d}", fingerprint=str(i))
                       for i in range(2000)]
    text = render_markdown(result, limit=limit)
    assert len(text) <= limit
    assert text.startswith("## StackWarden scan")
    shown = text.count("| CVE-2099-")
    assert 0 < shown < 2000
    assert f"_{2000 - shown} more findings are not shown" in text


def test_markdown_without_findings_is_short(result: ScanResult) -> None:
    result.findings, result.suppressed, result.warnings = [], [], []
    text = render_markdown(result)
    assert "**0 findings**" in text and "### Findings" not in text


def test_gitlab_container_scanning_report(result: ScanResult) -> None:
    doc = json.loads(render_scan(result, "gitlab"))
    assert doc["version"].startswith("15.")
    scan = doc["scan"]
    assert scan["type"] == "container_scanning" and scan["status"] == "success"
    for key in ("analyzer", "scanner"):
        assert {"id", "name", "version", "vendor"} <= set(scan[key])
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}", scan["start_time"])
    assert scan["start_time"] <= scan["end_time"]
    vulns = doc["vulnerabilities"]
    assert len(vulns) == 4  # packaged vulnerabilities only; the rest is counted in a message
    assert any("4 findings without a package" in m["value"] for m in scan["messages"])
    for v in vulns:
        assert re.fullmatch(r"[0-9a-f-]{36}", v["id"])
        assert v["severity"] in ("Critical", "High", "Medium", "Low", "Info", "Unknown")
        assert v["identifiers"] and all({"type", "name", "value"} <= set(i)
                                        for i in v["identifiers"])
        loc = v["location"]
        assert loc["operating_system"] == "debian:12" and loc["image"] == "example/app:1.0"
        assert loc["dependency"]["package"]["name"] and loc["dependency"]["version"]
        assert all(link["url"].startswith("http") for link in v.get("links", []))
    webp = next(v for v in vulns if v["identifiers"][0]["value"] == "CVE-2023-4863")
    assert webp["identifiers"][0]["type"] == "cve"
    assert webp["solution"] == "Upgrade libwebp7 to 1.2.4-0.2+deb12u1"


def test_table_lists_suppressed_with_reasons(result: ScanResult) -> None:
    text = render_scan(result, "table").decode()
    assert "3 suppressed:" in text
    assert "CVE-2024-35195 requests 2.25.0: ignored: we never disable TLS verification [ignore]" \
        in text
    assert "misconfiguration: 1 high, 1 medium" in text
    assert "Dockerfile:1-9" in text
