"""Docker Compose files: one document per service (`kind` "service"), the file as context."""

from __future__ import annotations

from collections.abc import Mapping

from stackwarden.detect.misconfig.model import Document, FileType, never, no_sniff
from stackwarden.detect.misconfig.source import SourceFile

NAME = "compose"


def claims(path: str) -> bool:
    """docker-compose*.yml, compose*.yaml (the names `docker compose` looks for, plus
    overrides and per-environment variants)."""
    name = path.rsplit("/", 1)[-1].lower()
    return name.startswith(("docker-compose", "compose")) and name.endswith((".yml", ".yaml"))




def parse(src: SourceFile) -> list[Document]:
    """A document per service of the first YAML document."""
    documents = src.yaml()
    if not documents or not isinstance(documents[0][0], Mapping):
        return []
    root = documents[0][0]
    services = root.get("services")
    if not isinstance(services, Mapping):
        return []
    out = []
    for name, service in services.items():
        if isinstance(service, Mapping):
            out.append(Document(NAME, "service", f"services.{name}", service, path=src.path,
                                line=getattr(service, "line", None),
                                end_line=getattr(service, "end_line", None), context=root))
    return out


FILE_TYPE = FileType(NAME, claims=claims, candidate=never, sniff=no_sniff, parse=parse)
