"""GitHub Actions workflows (`.github/workflows/*.yml`): one document per workflow."""

from __future__ import annotations

from collections.abc import Mapping

from stackwarden.detect.misconfig.model import Document, FileType, never, no_sniff
from stackwarden.detect.misconfig.source import SourceFile

NAME = "github-actions"


def claims(path: str) -> bool:
    """Files directly under a `.github/workflows/` directory."""
    normal = "/" + path.replace("\\", "/").lstrip("/")
    head, _, name = normal.rpartition("/")
    return head.endswith("/.github/workflows") and name.lower().endswith((".yml", ".yaml"))


def parse(src: SourceFile) -> list[Document]:
    """The workflow ([] when the YAML has no `jobs`)."""
    documents = src.yaml()
    if not documents or not isinstance(documents[0][0], Mapping):
        return []
    workflow, start, end = documents[0]
    if not isinstance(workflow.get("jobs"), Mapping):
        return []
    name = workflow.get("name") if isinstance(workflow.get("name"), str) else src.name
    return [Document(NAME, "workflow", f"workflow {name}", workflow, path=src.path, line=start,
                     end_line=end)]


FILE_TYPE = FileType(NAME, claims=claims, candidate=never, sniff=no_sniff, parse=parse)
