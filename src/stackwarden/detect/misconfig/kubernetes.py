"""Kubernetes manifests: multi-document YAML (plain, Helm-rendered, Kustomize output), JSON,
`kind: List`, and single objects held in memory (the admission webhook).

Helm's `helm template` output marks each document with `# Source: chart/templates/x.yaml`;
documents under such a comment are reported against that template path, with line numbers
counted within the template's rendered sections (the rendered file's own line is kept in
the finding's evidence as `rendered_line`).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Mapping
from typing import Any

from stackwarden.detect.misconfig.model import (
    ConfigParseError,
    Document,
    FileType,
    never,
)
from stackwarden.detect.misconfig.source import SourceFile

NAME = "kubernetes"
POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "ReplicationController": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
    "PodTemplate": ("template", "spec"),
}
WORKLOAD_KINDS = frozenset(POD_SPEC_PATHS)
_SOURCE = re.compile(rb"^# Source: (.+?)\s*$", re.MULTILINE)
_SUFFIXES = (".yaml", ".yml", ".json")


def candidate(path: str) -> bool:
    """Any YAML or JSON file might hold manifests."""
    return path.lower().endswith(_SUFFIXES)


def sniff(src: SourceFile) -> bool:
    """Manifests mention `apiVersion` and `kind` (cheap byte test before parsing)."""
    head = src.data[:65536]
    return b"apiVersion" in head and b"kind" in head



def resource_name(obj: Mapping[str, Any]) -> str:
    """`Kind/namespace/name` (namespace left out when the manifest has none)."""
    meta = obj.get("metadata")
    meta = meta if isinstance(meta, Mapping) else {}
    kind = str(obj.get("kind", "?"))
    name = str(meta.get("name") or meta.get("generateName") or "?")
    namespace = meta.get("namespace")
    return f"{kind}/{namespace}/{name}" if namespace else f"{kind}/{name}"


def is_object(value: Any) -> bool:
    """A mapping with string `apiVersion` and `kind`."""
    return (isinstance(value, Mapping) and isinstance(value.get("kind"), str)
            and isinstance(value.get("apiVersion"), str))


def object_documents(obj: Mapping[str, Any], *, path: str = "") -> list[Document]:
    """Documents for one in-memory object (a `List` gives one per item); no line numbers."""
    if not is_object(obj):
        raise ConfigParseError("not a Kubernetes object (needs apiVersion and kind)",
                               source=path or None)
    items = obj.get("items") if obj.get("kind") == "List" else None
    objects = [o for o in items if is_object(o)] if isinstance(items, list) else [obj]
    return [Document(NAME, str(o["kind"]), resource_name(o), o, path=path) for o in objects]


def _sources(src: SourceFile) -> list[tuple[int, str]]:
    if b"# Source: " not in src.data:
        return []
    found = []
    line, position = 1, 0
    for match in _SOURCE.finditer(src.data):
        line += src.data.count(b"\n", position, match.start())
        position = match.start()
        found.append((line, match.group(1).decode("utf-8", "replace")))
    return found


def parse(src: SourceFile) -> list[Document]:
    """Every Kubernetes object in a YAML/JSON stream ([] when there are none)."""
    try:
        raw = src.yaml()
    except ConfigParseError as exc:
        if _looks_templated(src):
            raise ConfigParseError(f"unrendered Helm template ({exc.message}): render it with "
                                   "`helm template` and scan the output", source=src.path) from None
        raise
    sources = _sources(src)
    source_lines = [line for line, _ in sources]
    consumed: dict[str, int] = {}
    documents: list[Document] = []
    previous_end = 0
    for value, start, end in raw:
        if not isinstance(value, Mapping):
            previous_end = end
            continue
        items = value.get("items") if value.get("kind") == "List" else None
        objects = [o for o in items if is_object(o)] if isinstance(items, list) else [value]
        # the last `# Source:` comment between the previous document and this one
        at = bisect.bisect_left(source_lines, start) - 1
        template = sources[at] if at >= 0 and sources[at][0] >= previous_end else None
        for obj in objects:
            if not is_object(obj):
                continue
            first, last = getattr(obj, "line", start), getattr(obj, "end_line", end)
            doc = Document(NAME, str(obj["kind"]), resource_name(obj), obj, path=src.path,
                           line=first, end_line=last)
            if template is not None:
                comment_line, name = template
                doc.path = name
                doc.line_offset = comment_line - consumed.get(name, 0)
                doc.evidence = {"rendered_path": src.path}
            documents.append(doc)
        if template is not None:
            # the section's lines plus the `---` that separates it from the template's next
            consumed[template[1]] = consumed.get(template[1], 0) + (end - template[0]) + 1
        previous_end = end
    return documents


def _looks_templated(src: SourceFile) -> bool:
    return b"{{" in src.data and b"}}" in src.data


FILE_TYPE = FileType(NAME, claims=never, candidate=candidate, sniff=sniff, parse=parse)
