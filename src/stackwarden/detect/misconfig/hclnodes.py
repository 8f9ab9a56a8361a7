"""HCL (Terraform) to plain Python with line ranges, through tree-sitter-hcl.

Literal values become Python values; anything Terraform computes at plan time (references,
interpolations, conditionals, function calls) becomes an `Expr`, a `str` subclass holding the
source text, so checks can tell "known to be false" from "not known here". `jsonencode({...})`
is converted to its object, because IAM policies are usually written that way.
Nested blocks become lists of mappings (`versioning { ... }` -> `body["versioning"][0]`), the
same shape `terraform show -json` uses, so one check reads both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from stackwarden.detect.misconfig.model import ConfigParseError
from stackwarden.detect.misconfig.yamlnodes import YamlMap, YamlSeq

MAX_DEPTH = 128
_ESCAPES = re.compile(r"\\(u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|.)|\$\$\{|%%\{", re.DOTALL)
_SIMPLE = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}


class Expr(str):
    """A value only known at plan time, kept as its HCL source text (`var.x`, `"a-${b}"`)."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class HclBlock:
    """One top-level block: `resource "aws_s3_bucket" "logs" { ... }`."""

    type: str
    labels: tuple[str, ...]
    body: YamlMap
    line: int
    end_line: int


@cache
def _parser() -> Any:
    import tree_sitter
    import tree_sitter_hcl

    return tree_sitter.Parser(tree_sitter.Language(tree_sitter_hcl.language()))


def _unescape(raw: str) -> str:
    def repl(match: re.Match[str]) -> str:
        text = match.group(0)
        if text == "$${":
            return "${"
        if text == "%%{":
            return "%{"
        code = match.group(1)
        if code[0] in "uU" and len(code) > 1:
            return chr(int(code[1:], 16))
        return _SIMPLE.get(code, text)

    return _ESCAPES.sub(repl, raw) if ("\\" in raw or "$$" in raw or "%%" in raw) else raw


def _text(node: Any) -> str:
    return node.text.decode("utf-8", "replace")


def _first_error(node: Any) -> Any:
    """The first ERROR or MISSING node, depth first (only walks subtrees that have errors)."""
    stack = [node]
    while stack:
        current = stack.pop()
        if current.type == "ERROR" or current.is_missing:
            return current
        stack.extend(c for c in reversed(current.children) if c.has_error or c.is_missing)
    return node


