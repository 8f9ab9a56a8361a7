"""The misconfiguration scanner: pick a file type, parse, run checks and policies, suppress.

`MisconfigScanner` is built once (checks indexed, policies compiled) and then scans bytes,
file sets (Terraform modules are scanned per directory so companion resources are seen),
directory trees, or single in-memory documents (the admission webhook's path: no parsing).
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from stackwarden.core.findings import Finding
from stackwarden.core.models import Skipped
from stackwarden.detect.misconfig.engine import BY, CheckIndex, Outcome, run_checks
from stackwarden.detect.misconfig.model import Check, ConfigParseError, Document, FileType
from stackwarden.detect.misconfig.registry import FILE_TYPES, builtin_checks
from stackwarden.detect.misconfig.source import MAX_FILE_BYTES, SourceFile
from stackwarden.detect.misconfig.suppress import find_suppressions

SKIP_DIRS = frozenset({".git", ".hg", ".svn", "node_modules", ".terraform", "__pycache__",
                       ".venv", ".tox"})


def claimed_type(path: str) -> FileType | None:
    """The file type a path's name alone decides, if any."""
    return next((t for t in FILE_TYPES if t.claims(path)), None)


def candidate_types(path: str) -> list[FileType]:
    """File types a path might be (content decides)."""
    return [t for t in FILE_TYPES if t.candidate(path)]


def wants_path(path: str) -> bool:
    """Cheap: whether a path could be a configuration file we check."""
    return claimed_type(path) is not None or bool(candidate_types(path))


def parse_source(src: SourceFile) -> list[Document]:
    """The documents of one file ([] when it is none of our types); ConfigParseError when it
    is ours but broken."""
    owner = claimed_type(src.path)
    if owner is not None:
        return owner.parse(src)
    for kind in candidate_types(src.path):
        if kind.sniff(src):
            docs = kind.parse(src)
            if docs:
                return docs
    return []


class MisconfigScanner:
    """Built-in checks plus custom policies, ready to scan many files."""

    def __init__(self, checks: Sequence[Check] | None = None,
                 policies: Sequence[Check] = ()) -> None:
        self.index = CheckIndex([*(builtin_checks() if checks is None else checks), *policies])

    def scan_bytes(self, path: str, data: bytes, *, layer: str | None = None) -> Outcome:
        """Scan one file's content."""
        return self._scan_sources([SourceFile(path, data)], layer=layer)

    def scan_files(self, files: Iterable[tuple[str, bytes]], *,
                   layer: str | None = None) -> Outcome:
        """Scan several files; Terraform files of one directory are checked as one module."""
        return self._scan_sources([SourceFile(p, d) for p, d in files], layer=layer)

    def scan_path(self, root: Path) -> Outcome:
        """Scan a file or every configuration file under a directory."""
        outcome = Outcome()
        files: list[tuple[str, bytes]] = []
        paths = [root] if root.is_file() else sorted(_walk(root))
        for path in paths:
            shown = str(path) if root.is_file() else os.path.relpath(path, root)
            try:
                size = path.stat().st_size
                if size > MAX_FILE_BYTES:
                    outcome.skipped.append(Skipped(shown, f"larger than "
                                                   f"{MAX_FILE_BYTES // 2**20} MiB, not parsed",
                                                   BY))
                    continue
                files.append((shown, path.read_bytes()))
            except OSError as exc:
                outcome.skipped.append(Skipped(shown, f"cannot read: {exc.strerror}", BY))
        outcome.extend(self.scan_files(files))
        outcome.sort()
        return outcome

    def check_documents(self, documents: Sequence[Document]) -> Outcome:
        """Run the checks over already-parsed documents (no suppression comments)."""
        outcome = Outcome()
        run_checks(documents, self.index, outcome)
        return outcome

    def check_object(self, obj: Mapping[str, Any], *, path: str = "") -> list[Finding]:
        """Check one Kubernetes object held in memory (an AdmissionReview's `object`)."""
        from stackwarden.detect.misconfig.kubernetes import object_documents

        outcome = self.check_documents(object_documents(obj, path=path))
        return outcome.findings

    def _scan_sources(self, sources: list[SourceFile], *, layer: str | None) -> Outcome:
        from stackwarden.detect.misconfig import terraform

        outcome = Outcome()
        modules: dict[str, list[SourceFile]] = defaultdict(list)
        for src in sources:
            if terraform.is_module_file(src.path):
                modules[os.path.dirname(src.path)].append(src)
                continue
            try:
                documents = parse_source(src)
            except ConfigParseError as exc:
                outcome.skipped.append(Skipped(src.path, exc.message, BY))
                continue
            if documents:
                run_checks(documents, self.index, outcome,
                           suppressions=find_suppressions(src.data), layer=layer)
        for members in modules.values():
            documents, skipped = terraform.parse_module(members)
            outcome.skipped.extend(skipped)
            by_path = {src.path: src for src in members}
            for path in sorted({d.path for d in documents}):
                run_checks([d for d in documents if d.path == path], self.index, outcome,
                           suppressions=find_suppressions(by_path[path].data), layer=layer)
        return outcome


def _walk(root: Path) -> Iterable[Path]:
    for directory, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS]
        for name in names:
            full = os.path.join(directory, name)
            if wants_path(full) and not os.path.islink(full):
                yield Path(full)
