"""The pipeline: target -> artifact -> SBOM -> match (and, later, detectors) -> report model."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from stackwarden import __version__
from stackwarden.artifact.targets import TargetOptions
from stackwarden.core.errors import UsageError
from stackwarden.core.findings import Finding
from stackwarden.core.models import SBOM, Skipped

SCANNERS = ("vuln",)
DEFAULT_MAX_DB_AGE_DAYS = 7.0


@dataclass(frozen=True, slots=True)
class Suppressed:
    """A finding that is not reported as a problem, and why (never silently dropped)."""

    finding: Finding
    reason: str


@dataclass
class ScanResult:
    """Everything one scan produced, ready for any report format."""

    target: str
    sbom: SBOM
    findings: list[Finding]
    suppressed: list[Suppressed] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    scanners: tuple[str, ...] = ()
    database: dict[str, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    created: str = ""
    tool_version: str = __version__


def parse_scanners(values: Sequence[str]) -> tuple[str, ...]:
    """`--scanners vuln,secret` -> ("vuln", "secret"), refusing unknown names."""
    names = tuple(dict.fromkeys(v.strip() for value in values for v in value.split(",")
                                if v.strip()))
    unknown = [n for n in names if n not in SCANNERS]
    if unknown:
        raise UsageError(f"unknown scanner(s) {', '.join(unknown)} (available: "
                         f"{', '.join(SCANNERS)})", source="--scanners")
    return names or SCANNERS


def database_age_days(built_at: str, now: datetime | None = None) -> float | None:
    """How old a database is, in days, from its `built_at` metadata."""
    try:
        built = datetime.strptime(built_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None
    return ((now or datetime.now(UTC)) - built).total_seconds() / 86400


def load_target_sbom(target: str, options: TargetOptions, catalogers: Sequence[str],
                     progress: Callable[[str, int, int], None] | None) -> SBOM:
    """The SBOM for a target: read from `sbom:FILE`, or inventoried from the artifact."""
    if target.startswith("sbom:"):
        from stackwarden.catalog.sbom_import import read_sbom_file

        return read_sbom_file(Path(target[len("sbom:"):]))
    from stackwarden.catalog.sbom import generate_sbom

    return generate_sbom(target, options=options, catalogers=catalogers, progress=progress)


def scan(target: str, *, scanners: Sequence[str] = SCANNERS, db_path: Path | None = None,
         options: TargetOptions | None = None, catalogers: Sequence[str] = (),
         ignore_unfixed: bool = False, max_db_age_days: float = DEFAULT_MAX_DB_AGE_DAYS,
         progress: Callable[[str, int, int], None] | None = None) -> ScanResult:
    """Scan a target with the chosen scanners and return the result model."""
    started = time.perf_counter()
    options = options or TargetOptions()
    timings: dict[str, float] = {}
    warnings: list[str] = []
    database: dict[str, str] = {}
    db = None
    if "vuln" in scanners:
        from stackwarden.vulndb.store import VulnDB, default_db_path

        db = VulnDB(db_path or default_db_path())  # fail fast, before reading the target
        database = {"path": str(db.path), **db.meta}
        age = database_age_days(db.meta.get("built_at", ""))
        if age is not None and age > max_db_age_days:
            warnings.append(f"the vulnerability database is {age:.1f} days old (built "
                            f"{db.meta.get('built_at')}); run `stackwarden db update`")
    try:
        sbom = load_target_sbom(target, options, catalogers, progress)
        timings["inventory"] = time.perf_counter() - started
        findings: list[Finding] = []
        suppressed: list[Suppressed] = []
        if db is not None:
            from stackwarden.vulndb.match import match_sbom

            t0 = time.perf_counter()
            if progress:
                progress(f"matching {len(sbom.packages)} packages", 0, 0)
            matched = match_sbom(sbom, db, ignore_unfixed=ignore_unfixed)
            findings.extend(matched.findings)
            suppressed.extend(Suppressed(f, reason) for f, reason in matched.ignored)
            timings["vuln"] = time.perf_counter() - t0
    finally:
        if db is not None:
            db.close()
    timings["total"] = time.perf_counter() - started
    return ScanResult(target=target, sbom=sbom, findings=findings, suppressed=suppressed,
                      skipped=list(sbom.skipped), warnings=warnings,
                      scanners=tuple(scanners), database=database, timings=timings,
                      created=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
