"""Match an SBOM's packages against the database with OSV semantics and each ecosystem's scheme."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from stackwarden.core.findings import Finding
from stackwarden.core.models import SBOM, OSRelease, Package, PackageType
from stackwarden.vulndb.findings import build_findings
from stackwarden.vulndb.model import AFFECTED_REQUIREMENTS, UNAFFECTED_REQUIREMENTS, Range
from stackwarden.vulndb.names import (
    distro_ecosystem,
    distro_release,
    normalize_name,
    release_matches,
)
from stackwarden.vulndb.requirements import satisfies
from stackwarden.vulndb.store import AffectedRow, VulnDB
from stackwarden.vulndb.versions import InvalidVersion, scheme_for

# Feeds whose release is written exactly as the OS reports it ("Alpine:v3.20", "Debian:12"):
# the database filters those by release itself.
EXACT_RELEASES = frozenset({"Alpine", "Debian"})
_LANGUAGE = {PackageType.PYTHON: "PyPI", PackageType.NPM: "npm", PackageType.GO: "Go",
             PackageType.RUST: "crates.io", PackageType.JAVA: "Maven",
             PackageType.GEM: "RubyGems", PackageType.COMPOSER: "Packagist",
             PackageType.DOTNET: "NuGet"}


@dataclass(frozen=True, slots=True)
class PackageQuery:
    """How one package is looked up: ecosystem, release, candidate names, version to compare."""

    ecosystem: str
    release: str
    names: tuple[str, ...]
    version: str


@dataclass(frozen=True, slots=True)
class Hit:
    """One affected entry that covers one package's version."""

    row: AffectedRow
    fixed: tuple[str, ...]


@dataclass
class MatchResult:
    """Findings, findings suppressed with their reason, and packages that could not be matched."""

    findings: list[Finding] = field(default_factory=list)
    ignored: list[tuple[Finding, str]] = field(default_factory=list)
    unmatched: list[tuple[Package, str]] = field(default_factory=list)
    skipped_ranges: int = 0


def query_for(pkg: Package, os_release: OSRelease | None) -> PackageQuery | str:
    """The lookup for a package, or the reason it cannot be matched."""
    if pkg.type.is_os:
        if os_release is None:
            return "no OS identified: distribution advisories need the release"
        ecosystem = distro_ecosystem(os_release.id, os_release.id_like)
        if ecosystem is None:
            return f"no advisory feed for the distribution {os_release.id!r}"
        release = distro_release(ecosystem, os_release.version_id)
        if pkg.type is PackageType.RPM:
            names = tuple(dict.fromkeys(n for n in (pkg.name, pkg.source_name) if n))
            return PackageQuery(ecosystem, release, names, pkg.version)
        name = pkg.source_name or pkg.name
        version = pkg.source_version or pkg.version
        return PackageQuery(ecosystem, release, (name,), version)
    ecosystem = _LANGUAGE.get(pkg.type)
    if ecosystem is None:
        return f"{pkg.type} packages have no OSV ecosystem"
    name = pkg.name
    version = pkg.version
    if ecosystem == "Maven":
        group = pkg.metadata.get("groupId") or pkg.metadata.get("group_id")
        if not group:
            return "a Java archive without a Maven groupId cannot be matched"
        name = f"{group}:{pkg.metadata.get('artifactId') or pkg.name}"
    if ecosystem == "Go":
        version = version.removeprefix("go") if name == "stdlib" else version
        version = version.removeprefix("v")
    if not version or version in ("(devel)", "UNKNOWN"):
        return f"version {version!r} cannot be compared"
    return PackageQuery(ecosystem, "", (normalize_name(ecosystem, name),), version)


@lru_cache(maxsize=65536)
def _sorted_events(rng: Range, scheme_name: str) -> tuple[tuple[Any, str, str], ...]:
    """A range's events parsed in its scheme and sorted (introduced "0" first), once per range."""
    scheme = scheme_for(scheme_name)
    events = []
    for kind, value in rng.events:
        bound = None if value == "0" and kind == "introduced" else scheme.parse(value)
        events.append((bound, kind, value))
    events.sort(key=lambda e: (e[0] is not None, e[0]) if e[0] is not None else (False, 0))
    return tuple(events)


