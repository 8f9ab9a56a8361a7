"""Custom checks written in CEL (the language of Kubernetes ValidatingAdmissionPolicy).

A policy file is YAML (one policy per document, or a list):

    id: ORG-001
    title: Deployments declare an owner
    severity: medium
    match: {file_types: [kubernetes], kinds: [Deployment]}
    expression: "has(object.metadata.labels) && 'owner' in object.metadata.labels"
    message: "no owner label"          # optional
    description / remediation / references / controls   # optional

As in a ValidatingAdmissionPolicy, `expression` states what a *compliant* document looks
like: a document for which it is false is a finding. Variables: `object` (the parsed
document: a Kubernetes object, a Terraform resource body, a CloudFormation resource, a
Compose service, a workflow, the Dockerfile model, an image config), `kind`, `name`,
`file_type` and `path`. A policy that does not compile stops the scan with an error naming
the file and the expression; one that fails on a document is recorded as a skip.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from stackwarden.core.findings import Severity
from stackwarden.detect.misconfig.model import Check, Document, Hit, PolicyError, TestFunc
from stackwarden.detect.misconfig.registry import FILE_TYPES
from stackwarden.detect.misconfig.yamlnodes import load_documents

FIELDS = frozenset({"id", "title", "severity", "description", "remediation", "references",
                    "controls", "match", "expression", "message"})
MATCH_FIELDS = frozenset({"file_type", "file_types", "kind", "kinds", "resource_type",
                          "resource_types"})
SUFFIXES = (".yaml", ".yml")
MAX_POLICY_BYTES = 1024 * 1024


class PolicyEvaluationError(Exception):
    """A CEL policy failed on one document (missing field, wrong type, non-boolean)."""


def _strings(value: Any, where: str, source: str) -> list[str]:
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(v, str) and v for v in items):
        raise PolicyError(f"{where} must be a string or a list of strings", source=source)
    return list(items)


def _compile(expression: str, source: str, policy_id: str) -> Any:
    import cel

    try:
        return cel.compile(expression)
    except Exception as exc:  # noqa: BLE001 - the CEL binding raises ValueError/RuntimeError
        raise PolicyError(f"policy {policy_id}: CEL expression `{expression}` does not compile: "
                          f"{exc}", source=source) from None


def _make_test(program: Any, expression: str, message: str) -> TestFunc:
    def test(doc: Document) -> Iterator[Hit]:
        context = {"object": doc.body, "kind": doc.kind, "name": doc.name,
                   "file_type": doc.file_type, "path": doc.path}
        try:
            result = program.execute(context)
        except Exception as exc:  # noqa: BLE001 - CEL raises KeyError/TypeError/ValueError
            raise PolicyEvaluationError(f"{expression!r}: {type(exc).__name__}: {exc}") from None
        if not isinstance(result, bool):
            raise PolicyEvaluationError(f"{expression!r} returned {type(result).__name__}, "
                                        "not a boolean")
        if not result:
            yield Hit(message, None, None, "policy")
    return test


def policy_checks(raw: Any, source: str) -> list[Check]:
    """The checks one parsed policy document defines (one Check per file type)."""
    if not isinstance(raw, dict):
        raise PolicyError("a policy must be a mapping", source=source)
    unknown = sorted(set(raw) - FIELDS)
    if unknown:
        raise PolicyError(f"unknown field(s) {', '.join(unknown)}", source=source)
    for required in ("id", "title", "severity", "expression"):
        if not isinstance(raw.get(required), str) or not raw[required].strip():
            raise PolicyError(f"missing or empty '{required}'", source=source)
    policy_id, expression = raw["id"].strip(), raw["expression"]
    severity = Severity.parse(raw["severity"])
    if severity is Severity.UNKNOWN:
        raise PolicyError(f"policy {policy_id}: unknown severity {raw['severity']!r}",
                          source=source)
    match = raw.get("match") or {}
    if not isinstance(match, dict) or set(match) - MATCH_FIELDS:
        raise PolicyError(f"policy {policy_id}: 'match' takes {', '.join(sorted(MATCH_FIELDS))}",
                          source=source)
    known_types = [t.name for t in FILE_TYPES]
    file_types = []
    for key in ("file_type", "file_types"):
        if key in match:
            file_types += _strings(match[key], f"match.{key}", source)
    for name in file_types:
        if name not in known_types:
            raise PolicyError(f"policy {policy_id}: unknown file type {name!r} (known: "
                              f"{', '.join(known_types)})", source=source)
    kinds: list[str] = []
    for key in ("kind", "kinds", "resource_type", "resource_types"):
        if key in match:
            kinds += _strings(match[key], f"match.{key}", source)
    program = _compile(expression, source, policy_id)
    message = str(raw["message"]) if isinstance(raw.get("message"), str) else \
        f"does not satisfy {expression}"
    test = _make_test(program, expression, message)
    return [Check(id=policy_id, title=raw["title"], severity=severity, file_type=file_type,
                  test=test, description=str(raw.get("description") or raw["title"]),
                  remediation=str(raw.get("remediation") or ""),
                  references=tuple(_strings(raw.get("references") or [], "references", source))
                  if raw.get("references") else (),
                  controls=tuple(_strings(raw.get("controls") or [], "controls", source))
                  if raw.get("controls") else (),
                  kinds=frozenset(kinds))
            for file_type in (file_types or known_types)]


def load_policy_file(path: Path) -> list[Check]:
    """Every policy in one YAML file."""
    source = str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PolicyError(f"cannot read policy file: {exc.strerror}", source=source) from None
    if len(data) > MAX_POLICY_BYTES:
        raise PolicyError("policy file larger than 1 MiB", source=source)
    try:
        documents = load_documents(data.decode("utf-8"), source=source)
    except UnicodeDecodeError:
        raise PolicyError("policy file is not UTF-8", source=source) from None
    except Exception as exc:  # noqa: BLE001 - ConfigParseError: report it as a policy error
        raise PolicyError(str(getattr(exc, "message", exc)), source=source) from None
    checks: list[Check] = []
    for value, _, _ in documents:
        for raw in value if isinstance(value, list) else [value]:
            if raw is not None:
                checks.extend(policy_checks(raw, source))
    return checks


def load_policies(directory: Path, *, builtin_ids: set[str] | None = None) -> list[Check]:
    """Every policy under a directory (`*.yaml`, `*.yml`, recursively, sorted)."""
    if not directory.is_dir():
        raise PolicyError("not a directory", source=str(directory))
    checks: list[Check] = []
    seen: dict[str, str] = {}
    for path in sorted(p for p in directory.rglob("*") if p.suffix in SUFFIXES and p.is_file()):
        for item in load_policy_file(path):
            if builtin_ids and item.id in builtin_ids:
                raise PolicyError(f"policy id {item.id} is a built-in check id", source=str(path))
            owner = seen.setdefault(item.id, str(path))
            if owner != str(path):
                raise PolicyError(f"policy id {item.id} is also defined in {owner}",
                                  source=str(path))
            checks.append(item)
    return checks
