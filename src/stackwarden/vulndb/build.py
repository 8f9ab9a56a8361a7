"""`db build`: read advisory sources, enrich, write one SQLite file atomically."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from stackwarden import __version__
from stackwarden.core.errors import UsageError
from stackwarden.core.findings import Severity
from stackwarden.vulndb.cvss import scores_for
from stackwarden.vulndb.model import Advisory
from stackwarden.vulndb.sources.alpine import AlpineSecdbReader
from stackwarden.vulndb.sources.base import BadRecord, SourceReader
from stackwarden.vulndb.sources.enrichment import is_epss, is_kev, read_epss, read_kev
from stackwarden.vulndb.sources.nodejs import NodejsWGReader
from stackwarden.vulndb.sources.osv import OSVReader
from stackwarden.vulndb.sources.rubysec import RubySecReader
from stackwarden.vulndb.sources.rustsec import RustSecReader
from stackwarden.vulndb.store import DBWriter

READERS: dict[str, type[SourceReader]] = {
    "osv": OSVReader,
    "alpine-secdb": AlpineSecdbReader,
    "rustsec": RustSecReader,
    "rubysec": RubySecReader,
    "nodejs-wg": NodejsWGReader,
}
SOURCE_KINDS = (*READERS, "kev", "epss")


@dataclass
class SourceReport:
    """What one source contributed."""

    location: str
    kind: str
    records: int = 0
    skipped: int = 0
    withdrawn: int = 0
    reasons: list[str] = field(default_factory=list)


@dataclass
class BuildReport:
    """What `db build` did: per-source counts, skip reasons, throughput."""

    output: Path
    sources: list[SourceReport]
    advisories: int
    seconds: float

    @property
    def per_second(self) -> float:
        """Advisories stored per second of build time."""
        return self.advisories / self.seconds if self.seconds else 0.0


def detect_kind(path: Path) -> str:
    """Which reader a local source needs, from its layout or content."""
    if is_kev(path):
        return "kev"
    if is_epss(path):
        return "epss"
    if path.is_dir():
        if (path / "crates").is_dir() or any(path.glob("RUSTSEC-*.md")):
            return "rustsec"
        if (path / "gems").is_dir():
            return "rubysec"
        if (path / "vuln" / "npm").is_dir():
            return "nodejs-wg"
        if any(path.glob("v3.*/*.json")) or any(path.glob("edge/*.json")):
            return "alpine-secdb"
        return "osv"
    if path.suffix == ".json":
        with open(path, "rb") as handle:
            head = handle.read(65536)
        if b'"secfixes"' in head or b'"distroversion"' in head:
            return "alpine-secdb"
    if path.name.startswith("RUSTSEC-"):
        return "rustsec"
    return "osv"


def parse_source_spec(spec: str) -> tuple[str | None, str]:
    """`rustsec:/path` -> ("rustsec", "/path"); a bare path or URL -> (None, it)."""
    kind, sep, rest = spec.partition(":")
    if sep and kind in SOURCE_KINDS:
        return kind, rest
    return None, spec


def checksum(path: Path) -> str:
    """SHA-256 over a file, or over a directory's relative names and contents in order."""
    digest = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for file in files:
        if file != path:
            digest.update(str(file.relative_to(path)).encode() + b"\0")
        with open(file, "rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    return digest.hexdigest()


def severity_word(advisory: Advisory, scores: list[tuple[str, str, float | None]]) -> str:
    """The record's severity: its own word if it has one, else the worst CVSS rating."""
    words = [v for t, v in advisory.severity if t == "WORD" and Severity.parse(v).rank]
    if words:
        return str(Severity.parse(words[0]))
    best = max((s for _, _, s in scores if s is not None), default=None)
    return str(Severity.from_cvss(best)) if best is not None else ""


def _advisories(kind: str, path: Path, report: SourceReport) -> Iterator[Advisory]:
    for item in READERS[kind]().read(path):
        if isinstance(item, BadRecord):
            report.skipped += 1
            if len(report.reasons) < 10:
                report.reasons.append(str(item))
            continue
        if item.withdrawn:
            report.withdrawn += 1
            continue
        report.records += 1
        yield item


def build_database(specs: list[str], output: Path, *,
                   progress: Callable[[str, int, int], None] | None = None) -> BuildReport:
    """Build a database from local sources into `output` (written to a temp name, then renamed).

    A source that cannot be read at all is a usage error; bad records inside a source are
    skipped, counted, and the first reasons kept for the summary.
    """
    started = time.perf_counter()
    resolved = []
    for spec in specs:
        kind, location = parse_source_spec(spec)
        path = Path(location)
        if not path.exists():
            raise UsageError("advisory source not found", source=location)
        resolved.append((kind or detect_kind(path), path))
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.name}.building-{os.getpid()}")
    writer = DBWriter(tmp)
    reports: list[SourceReport] = []
    total = 0
    try:
        for number, (kind, path) in enumerate(resolved):
            if progress:
                progress(f"reading {kind} {path}", number, len(resolved))
            report = SourceReport(str(path), kind)
            if kind == "kev":
                entries = list(read_kev(path))
                good = [e for e in entries if not isinstance(e, BadRecord)]
                writer.add_kev((e.cve, e.date_added, e.due_date, e.ransomware, e.name)
                               for e in good)
                report.records = len(good)
                _note_bad(report, entries)
            elif kind == "epss":
                rows = list(read_epss(path))
                good_scores = [r for r in rows if not isinstance(r, BadRecord)]
                writer.add_epss((r.cve, r.score, r.percentile) for r in good_scores)
                report.records = len(good_scores)
                _note_bad(report, rows)
            else:
                for advisory in _advisories(kind, path, report):
                    scores = scores_for(advisory.severity)
                    writer.add(advisory, scores, severity_word(advisory, scores))
                total += report.records
            writer.add_source(f"{kind}:{path}", kind, str(path), report.records,
                              report.skipped, checksum(path), report.reasons)
            reports.append(report)
        writer.finish({"built_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                       "tool_version": __version__, "advisories": str(total)})
        os.replace(tmp, output)
    except BaseException:
        writer.abort()
        raise
    return BuildReport(output, reports, total, time.perf_counter() - started)


def _note_bad(report: SourceReport, items: list[object]) -> None:
    bad = [i for i in items if isinstance(i, BadRecord)]
    report.skipped = len(bad)
    report.reasons = [str(b) for b in bad[:10]]
