"""apply_policy and load_policy together: VEX, ignore file and gate on one scan result."""

from __future__ import annotations

import copy
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from stackwarden.policy import PolicyError, PolicySuppressed, apply_policy, load_policy
from stackwarden.report import render_scan
from stackwarden.scan import ScanResult
from tests.report.sample import sample_result

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "policy"
NOW = datetime(2025, 6, 1, tzinfo=UTC)


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    (tmp_path / "stackwarden.yaml").write_text("""\
version: 1
vex: [vex/openvex.json]
gate:
  rules:
    - name: no-secrets
      when: {kind: secret}
    - name: fixable-critical-high
      when: {kind: vulnerability, min_severity: high, fix_available: true}
    - name: likely-exploited
      action: warn
      when: {epss_min: 0.5}
""")
    (tmp_path / ".stackwardenignore").write_text("""\
fingerprints:
  - fingerprint: d71c31215952fd94b1cf7769cfd766b1
    reason: revoked test key
ids:
  - id: CVE-2023-0286
    reason: X.400 names never parsed
    expires: 2025-05-01
""")
    (tmp_path / "vex").mkdir()
    shutil.copy(FIXTURES / "openvex.json", tmp_path / "vex" / "openvex.json")
    return tmp_path


def test_the_whole_policy(project: Path) -> None:
    result = sample_result(project)
    before = copy.deepcopy(result)
    policy = load_policy(cwd=project)
    assert policy.ignore is not None and len(policy.vex) == 1
    applied, decision = apply_policy(result, ignore=policy.ignore, vex=policy.vex,
                                     gate=policy.gate, now=NOW)
    assert result == before  # the input is never changed
    new = {s.finding.id: s for s in applied.suppressed[len(result.suppressed):]}
    assert all(isinstance(s, PolicySuppressed) for s in new.values())
    assert set(new) == {"CVE-2023-4863", "aws-access-key-id"}
    assert new["CVE-2023-4863"].source == "vex" and new["CVE-2023-4863"].status == "fixed"
    assert new["aws-access-key-id"].reason == "ignored: revoked test key"
    assert new["aws-access-key-id"].origin == f"{project}/.stackwardenignore:2"
    # The expired entry no longer hides CVE-2023-0286, which fails the gate, and says so.
    assert any("CVE-2023-0286 expired on 2025-05-01" in w for w in applied.warnings)
    assert decision.rule == "fixable-critical-high"
    assert [f.id for f in decision.failed[0].findings] == ["CVE-2023-0286"]
    # The KEV finding (EPSS 0.94) was suppressed by VEX, so the warn rule has nothing.
    assert not decision.warned
    assert len(applied.findings) + len(applied.suppressed) == \
        len(result.findings) + len(result.suppressed)
    doc = json.loads(render_scan(applied, "json"))
    assert doc["summary"]["suppressed_by_source"] == {"ignore": 2, "scanner": 1, "vex": 2}


def test_warn_rules_become_warnings(project: Path) -> None:
    (project / "stackwarden.yaml").write_text(
        "gate:\n  rules:\n    - {name: likely-exploited, action: warn, when: {epss_min: 0.5}}\n")
    policy = load_policy(cwd=project)
    applied, decision = apply_policy(sample_result(project), gate=policy.gate, now=NOW)
    assert decision.passed and [o.rule for o in decision.warned] == ["likely-exploited"]
    assert applied.warnings[-1].startswith("policy rule likely-exploited: 1 finding: "
                                           "CVE-2023-4863")


def test_nothing_in_the_working_directory_means_no_policy(tmp_path: Path) -> None:
    policy = load_policy(cwd=tmp_path)
    assert policy.ignore is None and policy.vex == () and policy.gate.empty
    result = sample_result(tmp_path)
    applied, decision = apply_policy(result, gate=policy.gate)
    assert applied.findings == result.findings and decision.passed


def test_flags_override_the_working_directory(project: Path, tmp_path_factory:
                                              pytest.TempPathFactory) -> None:
    other = tmp_path_factory.mktemp("other")
    (other / "ignore.yaml").write_text("ids: [{id: CVE-2023-45853, reason: r}]\n")
    policy = load_policy(cwd=project, ignore_file=other / "ignore.yaml", fail_on="critical",
                         vex_files=[FIXTURES / "cyclonedx-vex.json"])
    assert policy.ignore is not None and policy.ignore.path == other / "ignore.yaml"
    assert [d.format for d in policy.vex] == ["openvex", "cyclonedx"]
    assert [r.name for r in policy.gate.rules][-1] == "fail-on-critical"


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"policy_file": Path("nope.yaml")}, "no such policy file"),
        ({"ignore_file": Path("nope")}, "no such ignore file"),
        ({"vex_files": [Path("nope.json")]}, "no such VEX document"),
        ({"fail_on": "bad"}, "unknown severity"),
    ],
)
def test_missing_files_are_usage_errors(tmp_path: Path, kwargs: dict[str, object],
                                        needle: str) -> None:
    with pytest.raises(PolicyError, match=needle):
        load_policy(cwd=tmp_path, **kwargs)  # type: ignore[arg-type]


def test_policy_naming_a_missing_file(tmp_path: Path) -> None:
    (tmp_path / "stackwarden.yaml").write_text("ignore_file: gone\n")
    with pytest.raises(PolicyError, match="named by the policy file"):
        load_policy(cwd=tmp_path)


def test_scan_result_round_trip_keeps_scanner_suppressions(tmp_path: Path) -> None:
    result: ScanResult = sample_result(tmp_path)
    applied, _ = apply_policy(result)
    assert applied.suppressed == result.suppressed