class _Converter:
    def __init__(self) -> None:
        self.depth = 0

    def value(self, node: Any) -> Any:
        """The Python value of an expression node."""
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise ConfigParseError(f"HCL nested deeper than {MAX_DEPTH} levels at line "
                                       f"{node.start_point.row + 1}")
            return self._value(node)
        finally:
            self.depth -= 1

    def _value(self, node: Any) -> Any:
        kind = node.type
        if kind in ("expression", "literal_value", "collection_value"):
            kids = node.named_children
            if len(kids) == 1:
                return self.value(kids[0])
            return Expr(_text(node))
        if kind == "string_lit":
            parts = [c for c in node.named_children if c.type == "template_literal"]
            return _unescape("".join(_text(p) for p in parts))
        if kind == "numeric_lit":
            raw = _text(node)
            try:
                return int(raw)
            except ValueError:
                return float(raw)
        if kind == "bool_lit":
            return _text(node) == "true"
        if kind == "null_lit":
            return None
        if kind == "tuple":
            return self._tuple(node)
        if kind == "object":
            return self._object(node)
        if kind == "template_expr":
            return self._template(node.named_children[0])
        if kind == "operation":
            inner = node.named_children[0] if node.named_children else node
            kids = inner.named_children
            if (inner.type == "unary_operation" and _text(inner).startswith("-") and kids
                    and isinstance(number := self.value(kids[-1]), (int, float))
                    and not isinstance(number, bool)):
                return -number
        if kind == "function_call":
            name = node.named_children[0]
            args = [c for c in node.named_children if c.type == "function_arguments"]
            if _text(name) == "jsonencode" and args and args[0].named_children:
                return self.value(args[0].named_children[0])
        return Expr(_text(node))

    def _template(self, node: Any) -> Any:
        if node.type == "heredoc_template":
            pieces = [c for c in node.named_children if c.type not in ("heredoc_identifier",
                                                                      "heredoc_start")]
            text = "".join(_text(p) for p in pieces)
            if node.child(0) is not None and _text(node.child(0)) == "<<-":
                text = _dedent(text)
            has_expr = any(p.type != "template_literal" for p in pieces)
            return Expr(text) if has_expr else text
        inner = [c for c in node.named_children
                 if c.type not in ("quoted_template_start", "quoted_template_end")]
        return Expr("".join(_unescape(_text(c)) if c.type == "template_literal" else _text(c)
                            for c in inner))

    def _tuple(self, node: Any) -> YamlSeq:
        seq = YamlSeq(node.start_point.row + 1, node.end_point.row + 1)
        for child in node.named_children:
            if child.type == "expression":
                seq.append(self.value(child))
                seq.item_lines.append((child.start_point.row + 1, child.end_point.row + 1))
        return seq

    def _object(self, node: Any) -> YamlMap:
        obj = YamlMap(node.start_point.row + 1, node.end_point.row + 1)
        for elem in node.named_children:
            if elem.type != "object_elem":
                continue
            exprs = [c for c in elem.named_children if c.type == "expression"]
            if len(exprs) != 2:
                continue
            key_node = exprs[0].named_children[0] if exprs[0].named_children else exprs[0]
            key = _text(key_node) if key_node.type == "variable_expr" else self.value(exprs[0])
            key = str(key)
            obj[key] = self.value(exprs[1])
            obj.key_lines[key] = (elem.start_point.row + 1, elem.end_point.row + 1)
        return obj

    def body(self, node: Any | None, line: int, end_line: int) -> YamlMap:
        """A block body: attributes as values, nested blocks as lists of bodies."""
        out = YamlMap(line, end_line)
        if node is None:
            return out
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ConfigParseError(f"HCL blocks nested deeper than {MAX_DEPTH} levels")
        for child in node.named_children:
            start, end = child.start_point.row + 1, child.end_point.row + 1
            if child.type == "attribute":
                name = _text(child.named_children[0])
                out[name] = self.value(child.named_children[1])
                out.key_lines[name] = (start, end)
            elif child.type == "block":
                block_type, labels, inner = self.split_block(child)
                if block_type == "dynamic" and labels:
                    # dynamic "ingress" { content { ... } }: one generated block, values unknown
                    block_type = labels[0]
                    contents = inner.get("content") if isinstance(inner.get("content"), list) else []
                    inner = contents[0] if contents else inner
                existing = out.get(block_type)
                if not isinstance(existing, YamlSeq):
                    existing = YamlSeq(start, end)
                    out[block_type] = existing
                existing.append(inner)
                existing.item_lines.append((start, end))
                first = out.key_lines.get(block_type, (start, end))[0]
                out.key_lines[block_type] = (first, end)
                existing.end_line = end
        self.depth -= 1
        return out

    def split_block(self, node: Any) -> tuple[str, tuple[str, ...], YamlMap]:
        """A block's type, labels and converted body."""
        kids = node.named_children
        block_type = _text(kids[0])
        labels: list[str] = []
        body_node = None
        for kid in kids[1:]:
            if kid.type == "string_lit":
                labels.append(str(self.value(kid)))
            elif kid.type == "identifier":
                labels.append(_text(kid))
            elif kid.type == "body":
                body_node = kid
        return block_type, tuple(labels), self.body(body_node, node.start_point.row + 1,
                                                    node.end_point.row + 1)


def _dedent(text: str) -> str:
    lines = text.split("\n")
    indents = [len(line) - len(line.lstrip()) for line in lines if line.strip()]
    cut = min(indents) if indents else 0
    return "\n".join(line[cut:] for line in lines)


def parse_hcl(data: bytes, source: str = "") -> list[HclBlock]:
    """The top-level blocks of one HCL file; raises ConfigParseError naming the line."""
    tree = _parser().parse(data)
    root = tree.root_node
    if root.has_error:
        bad = _first_error(root)
        raise ConfigParseError(f"invalid HCL at line {bad.start_point.row + 1}", source=source)
    converter = _Converter()
    blocks: list[HclBlock] = []
    body = next((c for c in root.named_children if c.type == "body"), None)
    if body is None:
        return blocks
    try:
        for child in body.named_children:
            if child.type != "block":
                continue
            block_type, labels, inner = converter.split_block(child)
            blocks.append(HclBlock(block_type, labels, inner, child.start_point.row + 1,
                                   child.end_point.row + 1))
    except ConfigParseError as exc:
        raise ConfigParseError(exc.message, source=source) from None
    except RecursionError:
        raise ConfigParseError("HCL nested too deeply", source=source) from None
    return blocks
