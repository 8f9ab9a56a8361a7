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


def synthetic_copies(work: Path, needed: int) -> Path | None:
    """Copies of real Go and PyPA OSV records under new package names, enough for `needed` rows."""
    if needed <= 0:
        return None
    out = work / "copies"
    out.mkdir()
    originals = sorted((SHARED / "osv-golang-vulndb" / "osv").glob("*.json"))
    written = 0
    copy = 0
    while written < needed:
        copy += 1
        for path in originals:
            doc = json.loads(path.read_text())
            doc["id"] = f"{doc['id']}-COPY{copy}"
            for affected in doc.get("affected", []):
                affected["package"]["name"] += f"/copy{copy}"
            (out / f"{doc['id']}.json").write_text(json.dumps(doc))
            written += max(1, len(doc.get("affected", [])))
            if written >= needed:
                break
    return out


def sample_packages(db_path: Path, count: int) -> list[Package]:
    """Real (ecosystem, name) pairs from the database with a version inside a range."""
    conn = sqlite3.connect(db_path)
    rows = conn.execute("SELECT ecosystem, package, ranges FROM affected WHERE ecosystem IN "
                        "('PyPI','Go','crates.io','RubyGems','Maven','Alpine') AND release IN "
                        "('', 'v3.20')").fetchall()
    conn.close()
    random.Random(7).shuffle(rows)
    packages = []
    for ecosystem, name, ranges in rows[:count]:
        version = "0.0.1"
        for kind, events, _ in json.loads(ranges):
            for event, value in events:
                if event == "fixed" and value[:1].isdigit():
                    version = value.split("-")[0] + ("" if ecosystem != "Alpine" else "-r0")
                    break
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
        probe = build_database(sources, work / "probe.sqlite")
        conn = sqlite3.connect(work / "probe.sqlite")
        real_rows = conn.execute("SELECT count(*) FROM affected").fetchone()[0]
        conn.close()
        extra = synthetic_copies(work, args.rows - real_rows)
        report = build_database(sources + ([str(extra)] if extra else []), work / "db.sqlite")
        with VulnDB(work / "db.sqlite") as db:
            rows = db.counts()["affected"]
        print(f"database: {report.advisories} advisories, {rows} affected rows "
              f"({real_rows} from real records); built in {report.seconds:.1f} s = "
              f"{report.per_second:.0f} advisories/s (real sources alone: "
              f"{probe.per_second:.0f}/s)")
        packages = sample_packages(work / "db.sqlite", args.packages)
        sbom = SBOM(artifact=ArtifactInfo(kind="bench", reference="bench"),
                    packages=tuple(packages), os=OSRelease(id="alpine", version_id="3.20.3"))
        times = []
        findings = 0
        for _ in range(args.runs + 1):
            with VulnDB(work / "db.sqlite") as db:  # a fresh connection: no row cache
                started = time.perf_counter()
                result = match_sbom(sbom, db)
                times.append(time.perf_counter() - started)
                findings = len(result.findings)
        print(f"match {len(packages)} packages -> {findings} findings: cold {times[0]:.3f} s, "
              f"warm median {statistics.median(times[1:]):.3f} s over {args.runs} runs "
              f"(goal: warm < 1 s)")


if __name__ == "__main__":
    main()
