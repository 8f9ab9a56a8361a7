"""GitLab CI pipelines (`.gitlab-ci.yml`): one document per pipeline file."""

from __future__ import annotations

from collections.abc import Mapping

from stackwarden.detect.misconfig.model import Document, FileType, never, no_sniff
from stackwarden.detect.misconfig.source import SourceFile

NAME = "gitlab-ci"


def claims(path: str) -> bool:
    """`.gitlab-ci.yml` and `*.gitlab-ci.yml` (included pipeline fragments)."""
    name = path.rsplit("/", 1)[-1].lower()
    return name.endswith((".gitlab-ci.yml", ".gitlab-ci.yaml")) or name in (
        ".gitlab-ci.yml", ".gitlab-ci.yaml")


def parse(src: SourceFile) -> list[Document]:
    """The pipeline ([] when the YAML is not a mapping)."""
    documents = src.yaml()
    if not documents or not isinstance(documents[0][0], Mapping):
        return []
    pipeline, start, end = documents[0]
    return [Document(NAME, "pipeline", "pipeline", pipeline, path=src.path, line=start,
                     end_line=end)]


FILE_TYPE = FileType(NAME, claims=claims, candidate=never, sniff=no_sniff, parse=parse)
