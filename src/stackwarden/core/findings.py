"""The one result model every scanner and monitor produces: the Finding."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class FindingKind(StrEnum):
    """What sort of problem a finding is."""

    VULNERABILITY = "vulnerability"
    SECRET = "secret"
    MALWARE = "malware"
    MISCONFIGURATION = "misconfiguration"
    LICENSE = "license"


class Severity(StrEnum):
    """How bad a finding is, in the scale every report and gate uses."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    NEGLIGIBLE = "negligible"
    UNKNOWN = "unknown"

    @property
    def rank(self) -> int:
        """Higher is worse (critical 5 … unknown 0), for sorting and `--fail-on`."""
        return _RANK[self]

    @classmethod
    def parse(cls, text: str | None) -> Severity:
        """Read a vendor's severity word (`Important`, `moderate`, `CRITICAL`, …)."""
        if not text:
            return cls.UNKNOWN
        return _WORDS.get(text.strip().lower(), cls.UNKNOWN)

    @classmethod
    def from_cvss(cls, score: float | None) -> Severity:
        """The CVSS v3/v4 qualitative rating of a base score."""
        if score is None:
            return cls.UNKNOWN
        if score >= 9.0:
            return cls.CRITICAL
        if score >= 7.0:
            return cls.HIGH
        if score >= 4.0:
            return cls.MEDIUM
        if score > 0.0:
            return cls.LOW
        return cls.NEGLIGIBLE


_RANK = {Severity.CRITICAL: 5, Severity.HIGH: 4, Severity.MEDIUM: 3, Severity.LOW: 2,
         Severity.NEGLIGIBLE: 1, Severity.UNKNOWN: 0}
_WORDS = {
    "critical": Severity.CRITICAL, "high": Severity.HIGH, "important": Severity.HIGH,
    "medium": Severity.MEDIUM, "moderate": Severity.MEDIUM, "low": Severity.LOW,
    "negligible": Severity.NEGLIGIBLE, "unimportant": Severity.NEGLIGIBLE,
    "none": Severity.NEGLIGIBLE, "unknown": Severity.UNKNOWN, "not yet assigned": Severity.UNKNOWN,
}


@dataclass(frozen=True, slots=True)
class PackageRef:
    """The package a finding is about."""

    name: str
    version: str
    type: str
    purl: str = ""


@dataclass(frozen=True, slots=True)
class FindingLocation:
    """Where a finding is: file and line, layer, package, commit or resource."""

    path: str = ""
    line: int | None = None
    end_line: int | None = None
    layer: str | None = None  # diff_id of the image layer
    commit: str | None = None
    resource: str | None = None  # e.g. a Kubernetes object or Terraform resource name


@dataclass(frozen=True, slots=True)
class CvssScore:
    """One CVSS vector with its computed base score and who gave it."""

    version: str  # "3.1", "4.0", "2.0"
    vector: str
    score: float | None
    source: str = ""


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem found by one scanner, with everything a report, gate or server needs."""

    kind: FindingKind
    id: str  # vulnerability id, secret rule, YARA rule, check id
    title: str
    severity: Severity
    location: FindingLocation
    package: PackageRef | None = None
    aliases: tuple[str, ...] = ()
    description: str = ""
    fixed_versions: tuple[str, ...] = ()
    status: str = ""  # vulnerabilities: "fixed", "not-fixed", "wont-fix"
    references: tuple[str, ...] = ()
    cvss: tuple[CvssScore, ...] = ()
    epss: tuple[float, float] | None = None  # (probability, percentile)
    kev_due: str | None = None  # CISA KEV due date when the CVE is known exploited
    remediation: str = ""
    controls: tuple[str, ...] = ()
    evidence: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    fingerprint: str = ""

    @property
    def in_kev(self) -> bool:
        """Whether the vulnerability is in CISA's Known Exploited Vulnerabilities catalog."""
        return self.kev_due is not None


def fingerprint(*parts: str | None) -> str:
    """A stable identity for a finding: the same issue in the next build gets the same value."""
    joined = "\x1f".join(p or "" for p in parts)
    return hashlib.sha256(joined.encode("utf-8", "surrogateescape")).hexdigest()[:32]
