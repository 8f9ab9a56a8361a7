"""Terraform: `.tf` (HCL through tree-sitter), `.tf.json`, and `terraform show -json` plans.

Every `resource`, `data`, `provider` and `module` block is a document (`kind` is the
resource type, `data.<type>`, `provider.<name>` or `module`). The `.tf` files of one
directory form a module: checks see the module (`Document.context`) to find companion
resources, e.g. the `aws_s3_bucket_versioning` that refers to a bucket. `var.x` and
`local.x` are replaced by literal defaults when the module declares them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from stackwarden.core.models import Skipped
from stackwarden.detect.misconfig.hclnodes import Expr, parse_hcl
from stackwarden.detect.misconfig.model import ConfigParseError, Document, FileType
from stackwarden.detect.misconfig.source import SourceFile
from stackwarden.detect.misconfig.yamlnodes import YamlMap, YamlSeq

NAME = "terraform"
BLOCKS = ("resource", "data", "provider", "module")
MAX_RESOLVE_NODES = 200_000


@dataclass
class Module:
    """All documents of one Terraform module (or plan), by kind."""

    by_kind: dict[str, list[Document]] = field(default_factory=lambda: defaultdict(list))

    def of_kind(self, kind: str) -> list[Document]:
        """Documents of one resource type."""
        return self.by_kind.get(kind, [])

    def referencing(self, kind: str, target: Document, *attrs: str) -> Iterator[Document]:
        """Documents of `kind` whose `attrs` refer to `target` (by address or literal name)."""
        names = {target.name}
        for key in ("bucket", "name", "id"):
            value = target.body.get(key) if isinstance(target.body, dict) else None
            if isinstance(value, str) and not isinstance(value, Expr):
                names.add(value)
        for doc in self.of_kind(kind):
            for attr in attrs:
                value = doc.body.get(attr) if isinstance(doc.body, dict) else None
                if isinstance(value, str) and (value in names or any(
                        value.startswith(n + ".") or f"{n}." in value for n in names
                        if "." in n)):
                    yield doc
                    break


def is_module_file(path: str) -> bool:
    """HCL or JSON Terraform configuration (scanned per directory)."""
    return path.endswith((".tf", ".tf.json"))


def _plan_candidate(path: str) -> bool:
    return path.lower().endswith(".json") and not path.endswith(".tf.json")


def _plan_sniff(src: SourceFile) -> bool:
    head = src.data[:4096]
    return b'"format_version"' in head and (b'"terraform_version"' in head
                                            or b'"planned_values"' in head)


def _blocks_of_json(data: Any) -> Iterator[tuple[str, tuple[str, ...], Any]]:
    """(block type, labels, body) from the JSON configuration syntax."""
    if not isinstance(data, dict):
        return
    for block_type in BLOCKS + ("variable", "locals"):
        section = data.get(block_type)
        for section_item in section if isinstance(section, list) else [section]:
            if not isinstance(section_item, dict):
                continue
            if block_type in ("resource", "data"):
                for rtype, named in section_item.items():
                    for name, body in (named or {}).items() if isinstance(named, dict) else ():
                        for one in body if isinstance(body, list) else [body]:
                            yield block_type, (rtype, name), one
            elif block_type == "locals":
                yield block_type, (), section_item
            else:
                for name, body in section_item.items():
                    for one in body if isinstance(body, list) else [body]:
                        yield block_type, (name,), one


def _document(path: str, block_type: str, labels: tuple[str, ...], body: Any,
              line: int | None, end: int | None, module: Module) -> Document | None:
    if not isinstance(body, dict):
        return None
    if block_type == "resource" and len(labels) >= 2:
        kind, name = labels[0], f"{labels[0]}.{labels[1]}"
    elif block_type == "data" and len(labels) >= 2:
        kind, name = f"data.{labels[0]}", f"data.{labels[0]}.{labels[1]}"
    elif block_type == "provider" and labels:
        kind, name = f"provider.{labels[0]}", f"provider.{labels[0]}"
    elif block_type == "module" and labels:
        kind, name = "module", f"module.{labels[0]}"
    else:
        return None
    return Document(NAME, kind, name, body, path=path, line=line, end_line=end, context=module)


def parse_module(sources: list[SourceFile]) -> tuple[list[Document], list[Skipped]]:
    """The documents of one directory's Terraform files; broken files are skipped."""
    module = Module()
    documents: list[Document] = []
    skipped: list[Skipped] = []
    values: dict[str, Any] = {}
    for src in sorted(sources, key=lambda s: s.path):
        found: list[tuple[str, tuple[str, ...], Any, int | None, int | None]]
        try:
            if src.path.endswith(".tf.json"):
                found = [(t, labels, body, None, None) for t, labels, body in
                         _blocks_of_json(src.json())]
            else:
                src.text  # noqa: B018 - refuses binary and oversized files with a reason
                found = [(b.type, b.labels, b.body, b.line, b.end_line)
                         for b in parse_hcl(src.data, src.path)]
        except ConfigParseError as exc:
            skipped.append(Skipped(src.path, exc.message, "misconfig"))
            continue
        for block_type, labels, body, line, end in found:
            if block_type == "variable" and labels and isinstance(body, dict):
                default = body.get("default")
                if default is not None and not isinstance(default, Expr):
                    values[f"var.{labels[0]}"] = default
            elif block_type == "locals" and isinstance(body, dict):
                for key, value in body.items():
                    if not isinstance(value, (Expr, dict, list)):
                        values[f"local.{key}"] = value
            doc = _document(src.path, block_type, labels, body, line, end, module)
            if doc is not None:
                documents.append(doc)
                module.by_kind[doc.kind].append(doc)
    if values:
        budget = [MAX_RESOLVE_NODES]
        for doc in documents:
            _resolve(doc.body, values, budget)
    return documents, skipped


