"""Declared licenses against an allow/deny list: one finding per package that breaks the policy."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from stackwarden.core.findings import (
    Finding,
    FindingKind,
    FindingLocation,
    PackageRef,
    Severity,
    fingerprint,
)
from stackwarden.core.licenses import to_spdx
from stackwarden.core.models import Package

# Network copyleft: using the software over a network obliges publishing the source.
DEFAULT_DENY = ("AGPL-*", "SSPL-*", "OSL-3.0", "RPL-*")


@dataclass(frozen=True)
class LicensePolicy:
    """Which licenses a package may carry (SPDX ids; `*` globs allowed)."""

    deny: tuple[str, ...] = DEFAULT_DENY
    allow: tuple[str, ...] = ()  # when set, anything else is a finding too
    unknown: bool = False  # report packages that declare no license at all


def alternatives(expression: str) -> list[list[str]]:
    """`A OR (B AND C)` -> [["A"], ["B", "C"]] (nesting flattened: enough for declared licenses)."""
    cleaned = expression.replace("(", " ").replace(")", " ")
    result = []
    for alternative in re.split(r"\s+OR\s+", cleaned.strip(), flags=re.IGNORECASE):
        terms = [t.strip() for t in re.split(r"\s+(?:AND|WITH)\s+", alternative,
                                              flags=re.IGNORECASE) if t.strip()]
        if terms:
            result.append(terms)
    return result


def _matches(term: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(term.upper(), p.upper()) for p in patterns)


def _finding(pkg: Package, rule: str, title: str, severity: Severity, license_text: str
             ) -> Finding:
    location = pkg.locations[0] if pkg.locations else None
    path = location.path if location else ""
    return Finding(
        kind=FindingKind.LICENSE, id=rule, title=title, severity=severity,
        location=FindingLocation(path=path, layer=pkg.layer),
        package=PackageRef(pkg.name, pkg.version, str(pkg.type), pkg.purl),
        description=f"{pkg.name} {pkg.version} declares {license_text or 'no license'}.",
        remediation="Replace the package, obtain another license, or record an exception "
                    "in .stackwardenignore with a reason.",
        evidence={"licenses": list(pkg.licenses), "spdx": license_text},
        fingerprint=fingerprint("license", rule, str(pkg.type), pkg.name, license_text),
    )


def check_licenses(packages: Iterable[Package], policy: LicensePolicy) -> list[Finding]:
    """Findings for packages whose declared licenses the policy denies or does not allow.

    Each declared string must be satisfiable: under `A OR B` one acceptable choice is enough;
    under `A AND B` every part must be acceptable. Strings that are not SPDX are compared as
    written.
    """
    findings = []
    for pkg in packages:
        if not pkg.licenses:
            if policy.unknown:
                findings.append(_finding(pkg, "license-unknown",
                                         f"{pkg.name} declares no license", Severity.LOW, ""))
            continue
        declared = [to_spdx(text) or text for text in pkg.licenses]
        expression = " AND ".join(f"({d})" if " " in d else d for d in declared)

        def unacceptable(text: str, bad: Callable[[str], bool]) -> list[str]:
            choices = alternatives(text)
            if choices and all(any(bad(t) for t in choice) for choice in choices):
                return [t for choice in choices for t in choice if bad(t)]
            return []

        denied = [t for d in declared
                  for t in unacceptable(d, lambda t: _matches(t, policy.deny))]
        if denied:
            findings.append(_finding(pkg, "license-denied", f"{pkg.name} is licensed under "
                                     f"{', '.join(sorted(set(denied)))}, which is denied",
                                     Severity.HIGH, expression))
            continue
        if policy.allow:
            outside = [t for d in declared
                       for t in unacceptable(d, lambda t: not _matches(t, policy.allow))]
            if outside:
                findings.append(_finding(pkg, "license-not-allowed", f"{pkg.name} is licensed "
                                         f"under {', '.join(sorted(set(outside)))}, which is not "
                                         "on the allow list", Severity.MEDIUM, expression))
    return findings
