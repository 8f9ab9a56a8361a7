"""The built-in checks: one module per file type (or provider), each exporting `CHECKS`."""

from __future__ import annotations

from stackwarden.core.findings import Severity
from stackwarden.detect.misconfig.model import Check, TestFunc

CRITICAL, HIGH, MEDIUM, LOW = Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW


def check(id: str, title: str, severity: Severity, file_type: str, test: TestFunc, *,
          description: str, remediation: str, references: tuple[str, ...] = (),
          controls: tuple[str, ...] = (), kinds: frozenset[str] | tuple[str, ...] = ()
          ) -> Check:
    """Declare one built-in check (keyword metadata keeps each declaration readable)."""
    return Check(id=id, title=title, severity=severity, file_type=file_type, test=test,
                 description=description, remediation=remediation, references=references,
                 controls=controls, kinds=frozenset(kinds))
