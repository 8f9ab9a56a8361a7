"""Advisories as every source yields them: the OSV model, normalised."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Range types beyond OSV's: a package is affected unless its version satisfies one of the
# listed requirements (RustSec's and RubySec's "patched"/"unaffected" lists), or affected when
# it satisfies one of them (node-semver ranges from the Node.js security WG); for these types
# `events` only carries ("fixed", text) hints to show as the fix (e.g. ">=4.17.5").
UNAFFECTED_REQUIREMENTS = "UNAFFECTED_REQUIREMENTS"
AFFECTED_REQUIREMENTS = "AFFECTED_REQUIREMENTS"
RANGE_TYPES = ("ECOSYSTEM", "SEMVER", UNAFFECTED_REQUIREMENTS, AFFECTED_REQUIREMENTS)
EVENT_KINDS = ("introduced", "fixed", "last_affected", "limit")


@dataclass(frozen=True, slots=True)
class Range:
    """One OSV range: ordered events, or requirement strings for the requirement types."""

    type: str
    events: tuple[tuple[str, str], ...] = ()  # (kind, version)
    requirements: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Affected:
    """One package an advisory affects, in one ecosystem (and distribution release)."""

    ecosystem: str  # OSV base ecosystem: "PyPI", "Debian", "Alpine", ...
    release: str  # "12" for "Debian:12", "v3.20" for "Alpine:v3.20", "" for languages
    package: str  # normalised name (PEP 503, group:artifact, ...)
    ranges: tuple[Range, ...] = ()
    versions: tuple[str, ...] = ()
    severity: str = ""  # the vendor's word for this package, if any
    status: str = ""  # "" (derived from ranges) or "wont-fix" / "not-fixed" when stated


@dataclass(frozen=True, slots=True)
class Advisory:
    """One advisory record from one source."""

    id: str
    source: str
    aliases: tuple[str, ...] = ()
    summary: str = ""
    details: str = ""
    published: str = ""
    modified: str = ""
    withdrawn: str = ""
    severity: tuple[tuple[str, str], ...] = ()  # (type, value): CVSS_V3 vector, or a word
    references: tuple[str, ...] = ()
    affected: tuple[Affected, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
