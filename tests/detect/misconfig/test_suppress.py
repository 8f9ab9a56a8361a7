"""Inline suppression in YAML, HCL and Dockerfiles: on the line, or above the resource."""

from __future__ import annotations

import pytest

from stackwarden.detect.misconfig.scanner import MisconfigScanner
from stackwarden.detect.misconfig.suppress import NO_REASON, find_suppressions

SCANNER = MisconfigScanner()

DOCKERFILE = b"""FROM alpine:3.20
# stackwarden:ignore SW-DF-008 vendor installer, checksum verified by hand
RUN curl -fsSL https://get.example.com | sh
RUN curl -fsSL https://other.example.com | sh
"""
YAML_ABOVE_RESOURCE = b"""# stackwarden:ignore SW-K8S-005 the CNI agent needs the host network
apiVersion: v1
kind: Pod
metadata: {name: cni}
spec:
  hostNetwork: true
  containers: [{name: c, image: x}]
"""
YAML_ON_LINE = b"""apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  hostNetwork: true  # stackwarden:ignore SW-K8S-005,SW-K8S-004 - lab cluster
  containers: [{name: c, image: x}]
"""
HCL = b"""// stackwarden:ignore SW-AWS-013 public read replica for the website
resource "aws_db_instance" "replica" {
  publicly_accessible = true
  storage_encrypted   = false
}
resource "aws_db_instance" "other" {
  publicly_accessible = true # stackwarden:ignore all
  storage_encrypted   = true
}
"""


@pytest.mark.parametrize(("path", "data", "check_id", "reason", "still_reported"), [
    ("Dockerfile", DOCKERFILE, "SW-DF-008", "vendor installer, checksum verified by hand", 1),
    ("pod.yaml", YAML_ABOVE_RESOURCE, "SW-K8S-005", "the CNI agent needs the host network", 0),
    ("pod.yaml", YAML_ON_LINE, "SW-K8S-005", "lab cluster", 0),
    ("main.tf", HCL, "SW-AWS-013", "public read replica for the website", 0),
])
def test_suppressed_with_reason(path: str, data: bytes, check_id: str, reason: str,
                                still_reported: int) -> None:
    outcome = SCANNER.scan_bytes(path, data)
    suppressed = [(f.id, r) for f, r in outcome.suppressed if f.id == check_id]
    assert suppressed and suppressed[0] == (check_id, reason)
    assert sum(1 for f in outcome.findings if f.id == check_id) == still_reported


def test_suppression_is_per_check_and_per_resource() -> None:
    outcome = SCANNER.scan_bytes("main.tf", HCL)
    reported = {(f.id, f.location.resource) for f in outcome.findings}
    assert ("SW-AWS-012", "aws_db_instance.replica") in reported  # other check, same resource
    suppressed = {(f.id, f.location.resource, r) for f, r in outcome.suppressed}
    assert ("SW-AWS-013", "aws_db_instance.other", NO_REASON) in suppressed  # `all`


def test_comment_parsing() -> None:
    found = find_suppressions(b"a: 1 # stackwarden:ignore sw-k8s-001\n"
                              b"# stackwarden:ignore:SW-DF-001 build user\n"
                              b"# stackwarden: ignore SW-X-001\n")
    assert found.by_line == {1: {"SW-K8S-001": NO_REASON}, 2: {"SW-DF-001": "build user"}}
