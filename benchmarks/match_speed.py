"""Vulnerability matching speed: 2,000 packages against >= 200,000 affected-package rows.

The database is built from the real advisory sets in ../shared/data (PyPA, Go, GHSA sample,
RustSec, RubySec, Alpine secdb, CISA KEV); when they hold fewer than --rows affected rows, real
OSV records are copied under new package names until they do. The SBOM takes real package names
from the database with versions inside their affected ranges, so most lookups find something.
Prints the build throughput (advisories per second), then cold and warm match times (goal:
warm under one second). There is no peer tool that matches a stored SBOM offline against the
same database, so the figure stands on its own (Grype and Trivy re-scan instead).

    .venv/bin/python benchmarks/match_speed.py [--packages 2000] [--rows 200000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from stackwarden.core.models import SBOM, ArtifactInfo, Location, OSRelease, Package, PackageType
from stackwarden.vulndb.build import build_database
from stackwarden.vulndb.match import match_sbom
from stackwarden.vulndb.store import VulnDB

SHARED = Path(os.environ.get("STACKWARDEN_SHARED_DATA",
                             Path(__file__).resolve().parents[2] / "shared" / "data"))
SOURCES = ["osv-pypa-advisory-database/vulns", "osv-golang-vulndb/osv",
           "ghsa-osv-sample/advisories", "rustsec-advisory-db", "rubysec-ruby-advisory-db",
           "alpine-secdb", "cisa-kev/known_exploited_vulnerabilities.json"]
TYPES = {"PyPI": PackageType.PYTHON, "Go": PackageType.GO, "crates.io": PackageType.RUST,
         "RubyGems": PackageType.GEM, "Maven": PackageType.JAVA, "Alpine": PackageType.APK}


def add_synthetic_rows(db_path: Path, wanted: int) -> int:
    """Copy real affected rows (and their vulnerability records) under new package names until
    the database holds `wanted` rows; returns how many were added."""
    conn = sqlite3.connect(db_path)
    have = conn.execute("SELECT count(*) FROM affected").fetchone()[0]
    copy = 0
    while have < wanted:
        copy += 1
        suffix = f"/copy{copy}"
        conn.execute("INSERT INTO affected SELECT vuln_id || ?, ecosystem, release, package || ?,"
                     " ranges, versions, severity, status FROM affected WHERE vuln_id NOT LIKE "
                     "'%/copy%' LIMIT ?", (suffix, suffix, wanted - have))
        conn.execute("INSERT OR IGNORE INTO vulnerabilities SELECT id || ?, source, summary, "
                     "details, published, modified, severity, cvss, refs, aliases FROM "
                     "vulnerabilities WHERE id NOT LIKE '%/copy%'", (suffix,))
        have = conn.execute("SELECT count(*) FROM affected").fetchone()[0]
    conn.commit()
    conn.close()
    return copy


def sample_packages(db_path: Path, count: int) -> list[Package]:
    """Real (ecosystem, name) pairs from the database, each at its newest fixed version (as in
    a maintained image: most advisories are fixed, the newest and the unfixed ones still hit)."""
    from stackwarden.vulndb.versions import InvalidVersion, scheme_for

    conn = sqlite3.connect(db_path)
    rows = conn.execute("SELECT ecosystem, package, ranges FROM affected WHERE ecosystem IN "
                        "('PyPI','Go','crates.io','RubyGems','Maven','Alpine') AND release IN "
                        "('', 'v3.20')").fetchall()
    conn.close()
    fixes: dict[tuple[str, str], list[str]] = {}
    for ecosystem, name, ranges in rows:
        found = fixes.setdefault((ecosystem, name), [])
        for _, events, _ in json.loads(ranges):
            found += [value for event, value in events if event == "fixed"]
    names = sorted(fixes)
    random.Random(7).shuffle(names)
    packages = []
    for ecosystem, name in names:
        if len(packages) == count:
            break
        scheme = scheme_for(ecosystem)
        try:
            versions = sorted(fixes[(ecosystem, name)], key=scheme.parse)
        except (InvalidVersion, TypeError):
            continue
        if not versions:
            continue
        version = versions[-1]
        meta = {}
        if ecosystem == "Maven":
            group, _, name = name.partition(":")
            meta = {"groupId": group, "artifactId": name}
        if ecosystem == "Go":
            version = "v" + version
        packages.append(Package(name=name, version=version, type=TYPES[ecosystem],
                                purl="", found_by=("bench",),
                                locations=(Location(f"/bench/{len(packages)}"),),
                                source_name=name if ecosystem == "Alpine" else None,
                                source_version=version if ecosystem == "Alpine" else None,
                                metadata=meta))
    return packages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packages", type=int, default=2000)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        sources = [str(SHARED / s) for s in SOURCES]
        db_path = work / "db.sqlite"
        report = build_database(sources, db_path)
        conn = sqlite3.connect(db_path)
        real_rows = conn.execute("SELECT count(*) FROM affected").fetchone()[0]
        conn.close()
        add_synthetic_rows(db_path, args.rows)
        with VulnDB(db_path) as db:
            rows = db.counts()["affected"]
        print(f"database: {report.advisories} advisories from the real sources, built in "
              f"{report.seconds:.1f} s = {report.per_second:.0f} advisories/s; {rows} affected "
              f"rows ({real_rows} real, the rest copies of real rows under new names)")
        packages = sample_packages(db_path, args.packages)
        sbom = SBOM(artifact=ArtifactInfo(kind="bench", reference="bench"),
                    packages=tuple(packages), os=OSRelease(id="alpine", version_id="3.20.3"))
        times = []
        findings = 0
        for _ in range(args.runs + 1):
            with VulnDB(db_path) as db:  # a fresh connection: no row cache
                started = time.perf_counter()
                result = match_sbom(sbom, db)
                times.append(time.perf_counter() - started)
                findings = len(result.findings)
        print(f"match {len(packages)} packages -> {findings} findings: cold {times[0]:.3f} s, "
              f"warm median {statistics.median(times[1:]):.3f} s over {args.runs} runs "
              f"(goal: warm < 1 s)")


if __name__ == "__main__":
    main()
