"""AWS CloudFormation templates (YAML with `!Ref`/`!Sub`/`!GetAtt` short forms, or JSON).

Each resource is a document whose `kind` is its `Type` (`AWS::S3::Bucket`) and whose body
is the resource (`Type`, `Properties`, …); intrinsic functions appear in their long JSON
form (`{"Ref": "X"}`, `{"Fn::Sub": "…"}`), which checks treat as "not known here".
Parameters are documents of kind `Parameter`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stackwarden.detect.misconfig.model import ConfigParseError, Document, FileType, never
from stackwarden.detect.misconfig.source import SourceFile

NAME = "cloudformation"
_SUFFIXES = (".yaml", ".yml", ".json", ".template", ".cfn")


def candidate(path: str) -> bool:
    """YAML, JSON and .template files."""
    return path.lower().endswith(_SUFFIXES)


def sniff(src: SourceFile) -> bool:
    """Templates name their format version, or declare `AWS::` resource types."""
    head = src.data[:65536]
    return b"AWSTemplateFormatVersion" in head or (b"Resources" in head and b"AWS::" in head)


def _template(src: SourceFile) -> Any:
    try:
        documents = src.yaml()
    except ConfigParseError:
        if src.path.lower().endswith(".json"):
            return src.json()  # JSON that YAML 1.1 rejects (rare escapes): no line numbers
        raise
    return documents[0][0] if documents else None


def parse(src: SourceFile) -> list[Document]:
    """Documents for the template's resources and parameters ([] when not a template)."""
    template = _template(src)
    if not isinstance(template, Mapping) or not isinstance(template.get("Resources"), Mapping):
        return []
    resources = template["Resources"]
    if not any(isinstance(r, Mapping) and str(r.get("Type", "")).startswith(("AWS::",
                                                                             "Custom::"))
               for r in resources.values()):
        return []
    out: list[Document] = []
    for section, default_kind in (("Parameters", "Parameter"), ("Resources", None)):
        items = template.get(section)
        if not isinstance(items, Mapping):
            continue
        for logical_id, body in items.items():
            if not isinstance(body, Mapping):
                continue
            kind = default_kind or str(body.get("Type", "?"))
            out.append(Document(NAME, kind, str(logical_id), body, path=src.path,
                                line=getattr(body, "line", None),
                                end_line=getattr(body, "end_line", None), context=template))
    return out


FILE_TYPE = FileType(NAME, claims=never, candidate=candidate, sniff=sniff,
                     parse=parse)
