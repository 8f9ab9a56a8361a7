"""The gate: each rule of the policy schema, --fail-on, --exit-code, and bad policy files."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from stackwarden.core.findings import Finding, FindingLocation, Severity
from stackwarden.policy import (
    GatePolicy,
    PolicyError,
    evaluate_gate,
    load_policy_file,
    with_flags,
)
from stackwarden.scan import ScanResult
from tests.report.sample import (
    MALWARE,
    MISCONFIG_DOCKERFILE,
    MISCONFIG_K8S,
    SECRET,
    VULNERABILITIES,
    sample_result,
)

OPENSSL_VULN, WEBP_VULN, ZLIB_VULN, EVIL_VULN = VULNERABILITIES
NOW = datetime(2025, 6, 1, tzinfo=UTC)
# The example policy of docs/ci.md, rule for rule.
POLICY = """\
version: 1
gate:
  max_db_age_days: 3
  rules:
    - name: known-exploited
      description: any vulnerability in CISA's KEV catalog
      when: {kind: vulnerability, kev: true}
    - name: fixable-critical-high
      when: {kind: vulnerability, severity: [critical, high], fix_available: true}
    - name: no-secrets
      when: {kind: secret}
    - name: dockerfile-high
      when: {kind: misconfiguration, min_severity: high, file_type: dockerfile}
    - name: likely-exploited
      action: warn
      when: {kind: vulnerability, epss_min: 0.5}
