"""Custom CEL policies: matching, findings, and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from stackwarden.detect.misconfig import PolicyError, build_scanner, scan_config

OWNER = """\
id: ORG-001
title: Deployments declare an owner
severity: high
description: Every Deployment names its owning team.
remediation: Add a metadata.labels.owner label.
controls: [org:ops-7]
match:
  file_types: [kubernetes]
  kinds: [Deployment]
expression: "has(object.metadata.labels) && 'owner' in object.metadata.labels"
message: no owner label
"""
TF = """\
- id: ORG-TF-001
  title: Buckets carry a cost-centre tag
  severity: low
  match: {resource_type: aws_s3_bucket}
  expression: "has(object.tags) && 'cost' in object.tags"
- id: ORG-DF-001
  title: Images come from the internal registry
  severity: medium
  match: {file_type: dockerfile}
  expression: "object.stages.all(s, s.image.startsWith('registry.example.com/'))"
"""
MANIFESTS = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: a, labels: {owner: shop}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: b}
---
apiVersion: v1
kind: Service
metadata: {name: c}
"""


@pytest.fixture()
def tree(tmp_path: Path) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "src/deploy.yaml").write_text(MANIFESTS)
    (tmp_path / "src/main.tf").write_text('resource "aws_s3_bucket" "a" { tags = { cost = "1" } }'
                                          '\nresource "aws_s3_bucket" "b" { bucket = "b" }\n')
    (tmp_path / "src/Dockerfile").write_text("FROM registry.example.com/a:1\nFROM alpine:3\n")
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies/owner.yaml").write_text(OWNER)
    (tmp_path / "policies/more.yml").write_text(TF)
    return tmp_path


def test_policies_produce_findings(tree: Path) -> None:
    outcome = scan_config(tree / "src", policy_dir=tree / "policies")
    custom = {(f.id, f.location.resource) for f in outcome.findings if f.id.startswith("ORG")}
    assert custom == {("ORG-001", "Deployment/b"), ("ORG-TF-001", "aws_s3_bucket.b"),
                      ("ORG-DF-001", "Dockerfile stage 1 (alpine:3)")}
    owner = next(f for f in outcome.findings if f.id == "ORG-001")
    assert str(owner.severity) == "high" and owner.controls == ("org:ops-7",)
    assert owner.evidence["message"] == "no owner label" and owner.location.line == 5


@pytest.mark.parametrize(("text", "needle"), [
    (OWNER.replace("'owner' in object.metadata.labels", "object.metadata.labels =="),
     ("CEL expression `has(object.metadata.labels) && object.metadata.labels ==` does not "
     "compile")),
    (OWNER.replace("severity: high", "severity: dire"), "unknown severity 'dire'"),
    (OWNER.replace("message:", "mesage:"), "unknown field(s) mesage"),
    (OWNER.replace("kubernetes]", "helm]"), "unknown file type 'helm'"),
    (OWNER.replace("id: ORG-001", "id: SW-K8S-001"), "is a built-in check id"),
    ("id: [\n", "invalid YAML"),
])
def test_bad_policy_fails_fast_naming_file_and_expression(tmp_path: Path, text: str,
                                                         needle: str) -> None:
    (tmp_path / "p.yaml").write_text(text)
    with pytest.raises(PolicyError) as error:
        build_scanner(tmp_path)
    assert str(tmp_path / "p.yaml") in str(error.value)
    assert needle in str(error.value)


def test_duplicate_policy_ids_across_files(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(OWNER)
    (tmp_path / "b.yaml").write_text(OWNER)
    with pytest.raises(PolicyError, match="also defined in"):
        build_scanner(tmp_path)


def test_evaluation_error_is_one_skip_per_file(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(OWNER.replace(
        "has(object.metadata.labels) && 'owner' in object.metadata.labels",
        "object.metadata.labels.owner == 'x'"))
    scanner = build_scanner(tmp_path)
    outcome = scanner.scan_bytes("d.yaml", MANIFESTS.encode())
    assert [s.reason.split(":")[0] for s in outcome.skipped] == [
        "check ORG-001 could not evaluate Deployment/b"]
    assert "PolicyEvaluationError" in outcome.skipped[0].reason