def _in_range(version: str, rng: Range, ecosystem: str) -> tuple[bool, tuple[str, ...]]:
    """OSV's algorithm for one range: walk the sorted events, toggling on introduced/fixed."""
    scheme_name = "semver" if rng.type == "SEMVER" else ecosystem
    key = scheme_for(scheme_name).parse(version)
    events = _sorted_events(rng, scheme_name)
    affected = False
    for bound, kind, _ in events:
        if kind == "introduced":
            if bound is None or key >= bound:
                affected = True
        elif kind == "fixed":
            if key >= bound:
                affected = False
        elif kind == "last_affected":
            if key > bound:
                affected = False
        elif kind == "limit" and key >= bound:
            affected = False
    if not affected:
        return False, ()
    fixed = tuple(value for bound, kind, value in events if kind == "fixed" and bound > key)
    return True, fixed[:1]


def affected_by(row: AffectedRow, version: str, ecosystem: str) -> Hit | None:
    """Whether `row` covers `version`; the fix that follows it if there is one.

    Raises InvalidVersion (or ValueError) when a bound cannot be read in the ecosystem's scheme.
    """
    fixed: list[str] = []
    hit = version in row.versions
    for rng in row.ranges:
        if rng.type in ("ECOSYSTEM", "SEMVER"):
            inside, fix = _in_range(version, rng, ecosystem)
            if inside:
                hit = True
                fixed.extend(fix)
        elif rng.type == UNAFFECTED_REQUIREMENTS:
            style = "cargo" if ecosystem == "crates.io" else "gem"
            compare = scheme_for(ecosystem).compare
            if not any(satisfies(version, req, style=style, compare=compare)
                       for req in rng.requirements):
                hit = True
                fixed.extend(r.strip() for r in rng.requirements)
        elif rng.type == AFFECTED_REQUIREMENTS:
            npm = scheme_for("npm")
            if any(npm.satisfies(version, req) for req in rng.requirements):  # type: ignore[attr-defined]
                hit = True
                fixed.extend(value for kind, value in rng.events if kind == "fixed")
    return Hit(row, tuple(dict.fromkeys(fixed))) if hit else None


def owned_by_os(packages: Sequence[Package]) -> dict[str, str]:
    """Path -> the OS package that owns it (to suppress findings the distribution patched)."""
    owners: dict[str, str] = {}
    for pkg in packages:
        if pkg.type.is_os:
            for path in pkg.files:
                owners.setdefault(path, f"{pkg.type} package {pkg.name} {pkg.version}")
    return owners


def match_packages(packages: Iterable[Package], os_release: OSRelease | None, db: VulnDB, *,
                   ignore_unfixed: bool = False) -> MatchResult:
    """Every vulnerability affecting these packages, one finding per (package, vulnerability)."""
    packages = list(packages)
    result = MatchResult()
    owners = owned_by_os(packages)
    matched: list[tuple[Package, list[Hit]]] = []
    for pkg in packages:
        query = query_for(pkg, os_release)
        if isinstance(query, str):
            result.unmatched.append((pkg, query))
            continue
        hits: list[Hit] = []
        exact = query.release if query.ecosystem in EXACT_RELEASES and query.release else None
        for name in query.names:
            for row in db.affected(query.ecosystem, name, exact):
                if not release_matches(query.ecosystem, row.release, query.release):
                    continue
                try:
                    hit = affected_by(row, query.version, query.ecosystem)
                except (InvalidVersion, ValueError):
                    result.skipped_ranges += 1
                    continue
                if hit is not None:
                    hits.append(hit)
        if hits:
            matched.append((pkg, hits))
    for pkg, finding in build_findings(matched, db):
        owner = None
        if not pkg.type.is_os and pkg.locations:
            owners_of = {owners.get(loc.path) for loc in pkg.locations}
            owner = owners_of.pop() if len(owners_of) == 1 else None
        if owner:
            result.ignored.append((finding, f"installed by the {owner}; the distribution's "
                                            "advisories cover it"))
        elif ignore_unfixed and not finding.fixed_versions:
            result.ignored.append((finding, "no fix available (--ignore-unfixed)"))
        else:
            result.findings.append(finding)
    result.findings.sort(key=lambda f: (-f.severity.rank, f.id, f.package.name if f.package
                                        else ""))
    return result


def match_sbom(sbom: SBOM, db: VulnDB, *, ignore_unfixed: bool = False) -> MatchResult:
    """Match every package of an SBOM (no image access needed)."""
    return match_packages(sbom.packages, sbom.os, db, ignore_unfixed=ignore_unfixed)