def _resolve(node: Any, values: dict[str, Any], budget: list[int]) -> None:
    """Replace `var.x`/`local.x` expressions by their literal values, in place."""
    stack = [node]
    while stack and budget[0] > 0:
        current = stack.pop()
        budget[0] -= 1
        if isinstance(current, dict):
            for key, value in current.items():
                if isinstance(value, Expr) and value in values:
                    current[key] = values[value]
                elif isinstance(value, (dict, list)):
                    stack.append(value)
        elif isinstance(current, list):
            for index, value in enumerate(current):
                if isinstance(value, Expr) and value in values:
                    current[index] = values[value]
                elif isinstance(value, (dict, list)):
                    stack.append(value)


def parse_plan(src: SourceFile) -> list[Document]:
    """Documents for the planned resources of a `terraform show -json` plan."""
    plan = src.json()
    if not isinstance(plan, dict) or "format_version" not in plan:
        return []
    root = plan.get("planned_values", {}).get("root_module") \
        if isinstance(plan.get("planned_values"), dict) else None
    if root is None and isinstance(plan.get("values"), dict):  # `terraform show -json` state
        root = plan["values"].get("root_module")
    module = Module()
    documents: list[Document] = []
    stack = [root] if isinstance(root, dict) else []
    while stack:
        current = stack.pop()
        for resource in current.get("resources") or []:
            if not isinstance(resource, dict) or not isinstance(resource.get("values"), dict):
                continue
            rtype = str(resource.get("type", "?"))
            kind = rtype if resource.get("mode", "managed") == "managed" else f"data.{rtype}"
            doc = Document(NAME, kind, str(resource.get("address", rtype)),
                           _plain(resource["values"]), path=src.path, context=module)
            documents.append(doc)
            module.by_kind[kind].append(doc)
        stack.extend(c for c in current.get("child_modules") or [] if isinstance(c, dict))
    return documents


def _plain(value: Any) -> Any:
    """JSON values as YamlMap/YamlSeq (no lines) so checks treat every source alike."""
    if isinstance(value, dict):
        out = YamlMap()
        for key, item in value.items():
            out[key] = _plain(item)
        return out
    if isinstance(value, list):
        seq = YamlSeq()
        seq.extend(_plain(v) for v in value)
        return seq
    return value


def parse(src: SourceFile) -> list[Document]:
    """A single `.tf`/`.tf.json` file as its own module, or a plan file."""
    if is_module_file(src.path):
        documents, skipped = parse_module([src])
        if skipped:
            raise ConfigParseError(skipped[0].reason, source=src.path)
        return documents
    return parse_plan(src)


FILE_TYPE = FileType(NAME, claims=is_module_file, candidate=_plan_candidate, sniff=_plan_sniff,
                     parse=parse)
