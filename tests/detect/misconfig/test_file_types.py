"""File type detection and the parsers' documents: names, content sniffing, Helm sources,
lists, CloudFormation JSON, Terraform modules, plans and JSON syntax, CI files."""

from __future__ import annotations

import json

import pytest

from stackwarden.detect.misconfig.scanner import MisconfigScanner, parse_source, wants_path
from stackwarden.detect.misconfig.source import SourceFile

SCANNER = MisconfigScanner()
POD = b"apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n" \
      b"    - name: c\n      image: x\n      securityContext: {privileged: true}\n"


def _types(path: str, data: bytes) -> list[tuple[str, str, str]]:
    return [(d.file_type, d.kind, d.name) for d in parse_source(SourceFile(path, data))]


@pytest.mark.parametrize(("path", "data", "expected"), [
    ("Dockerfile", b"FROM a:1\n", [("dockerfile", "Dockerfile", "Dockerfile stage 0 (a:1)")]),
    ("build/api.Dockerfile", b"FROM a:1\n", [("dockerfile", "Dockerfile",
                                             "Dockerfile stage 0 (a:1)")]),
    ("Containerfile", b"FROM a:1\n", [("dockerfile", "Dockerfile", "Dockerfile stage 0 (a:1)")]),
    ("k8s/pod.yaml", POD, [("kubernetes", "Pod", "Pod/p")]),
    ("k8s/pod.json", json.dumps({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "n"}}]}
    ).encode(), [("kubernetes", "Service", "Service/n/s")]),
    ("notes.yaml", b"title: hello\nitems: [1, 2]\n", []),
    ("docker-compose.prod.yml", b"services:\n  web: {image: nginx}\n",
     [("compose", "service", "services.web")]),
    (".github/workflows/ci.yml", b"on: push\njobs: {b: {runs-on: x, steps: []}}\n",
     [("github-actions", "workflow", "workflow ci.yml")]),
    ("ci/.gitlab-ci.yml", b"build: {script: [make]}\n", [("gitlab-ci", "pipeline",
                                                          "pipeline")]),
    ("stack.template", (b"AWSTemplateFormatVersion: '2010-09-09'\nResources:\n  B:\n"
                       b"    Type: AWS::S3::Bucket\n"),
     [("cloudformation", "AWS::S3::Bucket", "B")]),
    ("stack.json", json.dumps({"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}}).encode(),
     [("cloudformation", "AWS::SQS::Queue", "Q")]),
    ("main.tf", (b'resource "aws_s3_bucket" "b" {}\ndata "x" "y" {}\nprovider "aws" {}\n'
                b'module "m" { source = "./m" }\nvariable "v" {}\n'),
     [("terraform", "aws_s3_bucket", "aws_s3_bucket.b"), ("terraform", "data.x", "data.x.y"),
      ("terraform", "provider.aws", "provider.aws"), ("terraform", "module", "module.m")]),
    ("main.tf.json", json.dumps({"resource": {"aws_s3_bucket": {"b": {"bucket": "x"}}}}
                                ).encode(), [("terraform", "aws_s3_bucket", "aws_s3_bucket.b")]),
    ("config.json", json.dumps({"architecture": "amd64", "config": {}, "rootfs": {
        "type": "layers", "diff_ids": []}}).encode(),
     [("image-config", "ImageConfig", "image config")]),
    ("package.json", b'{"name": "x"}', []),
])
def test_detection(path: str, data: bytes, expected: list[tuple[str, str, str]]) -> None:
    assert _types(path, data) == expected


@pytest.mark.parametrize(("path", "wanted"), [
    ("Dockerfile", True), ("a/b.yml", True), ("x.json", True), ("main.tf", True),
    ("x.tf.json", True), ("README.md", False), ("x.py", False), ("x.tfvars", False),
])
def test_wants_by_name(path: str, wanted: bool) -> None:
    assert wants_path(path) is wanted


HELM = b"""---
# Source: shop/templates/sa.yaml
apiVersion: v1
kind: ServiceAccount
metadata:
  name: shop
---
# Source: shop/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
spec:
  template:
    spec:
      hostNetwork: true
      containers: []
"""


def test_helm_source_comments_name_the_template() -> None:
    outcome = SCANNER.scan_bytes("rendered.yaml", HELM)
    [finding] = [f for f in outcome.findings if f.id == "SW-K8S-005"]
    assert finding.location.path == "shop/templates/deployment.yaml"
    assert finding.location.line == 8  # line 8 of the template's rendered section
    assert finding.evidence["rendered_line"] == 16
    assert finding.evidence["rendered_path"] == "rendered.yaml"


