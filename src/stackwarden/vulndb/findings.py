"""Turn matched advisories into findings: aliases merged, severity chosen, KEV and EPSS added."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from stackwarden.core.findings import (
    CvssScore,
    Finding,
    FindingKind,
    FindingLocation,
    PackageRef,
    Severity,
    fingerprint,
)
from stackwarden.core.models import Package
from stackwarden.vulndb.store import VulnDB, VulnRecord

if TYPE_CHECKING:
    from stackwarden.vulndb.match import Hit

_PREFERENCE = ("CVE-", "GHSA-")


def primary_id(ids: set[str]) -> str:
    """The id a finding is shown under: a CVE if there is one, else a GHSA, else the first."""
    for prefix in _PREFERENCE:
        chosen = sorted(i for i in ids if i.startswith(prefix))
        if chosen:
            return chosen[0]
    return sorted(ids)[0]


def cluster_hits(hits: Sequence[Hit], records: dict[str, VulnRecord]) -> list[list[Hit]]:
    """Group hits that name the same vulnerability (shared id or alias) into one cluster."""
    parent = list(range(len(hits)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[str, int] = {}
    for i, hit in enumerate(hits):
        record = records.get(hit.row.vuln_id)
        for name in (hit.row.vuln_id, *(record.aliases if record else ())):
            j = owner.setdefault(name, i)
            if j != i:
                parent[root(i)] = root(j)
    groups: dict[int, list[Hit]] = {}
    for i, hit in enumerate(hits):
        groups.setdefault(root(i), []).append(hit)
    return list(groups.values())


def _severity(pkg: Package, hits: Sequence[Hit], records: Sequence[VulnRecord],
              cvss: Sequence[CvssScore]) -> Severity:
    # For distribution packages the vendor's rating reflects its build and backports.
    if pkg.type.is_os:
        vendor = [Severity.parse(h.row.severity) for h in hits if h.row.severity]
        vendor = [s for s in vendor if s is not Severity.UNKNOWN]
        if vendor:
            return max(vendor, key=lambda s: s.rank)
    scored = [c.score for c in cvss if c.score is not None and not c.version.startswith("2")]
    if scored:
        return Severity.from_cvss(max(scored))
    words = [Severity.parse(r.severity) for r in records if r.severity]
    words += [Severity.parse(h.row.severity) for h in hits if h.row.severity]
    words = [w for w in words if w is not Severity.UNKNOWN]
    if words:
        return max(words, key=lambda s: s.rank)
    legacy = [c.score for c in cvss if c.score is not None]
    return Severity.from_cvss(max(legacy)) if legacy else Severity.UNKNOWN


def build_findings(matched: Sequence[tuple[Package, list[Hit]]],
                   db: VulnDB) -> Iterator[tuple[Package, Finding]]:
    """One finding per (package, vulnerability cluster), enriched from the database."""
    direct = {h.row.vuln_id for _, hits in matched for h in hits}
    records = db.vulnerabilities(direct)
    aliases = {a for r in records.values() for a in r.aliases}
    # Records that share an alias (a GHSA for the same CVE) lend severity and references.
    related_ids = {i for ids in db.ids_for_aliases(aliases | direct, informative=True).values()
                   for i in ids}
    records.update(db.vulnerabilities(related_ids - set(records)))
    all_cves = {i for r in records.values() for i in (r.id, *r.aliases) if i.startswith("CVE-")}
    kev = db.kev(all_cves)
    epss = db.epss(all_cves)
    alias_index: dict[str, set[str]] = {}
    for record in records.values():
        for name in (record.id, *record.aliases):
            alias_index.setdefault(name, set()).add(record.id)
    for pkg, hits in matched:
        for cluster in cluster_hits(hits, records):
            ids = {h.row.vuln_id for h in cluster}
            names = set(ids)
            for vid in ids:
                names.update(records[vid].aliases if vid in records else ())
            related = {rid for n in names for rid in alias_index.get(n, ())}
            cluster_records = [records[r] for r in sorted(related | ids) if r in records]
            yield pkg, _finding(pkg, cluster, names, cluster_records, kev, epss)


def _finding(pkg: Package, hits: Sequence[Hit], names: set[str],
             records: Sequence[VulnRecord], kev: dict[str, tuple[str, str]],
             epss: dict[str, tuple[float, float]]) -> Finding:
    main = primary_id(names)
    cvss = tuple(dict.fromkeys(CvssScore(v, vec, score, r.id) for r in records
                               for v, vec, score in r.cvss))
    title = next((r.summary for r in records if r.summary), "") or next(
        (r.details.strip().splitlines()[0] for r in records if r.details.strip()), main)
    description = next((r.details for r in records if r.details), "")
    fixed = tuple(dict.fromkeys(f for h in hits for f in h.fixed))
    statuses = {h.row.status for h in hits if h.row.status}
    status = "fixed" if fixed else (statuses.pop() if len(statuses) == 1 else "not-fixed")
    cves = sorted(n for n in names if n.startswith("CVE-"))
    kev_due = next((kev[c][1] or kev[c][0] for c in cves if c in kev), None)
    scores = [epss[c] for c in cves if c in epss]
    location = pkg.locations[0] if pkg.locations else None
    layer = pkg.layer or (location.layer if location else None)
    path = location.path if location else ""
    return Finding(
        kind=FindingKind.VULNERABILITY,
        id=main,
        title=title[:300],
        severity=_severity(pkg, hits, records, cvss),
        location=FindingLocation(path=path, layer=layer),
        package=PackageRef(pkg.name, pkg.version, str(pkg.type), pkg.purl),
        aliases=tuple(sorted(names - {main})),
        description=description[:4000],
        fixed_versions=fixed,
        status=status,
        references=tuple(dict.fromkeys(u for r in records for u in r.references))[:25],
        cvss=cvss,
        epss=max(scores) if scores else None,
        kev_due=kev_due,
        remediation=(f"Upgrade {pkg.name} to {' or '.join(fixed)}" if fixed
                     else "No fixed version is known yet"),
        evidence={"installed_version": pkg.version,
                  "matched": sorted({f"{h.row.vuln_id} ({h.row.ecosystem}"
                                     f"{':' + h.row.release if h.row.release else ''} "
                                     f"{h.row.package})" for h in hits}),
                  "source_package": pkg.source_name or "",
                  "source_version": pkg.source_version or ""},
        fingerprint=fingerprint("vulnerability", main, str(pkg.type), pkg.name, path),
    )
