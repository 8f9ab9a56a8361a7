"""HCL through tree-sitter: literal values, plan-time expressions, blocks, lines, errors."""

from __future__ import annotations

import pytest

from stackwarden.detect.misconfig.hclnodes import Expr, parse_hcl
from stackwarden.detect.misconfig.model import ConfigParseError
from stackwarden.detect.misconfig.yamlnodes import span

SOURCE = b'''
resource "aws_s3_bucket" "b" {
  bucket = "x\\"y"
  acl    = "public-read"
  tags   = { a = 1, "b" = var.x }
  count  = -1
  name   = "logs-${var.env}"
  policy = jsonencode({Statement = [{Action = "*", Effect = "Allow"}]})
  doc    = <<-EOT
    {"a": 1}
    EOT
  versioning { enabled = true }
  dynamic "ingress" {
    for_each = var.rules
    content { from_port = 22 }
  }
  ingress { from_port = 80 }
}
// comment
data "aws_iam_policy_document" "p" {}
'''


def test_values_and_expressions() -> None:
    bucket, data = parse_hcl(SOURCE)
    body = bucket.body
    assert (bucket.type, bucket.labels, data.labels) == (
        "resource", ("aws_s3_bucket", "b"), ("aws_iam_policy_document", "p"))
    assert body["bucket"] == 'x"y' and body["acl"] == "public-read" and body["count"] == -1
    assert body["tags"] == {"a": 1, "b": "var.x"} and isinstance(body["tags"]["b"], Expr)
    assert isinstance(body["name"], Expr) and body["name"] == "logs-${var.env}"
    assert body["policy"] == {"Statement": [{"Action": "*", "Effect": "Allow"}]}
    assert body["doc"].strip() == '{"a": 1}' and not isinstance(body["doc"], Expr)
    assert body["versioning"] == [{"enabled": True}]
    assert body["ingress"] == [{"from_port": 22}, {"from_port": 80}]


def test_line_ranges() -> None:
    bucket, data = parse_hcl(SOURCE)
    assert (bucket.line, bucket.end_line) == (2, 18)
    assert span(bucket.body, "acl") == (4, 4)
    assert span(bucket.body, "doc") == (9, 11)
    assert span(bucket.body["ingress"], 1) == (17, 17)
    assert (data.line, data.end_line) == (20, 20)


@pytest.mark.parametrize(("source", "line"), [
    (b'resource "a" "b" {\n  x = \n}\n', 2),
    (b'resource "a" "b" {\n  x = 1\n', 3),  # the missing brace, at the end
    (b'locals {\n  a = [1, 2\n}\n', 3),  # where the tuple meets the closing brace
    (b'\n\n}}}', 3),
])
def test_invalid_hcl_names_a_line(source: bytes, line: int) -> None:
    with pytest.raises(ConfigParseError, match=f"invalid HCL at line {line}"):
        parse_hcl(source, "main.tf")


def test_deep_nesting_is_refused() -> None:
    source = b"locals {\n  a = " + b"[" * 400 + b"1" + b"]" * 400 + b"\n}\n"
    with pytest.raises(ConfigParseError, match="deeper"):
        parse_hcl(source)
