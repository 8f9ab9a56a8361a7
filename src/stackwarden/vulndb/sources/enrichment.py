"""Enrichment feeds keyed by CVE: CISA's Known Exploited Vulnerabilities and FIRST's EPSS."""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from stackwarden.vulndb.sources.base import BadRecord

MAX_FEED_BYTES = 512 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class KevEntry:
    """One CVE in CISA's KEV catalog."""

    cve: str
    date_added: str
    due_date: str
    ransomware: str
    name: str


@dataclass(frozen=True, slots=True)
class EpssScore:
    """FIRST's exploit probability for one CVE, with its percentile."""

    cve: str
    score: float
    percentile: float


def is_kev(path: Path) -> bool:
    """Whether a file looks like CISA's KEV JSON catalog."""
    if not path.is_file() or path.suffix != ".json":
        return False
    with open(path, "rb") as handle:
        head = handle.read(4096)
    return b"catalogVersion" in head or b"known_exploited" in path.name.encode()


def is_epss(path: Path) -> bool:
    """Whether a file looks like FIRST's EPSS CSV (plain or gzipped)."""
    return path.is_file() and (path.name.endswith((".csv", ".csv.gz"))
                               and "epss" in path.name.lower())


def read_kev(path: Path) -> Iterator[KevEntry | BadRecord]:
    """Every entry of the KEV catalog."""
    try:
        doc = json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        yield BadRecord(f"not valid JSON: {str(exc)[:160]}", str(path))
        return
    items = doc.get("vulnerabilities") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        yield BadRecord("not a KEV catalog (no vulnerabilities list)", str(path))
        return
    for item in items:
        if not isinstance(item, dict) or not str(item.get("cveID", "")).startswith("CVE-"):
            yield BadRecord(f"KEV entry without a CVE id: {str(item)[:80]}", str(path))
            continue
        yield KevEntry(item["cveID"], str(item.get("dateAdded", "")),
                       str(item.get("dueDate", "")),
                       str(item.get("knownRansomwareCampaignUse", "")),
                       str(item.get("vulnerabilityName", "")))


def read_epss(path: Path) -> Iterator[EpssScore | BadRecord]:
    """Every row of an EPSS scores CSV (`#model_version…` comment, then cve,epss,percentile)."""
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    if len(data) > MAX_FEED_BYTES:
        yield BadRecord("EPSS file too large", str(path))
        return
    lines = (line for line in io.StringIO(data.decode("utf-8", "replace"))
             if not line.startswith("#"))
    reader = csv.DictReader(lines)
    for row in reader:
        try:
            yield EpssScore(row["cve"], float(row["epss"]), float(row["percentile"]))
        except (KeyError, TypeError, ValueError):
            yield BadRecord(f"bad EPSS row {row!r:.80}", str(path))
