"""A host inventory snapshot: sections of JSON-able items, and why a section is missing."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from stackwarden.core.errors import StackWardenError

SCHEMA_VERSION = "1.0"
SECTIONS = ("packages", "processes", "listening", "users", "groups", "sudoers",
            "kernel_modules", "services", "containers", "images")
LIVE_SECTIONS = frozenset({"processes", "listening", "kernel_modules", "containers", "images"})


class InventoryError(StackWardenError):
    """A snapshot could not be taken, read or compared (bad root, bad snapshot file)."""


@dataclass(slots=True)
class Snapshot:
    """What was on a host at one moment: its identity, OS and the items of each section."""

    taken: str
    root: str
    host: dict[str, Any]
    os: dict[str, Any] | None
    sections: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # "section: why it is missing or partial"

    def to_dict(self) -> dict[str, Any]:
        """The documented JSON form (`schema_version` first)."""
        return {"schema_version": SCHEMA_VERSION, "taken": self.taken, "root": self.root,
                "host": self.host, "os": self.os,
                "counts": {name: len(items) for name, items in self.sections.items()},
                "sections": self.sections, "notes": self.notes}

    @classmethod
    def from_dict(cls, doc: dict[str, Any], source: str = "") -> Snapshot:
        """Read the JSON form back (a clear error when it is not a snapshot)."""
        if not isinstance(doc, dict) or "sections" not in doc or "schema_version" not in doc:
            raise InventoryError("not a StackWarden inventory snapshot (no schema_version or "
                                 "sections)", source=source or None)
        sections = doc["sections"]
        if not isinstance(sections, dict) or not all(isinstance(v, list)
                                                      for v in sections.values()):
            raise InventoryError("snapshot sections must be lists of items",
                                 source=source or None)
        return cls(str(doc.get("taken", "")), str(doc.get("root", "")), doc.get("host") or {},
                   doc.get("os"), sections, list(doc.get("notes", [])))
