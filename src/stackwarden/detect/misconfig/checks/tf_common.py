"""Helpers for Terraform checks: nested blocks, companion resources, IAM policy documents,
and network rules open to the internet."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from stackwarden.detect.misconfig.checks.util import (
    as_list,
    hit,
    is_false,
    is_true,
    mappings,
    unknown,
)
from stackwarden.detect.misconfig.hclnodes import Expr
from stackwarden.detect.misconfig.model import Document, Hit

TF = "terraform"
AWS_DOCS = "https://registry.terraform.io/providers/hashicorp/aws/latest/docs/resources/"
AZ_DOCS = "https://registry.terraform.io/providers/hashicorp/azurerm/latest/docs/resources/"
GCP_DOCS = "https://registry.terraform.io/providers/hashicorp/google/latest/docs/resources/"
MAX_POLICY = 256 * 1024


def blocks(body: Any, name: str) -> list[dict[str, Any]]:
    """Nested blocks (`versioning { }`) as a list of dicts, whatever the source syntax."""
    return list(mappings(body.get(name))) if isinstance(body, dict) else []


def first(body: Any, *path: str) -> Any:
    """Walk nested blocks taking the first of each (`first(b, "versioning", "enabled")`)."""
    current = body
    for step in path:
        if not isinstance(current, dict):
            return None
        value = current.get(step)
        if isinstance(value, list):
            value = next(iter(mappings(value)), None) if value and isinstance(value[0], dict) \
                else value
        current = value
    return current


def at(doc: Document, message: str, key: str | None = None, node: Any = None) -> Hit:
    """A hit on a resource attribute (or the resource when the attribute is absent)."""
    target = doc.body if node is None else node
    present = key is not None and isinstance(target, dict) and key in target
    return hit(message, target, key if present else None, subject=key or "")


def companions(doc: Document, kind: str, *attrs: str) -> list[Document]:
    """Resources of `kind` in the same module that point at `doc` through `attrs`."""
    module = doc.context
    if module is None or not hasattr(module, "referencing"):
        return []
    return list(module.referencing(kind, doc, *attrs))


def has_companion(doc: Document, kind: str, *attrs: str) -> bool:
    """Whether such a companion exists."""
    return bool(companions(doc, kind, *attrs))


def policy_json(value: Any) -> Any:
    """A policy attribute as data: already an object (jsonencode), or a JSON string."""
    if isinstance(value, dict) and not unknown(value):
        return value
    if isinstance(value, str) and not isinstance(value, Expr) and len(value) <= MAX_POLICY:
        try:
            return json.loads(value)
        except ValueError:
            return None
    if isinstance(value, Expr) and value.lstrip().startswith("{") and "${" not in value:
        try:
            return json.loads(value)
        except ValueError:
            return None
    return None


def statements(policy: Any) -> Iterator[dict[str, Any]]:
    """The statements of an IAM policy document (JSON form)."""
    if isinstance(policy, dict):
        yield from mappings(policy.get("Statement"))


def document_statements(doc: Document) -> Iterator[dict[str, Any]]:
    """Statements of a resource's policy, normalised to the JSON keys (Effect, Action,
    Resource, Principal, Condition), including `data.aws_iam_policy_document` blocks."""
    if doc.kind == "data.aws_iam_policy_document":
        for block in blocks(doc.body, "statement"):
            principals: dict[str, list[Any]] = {}
            for p in blocks(block, "principals"):
                principals.setdefault(str(p.get("type")), []).extend(as_list(p.get("identifiers")))
            yield {"Effect": block.get("effect", "Allow"), "Action": block.get("actions"),
                   "NotAction": block.get("not_actions"), "Resource": block.get("resources"),
                   "Principal": principals or None,
                   "Condition": blocks(block, "condition") or None}
        return
    for key in ("policy", "assume_role_policy", "inline_policy"):
        value = doc.body.get(key) if isinstance(doc.body, dict) else None
        for one in as_list(value) if key == "inline_policy" else [value]:
            if key == "inline_policy" and isinstance(one, dict):
                one = one.get("policy")
            yield from statements(policy_json(one))


def allows(statement: dict[str, Any]) -> bool:
    """An Allow statement."""
    return str(statement.get("Effect", "Allow")).lower() == "allow"


def strings(value: Any) -> list[str]:
    """A policy field (string or list) as a list of strings."""
    return [str(v) for v in as_list(value) if isinstance(v, (str, int))]


def open_principal(statement: dict[str, Any]) -> bool:
    """Principal "*" (or {"AWS": "*"})."""
    principal = statement.get("Principal")
    if principal == "*":
        return True
    if isinstance(principal, dict):
        return any("*" in strings(v) for v in principal.values())
    return False


def open_rules(rules: Iterable[tuple[Any, Any, Any]], ports: Callable[[Any], bool]
               ) -> Iterator[Any]:
    """Rules (node, sources, port spec) whose sources include the internet and whose ports
    satisfy `ports`."""
    from stackwarden.detect.misconfig.checks.util import is_open_cidr

    for node, sources, port_spec in rules:
        if any(is_open_cidr(s) for s in as_list(sources)) and ports(port_spec):
            yield node


def attr_not_true(attr: str, message: str) -> Callable[[Document], Iterator[Hit]]:
    """A test: the attribute is not literally true (absent counts; unknown does not)."""
    def test(doc: Document) -> Iterator[Hit]:
        value = doc.body.get(attr)
        if not is_true(value) and not unknown(value):
            yield at(doc, message, attr)
    return test


def attr_true(attr: str, message: str) -> Callable[[Document], Iterator[Hit]]:
    """A test: the attribute is literally true."""
    def test(doc: Document) -> Iterator[Hit]:
        if is_true(doc.body.get(attr)):
            yield at(doc, message, attr)
    return test


def attr_false(attr: str, message: str) -> Callable[[Document], Iterator[Hit]]:
    """A test: the attribute is literally false."""
    def test(doc: Document) -> Iterator[Hit]:
        if is_false(doc.body.get(attr)):
            yield at(doc, message, attr)
    return test


def attr_missing(attr: str, message: str) -> Callable[[Document], Iterator[Hit]]:
    """A test: the attribute is absent or empty."""
    def test(doc: Document) -> Iterator[Hit]:
        if doc.body.get(attr) in (None, ""):
            yield at(doc, message)
    return test