def test_kustomize_output_is_plain_multi_document_yaml() -> None:
    docs = _types("kustomized.yaml", POD + b"---\n" + POD.replace(b"name: p", b"name: q"))
    assert docs == [("kubernetes", "Pod", "Pod/p"), ("kubernetes", "Pod", "Pod/q")]


def test_unrendered_helm_template_is_a_clear_skip() -> None:
    template = b"apiVersion: v1\nkind: Service\nmetadata:\n  name: {{ .Release.Name }}\n" \
               b"{{- if .Values.x }}\nspec: {}\n{{- end }}\n"
    outcome = SCANNER.scan_bytes("chart/templates/svc.yaml", template)
    assert [s.reason.split(" (")[0] for s in outcome.skipped] == ["unrendered Helm template"]


def test_terraform_module_sees_companions_across_files() -> None:
    bucket = b'resource "aws_s3_bucket" "b" { bucket = "x" }\n'
    versioning = b'resource "aws_s3_bucket_versioning" "b" {\n  bucket = aws_s3_bucket.b.id\n' \
                 b'  versioning_configuration { status = "Enabled" }\n}\n'
    alone = SCANNER.scan_files([("mod/main.tf", bucket)])
    together = SCANNER.scan_files([("mod/main.tf", bucket), ("mod/versioning.tf", versioning)])
    assert "SW-AWS-005" in {f.id for f in alone.findings}
    assert "SW-AWS-005" not in {f.id for f in together.findings}


def test_variable_defaults_are_resolved() -> None:
    source = b'variable "public" { default = true }\n' \
             b'resource "aws_db_instance" "d" {\n  publicly_accessible = var.public\n' \
             b'  storage_encrypted = var.unknown\n}\n'
    found = {f.id for f in SCANNER.scan_bytes("main.tf", source).findings}
    assert "SW-AWS-013" in found  # var.public resolved to true
    assert "SW-AWS-012" not in found  # var.unknown has no default: not known, not flagged


def test_terraform_plan_json() -> None:
    plan = {"format_version": "1.2", "terraform_version": "1.9.0", "planned_values": {
        "root_module": {"resources": [
            {"address": "aws_s3_bucket.b", "mode": "managed", "type": "aws_s3_bucket",
             "name": "b", "values": {"bucket": "shop", "acl": "public-read"}}],
            "child_modules": [{"resources": [
                {"address": "module.net.aws_security_group.web", "mode": "managed",
                 "type": "aws_security_group", "name": "web", "values": {"ingress": [
                     {"from_port": 22, "to_port": 22, "protocol": "tcp",
                      "cidr_blocks": ["0.0.0.0/0"]}]}}]}]}}}
    outcome = SCANNER.scan_bytes("plan.json", json.dumps(plan).encode())
    found = {(f.id, f.location.resource) for f in outcome.findings}
    assert ("SW-AWS-001", "aws_s3_bucket.b") in found
    assert ("SW-AWS-030", "module.net.aws_security_group.web") in found


def test_cloudformation_json_has_line_numbers() -> None:
    template = json.dumps({"Resources": {"V": {"Type": "AWS::EC2::Volume", "Properties": {
        "Size": 1, "Encrypted": False}}}}, indent=2).encode()
    [finding] = SCANNER.scan_bytes("t.json", template).findings
    assert finding.id == "SW-CFN-014" and finding.location.line == 7


def test_github_on_key_is_not_a_boolean() -> None:
    workflow = b"on: pull_request_target\njobs:\n  t:\n    runs-on: x\n    permissions: {}\n" \
               b"    steps:\n      - uses: actions/checkout@v4\n        with:\n" \
               b"          ref: ${{ github.event.pull_request.head.sha }}\n"
    outcome = SCANNER.scan_bytes(".github/workflows/t.yml", workflow)
    [finding] = [f for f in outcome.findings if f.id == "SW-GHA-002"]
    assert (finding.location.line, finding.location.end_line) == (8, 9)


def test_helm_documents_of_one_template_count_lines_across_sections() -> None:
    section = b"---\n# Source: shop/templates/pods.yaml\napiVersion: v1\nkind: Pod\n" \
              b"metadata: {name: %s}\nspec:\n  hostPID: true\n  containers: []\n"
    outcome = SCANNER.scan_bytes("out.yaml", (section % b"a") + (section % b"b"))
    lines = sorted((f.location.resource, f.location.line, f.evidence["rendered_line"])
                   for f in outcome.findings if f.id == "SW-K8S-003")
    # each section is 6 lines after its comment: the second Pod continues the template
    assert lines == [("Pod/a", 5, 7), ("Pod/b", 12, 15)]
