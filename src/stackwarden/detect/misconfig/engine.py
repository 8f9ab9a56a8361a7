"""Run checks over documents: index checks by (file type, kind), build findings, apply inline
suppressions, and turn a failing check into a recorded skip instead of a crash."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from stackwarden.core.findings import Finding, FindingKind, FindingLocation, fingerprint
from stackwarden.core.models import Skipped
from stackwarden.detect.misconfig.model import Check, Document, Hit
from stackwarden.detect.misconfig.suppress import EMPTY, Suppressions

BY = "misconfig"


@dataclass
class Outcome:
    """Findings, suppressed findings (with the reason) and skipped files of a scan."""

    findings: list[Finding] = field(default_factory=list)
    suppressed: list[tuple[Finding, str]] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)

    def extend(self, other: Outcome) -> None:
        """Add another outcome's results to this one."""
        self.findings.extend(other.findings)
        self.suppressed.extend(other.suppressed)
        self.skipped.extend(other.skipped)

    def sort(self) -> None:
        """Deterministic order: path, line, check id, fingerprint."""
        def key(f: Finding) -> tuple[str, int, str, str]:
            return (f.location.path, f.location.line or 0, f.id, f.fingerprint)

        self.findings.sort(key=key)
        self.suppressed.sort(key=lambda item: key(item[0]))
        self.skipped.sort(key=lambda s: (s.path, s.reason))


class CheckIndex:
    """Checks looked up by (file type, kind); kind-less checks apply to every kind."""

    def __init__(self, checks: Iterable[Check]) -> None:
        self.checks: tuple[Check, ...] = tuple(checks)
        seen: set[tuple[str, str]] = set()
        for item in self.checks:  # a policy is one Check per file type, under one id
            if (item.id, item.file_type) in seen:
                raise ValueError(f"duplicate check id {item.id}")
            seen.add((item.id, item.file_type))
        self._cache: dict[tuple[str, str], tuple[Check, ...]] = {}

    def for_document(self, file_type: str, kind: str) -> tuple[Check, ...]:
        """The checks that apply to one document."""
        key = (file_type, kind)
        found = self._cache.get(key)
        if found is None:
            found = tuple(c for c in self.checks
                          if c.file_type == file_type and (not c.kinds or kind in c.kinds))
            self._cache[key] = found
        return found

    def file_types(self) -> set[str]:
        """The file types at least one check covers."""
        return {c.file_type for c in self.checks}


def make_finding(check: Check, doc: Document, hit: Hit, layer: str | None = None) -> Finding:
    """The Finding for one hit of one check in one document."""
    line = hit.line if hit.line is not None else doc.line
    end = hit.end_line if hit.line is not None else doc.end_line
    evidence: dict[str, object] = {"message": hit.message, "file_type": doc.file_type}
    if doc.line_offset and line is not None:
        evidence["rendered_line"] = line
        line -= doc.line_offset
        end = end - doc.line_offset if end is not None else None
    evidence.update(doc.evidence)
    return Finding(
        kind=FindingKind.MISCONFIGURATION, id=check.id, title=check.title,
        severity=check.severity,
        location=FindingLocation(path=doc.path, line=line, end_line=end, layer=layer,
                                 resource=doc.name or None),
        description=check.description, references=check.references,
        remediation=check.remediation, controls=check.controls, evidence=evidence,
        fingerprint=fingerprint("misconfiguration", check.id, doc.path, doc.name, hit.subject),
    )


def run_checks(documents: Sequence[Document], index: CheckIndex, outcome: Outcome, *,
               suppressions: Suppressions = EMPTY, layer: str | None = None) -> None:
    """Apply every relevant check to every document, adding to `outcome`."""
    failed: set[tuple[str, str]] = set()  # one skip per (file, check), not per document
    for doc in documents:
        for item in index.for_document(doc.file_type, doc.kind):
            try:
                hits = list(item.test(doc))
            except Exception as exc:  # noqa: BLE001 - one broken check must not stop the scan
                if (doc.path, item.id) in failed:
                    continue
                failed.add((doc.path, item.id))
                outcome.skipped.append(Skipped(
                    doc.path, f"check {item.id} could not evaluate {doc.name or doc.kind}: "
                              f"{type(exc).__name__}: {exc}"[:500], BY))
                continue
            seen: set[str] = set()
            for hit in hits:
                finding = make_finding(item, doc, hit, layer)
                if finding.fingerprint in seen:
                    continue
                seen.add(finding.fingerprint)
                # physical lines of the file: the hit, then the resource it belongs to
                reason = suppressions.reason(item.id, (hit.line, doc.line))
                if reason is None:
                    outcome.findings.append(finding)
                else:
                    outcome.suppressed.append((finding, reason))
