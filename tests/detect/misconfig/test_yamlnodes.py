"""The line-aware YAML loader: values, exact line ranges, merges, tags, limits."""

from __future__ import annotations

import time

import pytest

from stackwarden.detect.misconfig.model import ConfigParseError
from stackwarden.detect.misconfig.source import intrinsic_tag
from stackwarden.detect.misconfig.yamlnodes import load_documents, span

DOC = """\
defaults: &d
  a: 1
  b: |
    hello
    world
svc:
  <<: *d
  a: 2
  list:
    - x
    - {y: 1,
       z: 2}
on: push
n: 012
f: 1.5
t: yes
nothing: ~
"""


def test_values_follow_yaml_1_1_but_keys_stay_text() -> None:
    [(doc, start, end)] = load_documents(DOC)
    assert (start, end) == (1, 17)
    assert doc["svc"] == {"a": 2, "list": ["x", {"y": 1, "z": 2}], "b": "hello\nworld\n"}
    assert doc["on"] == "push" and doc["n"] == 10 and doc["f"] == 1.5 and doc["t"] is True
    assert doc["nothing"] is None


@pytest.mark.parametrize(("path", "key", "lines"), [
    ((), "defaults", (1, 5)),
    (("defaults",), "b", (3, 5)),
    (("svc",), "list", (9, 12)),
    (("svc", "list"), 1, (11, 12)),
    (("svc",), None, (7, 12)),
    (("svc",), "b", (3, 5)),  # merged keys keep the lines where they are written
])
def test_line_ranges(path: tuple[str, ...], key: str | int | None, lines: tuple[int, int]) -> None:
    [(doc, _, _)] = load_documents(DOC)
    node = doc
    for step in path:
        node = node[step]
    assert span(node, key) == lines


def test_multi_document_stream_with_empty_documents() -> None:
    docs = load_documents("---\na: 1\n---\n---\n# c\nkind: Pod\n...\n")
    assert [d[0] for d in docs] == [{"a": 1}, None, {"kind": "Pod"}]
    assert docs[2][1] == 6


def test_cloudformation_short_forms() -> None:
    text = "a: !Ref X\nb: !GetAtt R.Arn\nc: !Sub 'x-${Y}'\nd: !If [c, 1, 2]\ne: !reference [a, b]\n"
    [(doc, _, _)] = load_documents(text, tags=intrinsic_tag)
    assert doc == {"a": {"Ref": "X"}, "b": {"Fn::GetAtt": ["R", "Arn"]}, "c": {"Fn::Sub": "x-${Y}"},
                   "d": {"Fn::If": ["c", 1, 2]}, "e": {"!reference": ["a", "b"]}}


def test_billion_laughs_is_refused_fast() -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        prev, cur = chr(96 + i), chr(97 + i)
        lines.append(f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 9) + "]")
    started = time.perf_counter()
    with pytest.raises(ConfigParseError, match="alias bomb"):
        load_documents("\n".join(lines))
    assert time.perf_counter() - started < 1.0


def test_shared_aliases_within_budget_are_fine() -> None:
    [(doc, _, _)] = load_documents("base: &b {x: 1}\none: *b\ntwo: *b\n")
    assert doc["one"] == doc["two"] == {"x": 1}


@pytest.mark.parametrize(("text", "needle"), [
    ("a: [1\nb: 2", "line 2"),
    ("a:\n  - b\n c: d", "line 3"),
    ("key: 'unterminated", "line 1"),
    ("a:" + "".join("\n" + "  " * i + "b:" for i in range(1, 300)) + " 1", "deeper than"),
    ("[" * 5000 + "]" * 5000, "nesting"),
])
def test_invalid_yaml_names_the_line(text: str, needle: str) -> None:
    with pytest.raises(ConfigParseError, match=needle):
        load_documents(text)