"""


def result_with(tmp_path: Path, *findings: Finding, built_days_ago: float = 1.0) -> ScanResult:
    res = sample_result(tmp_path)
    res.findings = list(findings)
    res.database["built_at"] = (NOW - timedelta(days=built_days_ago)).strftime(
        "%Y-%m-%dT%H:%M:%SZ")
    return res


@pytest.fixture()
def policy(tmp_path: Path) -> GatePolicy:
    path = tmp_path / "stackwarden.yaml"
    path.write_text(POLICY)
    return load_policy_file(path).gate


@pytest.mark.parametrize(
    ("findings", "failed", "warned"),
    [
        ((), [], []),
        ((WEBP_VULN,), ["known-exploited", "fixable-critical-high"], ["likely-exploited"]),
        ((OPENSSL_VULN,), ["fixable-critical-high"], []),  # high, fix available
        ((ZLIB_VULN,), [], []),  # critical but no fix: not this policy's business
        ((EVIL_VULN,), [], []),  # medium with a fix
        ((SECRET,), ["no-secrets"], []),
        ((MISCONFIG_DOCKERFILE,), ["dockerfile-high"], []),
        ((MISCONFIG_K8S,), [], []),  # medium, and not a Dockerfile
        ((dataclasses.replace(MISCONFIG_K8S, severity=Severity.CRITICAL),), [], []),
        # The file type comes from the name when the scanner does not say.
        ((dataclasses.replace(MISCONFIG_DOCKERFILE, evidence={},
                              location=FindingLocation("build/Dockerfile.prod", 3)),),
         ["dockerfile-high"], []),
        ((dataclasses.replace(MISCONFIG_DOCKERFILE, evidence={},
                              location=FindingLocation("deploy/app.yaml", 3)),), [], []),
        ((MALWARE,), [], []),
    ],
)
def test_rules(tmp_path: Path, policy: GatePolicy, findings: tuple[Finding, ...],
               failed: list[str], warned: list[str]) -> None:
    decision = evaluate_gate(result_with(tmp_path, *findings), policy, NOW)
    assert [o.rule for o in decision.failed] == failed
    assert [o.rule for o in decision.warned] == warned
    assert decision.passed is (not failed)
    assert decision.exit_code == (1 if failed else 0)


def test_decision_names_the_rule_and_findings(tmp_path: Path, policy: GatePolicy) -> None:
    decision = evaluate_gate(result_with(tmp_path, SECRET), policy, NOW)
    assert decision.rule == "no-secrets"
    outcome = decision.failed[0]
    assert outcome.findings == (SECRET,)
    assert outcome.origin.endswith("stackwarden.yaml:10")
    assert decision.summary() == [
        (f"gate failed: no-secrets ({outcome.origin}): 1 finding: aws-access-key-id "
         "(/app/config/settings.py:12)")]


@pytest.mark.parametrize(("days", "passed"), [(2.9, True), (3.5, False)])
def test_max_db_age(tmp_path: Path, policy: GatePolicy, days: float, passed: bool) -> None:
    decision = evaluate_gate(result_with(tmp_path, built_days_ago=days), policy, NOW)
    assert decision.passed is passed
    if not passed:
        assert decision.rule == "max_db_age_days"
        assert "3.5 days old" in decision.failed[0].message


def test_db_age_unknown_fails_and_no_vuln_scan_skips(tmp_path: Path, policy: GatePolicy) -> None:
    res = result_with(tmp_path)
    res.database["built_at"] = "garbage"
    assert evaluate_gate(res, policy, NOW).rule == "max_db_age_days"
    res.database, res.scanners = {}, ("secret",)
    assert evaluate_gate(res, policy, NOW).passed


@pytest.mark.parametrize(
    ("fail_on", "exit_code", "findings", "expected_code"),
    [
        (None, None, (ZLIB_VULN,), 0),  # no gate at all: findings are reported, exit 0
        ("critical", None, (ZLIB_VULN,), 1),
        ("critical", None, (OPENSSL_VULN,), 0),
        ("HIGH", None, (OPENSSL_VULN,), 1),
        ("low", 5, (EVIL_VULN,), 5),
        ("low", 0, (EVIL_VULN,), 0),  # report only
        (None, 7, (EVIL_VULN,), 7),  # --exit-code alone: any finding fails
        (None, 7, (), 0),
    ],
)
def test_flags(tmp_path: Path, fail_on: str | None, exit_code: int | None,
               findings: tuple[Finding, ...], expected_code: int) -> None:
    gate = with_flags(GatePolicy(), fail_on=fail_on, exit_code=exit_code)
    assert evaluate_gate(result_with(tmp_path, *findings), gate, NOW).exit_code == expected_code


def test_fail_on_flag_replaces_the_files(tmp_path: Path) -> None:
    path = tmp_path / "stackwarden.yaml"
    path.write_text("gate:\n  fail_on: low\n  exit_code: 4\n")
    gate = load_policy_file(path).gate
    res = result_with(tmp_path, EVIL_VULN)
    assert evaluate_gate(res, gate, NOW).exit_code == 4
    assert evaluate_gate(res, with_flags(gate, fail_on="critical"), NOW).passed
    # --exit-code with a policy that has rules keeps the rules.
    assert evaluate_gate(result_with(tmp_path, MALWARE), with_flags(
        with_flags(gate, fail_on="critical"), exit_code=9), NOW).exit_code == 9


@pytest.mark.parametrize(
    ("text", "line", "needle"),
    [
        ("gate:\n  fail_on: severe\n", 2, "unknown severity 'severe'"),
        ("gate:\n  rules:\n    - when: {kind: secret}\n", 3, "needs 'name'"),
        ("gate:\n  rules:\n    - name: a\n      when: {kind: secrets}\n", 4,
         "unknown kind 'secrets'"),
        ("gate:\n  rules:\n    - name: a\n      when:\n        file_type: makefile\n", 5,
         "unknown file_type 'makefile'"),
        ("gate:\n  rules:\n    - name: a\n      when:\n        kev: yes please\n", 5,
         "'kev' must be true or false"),
        ("gate:\n  rules:\n    - name: a\n      when:\n        epss_min: 5\n", 5,
         "'epss_min' must be between 0 and 1"),
        ("gate:\n  rules:\n    - name: a\n      when:\n        severity_min: high\n", 5,
         "unknown key 'severity_min'"),
        ("gate:\n  rules:\n    - name: a\n      action: block\n", 4, "fail or warn"),
        ("gate:\n  rules:\n    - name: a\n    - name: a\n", 4, "two rules are named 'a'"),
        ("gate:\n  exit_code: 300\n", 2, "between 0 and 255"),
        ("gate:\n  max_db_age_days: -1\n", 2, "at least 0"),
        ("gates: {}\n", 1, "unknown key 'gates'"),
        ("gate: [1, 2]\n", 1, "must be a mapping"),
        ("gate:\n  rules:\n  - name: a\n   when: {}\n", 4, "invalid policy file"),
    ],
)
def test_bad_policy_files_name_the_line(tmp_path: Path, text: str, line: int,
                                        needle: str) -> None:
    path = tmp_path / "stackwarden.yaml"
    path.write_text(text)
    with pytest.raises(PolicyError) as caught:
        load_policy_file(path)
    assert caught.value.source == f"{path}:{line}", caught.value
    assert needle in caught.value.message


def test_bad_flags() -> None:
    with pytest.raises(PolicyError, match="unknown severity"):
        with_flags(GatePolicy(), fail_on="urgent")
    with pytest.raises(PolicyError, match="between 0 and 255"):
        with_flags(GatePolicy(), exit_code=256)


def test_policy_file_names_ignore_file_and_vex_relative_to_itself(tmp_path: Path) -> None:
    (tmp_path / "ci").mkdir()
    path = tmp_path / "ci" / "stackwarden.yaml"
    path.write_text("ignore_file: ../.stackwardenignore\nvex: [vex/a.json, vex/b.json]\n")
    parsed = load_policy_file(path)
    assert parsed.ignore_file == tmp_path / "ci" / "../.stackwardenignore"
    assert parsed.vex == (tmp_path / "ci" / "vex/a.json", tmp_path / "ci" / "vex/b.json")
    assert parsed.gate.empty
