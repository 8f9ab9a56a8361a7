"""Hostile and broken input: one clear skip per file, the rest scanned, never a hang."""

from __future__ import annotations

import time
from pathlib import Path

from stackwarden.detect.misconfig import scan_config

GOOD_POD = "apiVersion: v1\nkind: Pod\nmetadata: {name: ok}\nspec:\n  hostPID: true\n" \
           "  containers: [{name: c, image: x}]\n"
LAUGHS = ["apiVersion: v1", "kind: ConfigMap", "metadata: {name: lol}", "data:",
          '  a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
for i in range(1, 10):
    previous, current = chr(96 + i), chr(97 + i)
    LAUGHS.append(f"  {current}: &{current} [" + ",".join([f"*{previous}"] * 9) + "]")

BAD: dict[str, tuple[bytes, str]] = {
    "broken.yaml": (b"apiVersion: v1\nkind: Pod\nmetadata: {name: [}\n", "invalid YAML at line 3"),
    "bomb.yaml": ("\n".join(LAUGHS).encode(), "alias bomb"),
    "deep.yaml": (b"apiVersion: v1\nkind: Pod\nspec:" + b"".join(
        b"\n" + b"  " * i + b"a:" for i in range(1, 400)) + b" 1\n", "deeper than"),
    "flow.yaml": (b"apiVersion: v1\nkind: Pod\nspec: " + b"[" * 3000 + b"]" * 3000,
                  "maximum nesting depth"),
    "binary.yaml": (b"apiVersion\x00kind\x00\xff\xfe", "not UTF-8"),
    "nul.yaml": (b"apiVersion: v1\nkind: Pod\x00\n", "binary content"),
    "main.tf": (b'resource "aws_s3_bucket" "b" {\n  acl = \n', "invalid HCL at line"),
    "template.json": (b'{"AWSTemplateFormatVersion": "2010-09-09", "Resources": {', "invalid"),
    "plan.json": (b'{"format_version": "1.2", "terraform_version": "1.9", ' + b"[" * 5000,
                  "invalid JSON"),
    "Dockerfile": (b"FROM alpine:3\nRUN <<EOF\necho never closed\n", "unterminated heredoc"),
    "api.Dockerfile": (b"FROM alpine:3\nFROBNICATE now\n", "unknown instruction FROBNICATE"),
    "empty.Dockerfile": (b"\n\n", "empty Dockerfile"),
    "huge.yaml": (b"apiVersion: v1\nkind: List\nitems:\n" + b"- x\n" * (4_300_000), "larger than"),
}


def test_each_bad_file_is_one_skip_and_the_rest_is_scanned(tmp_path: Path) -> None:
    for name, (data, _) in BAD.items():
        folder = tmp_path / name.replace(".", "_")
        folder.mkdir()
        (folder / name).write_bytes(data)
    (tmp_path / "ok.yaml").write_text(GOOD_POD)
    (tmp_path / "crd.yaml").write_text("apiVersion: example.com/v1\nkind: Widget\n"
                                       "metadata: {name: w}\nspec: {privileged: true}\n")
    (tmp_path / "unknown.tf").write_text('resource "acme_thing" "t" { public = true }\n')
    started = time.perf_counter()
    outcome = scan_config(tmp_path)
    elapsed = time.perf_counter() - started
    reasons = {s.path.rsplit("/", 1)[-1]: s.reason for s in outcome.skipped}
    assert len(outcome.skipped) == len(BAD), reasons
    for name, (_, needle) in BAD.items():
        assert needle in reasons[name], (name, reasons[name])
    assert {(f.location.path, f.id) for f in outcome.findings if f.id == "SW-K8S-003"} == {
        ("ok.yaml", "SW-K8S-003")}
    assert not [f for f in outcome.findings if f.location.path in ("crd.yaml", "unknown.tf")]
    assert elapsed < 30, elapsed


def test_large_valid_stream_is_scanned_in_bounded_time(tmp_path: Path) -> None:
    pod = "---\napiVersion: v1\nkind: Pod\nmetadata: {name: p%d}\nspec:\n" \
          "  containers: [{name: c, image: 'x:1', securityContext: {privileged: true}}]\n"
    (tmp_path / "many.yaml").write_text("".join(pod % i for i in range(1000)))
    started = time.perf_counter()
    outcome = scan_config(tmp_path / "many.yaml")
    assert sum(1 for f in outcome.findings if f.id == "SW-K8S-001") == 1000
    assert time.perf_counter() - started < 60
