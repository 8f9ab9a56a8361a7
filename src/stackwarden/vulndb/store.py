"""The vulnerability database file: one SQLite file with its build metadata, read-only at scan."""

from __future__ import annotations

import json
import os
import sqlite3
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from stackwarden.core.config import cache_dir
from stackwarden.core.errors import StackWardenError
from stackwarden.vulndb.model import Advisory, Affected, Range

SCHEMA_VERSION = 1
SQLITE_MAGIC = b"SQLite format 3\x00"
DB_FILENAME = "vulndb.sqlite"

SCHEMA = """
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE sources(name TEXT PRIMARY KEY, kind TEXT NOT NULL, location TEXT NOT NULL,
                     records INTEGER NOT NULL, skipped INTEGER NOT NULL, sha256 TEXT NOT NULL,
                     reasons TEXT NOT NULL);
CREATE TABLE vulnerabilities(id TEXT PRIMARY KEY, source TEXT NOT NULL, summary TEXT,
                             details TEXT, published TEXT, modified TEXT, severity TEXT,
                             cvss TEXT NOT NULL, refs TEXT NOT NULL, aliases TEXT NOT NULL);
CREATE TABLE aliases(alias TEXT NOT NULL, id TEXT NOT NULL, PRIMARY KEY(alias, id))
    WITHOUT ROWID;
CREATE TABLE affected(vuln_id TEXT NOT NULL, ecosystem TEXT NOT NULL, release TEXT NOT NULL,
                      package TEXT NOT NULL, ranges TEXT NOT NULL, versions TEXT NOT NULL,
                      severity TEXT NOT NULL, status TEXT NOT NULL);
CREATE TABLE kev(cve TEXT PRIMARY KEY, date_added TEXT, due_date TEXT, ransomware TEXT,
                 name TEXT);
CREATE TABLE epss(cve TEXT PRIMARY KEY, score REAL NOT NULL, percentile REAL NOT NULL);
"""
INDEXES = """
CREATE INDEX affected_package ON affected(ecosystem, package);
CREATE INDEX affected_vuln ON affected(vuln_id);
"""
REQUIRED_TABLES = {"meta", "sources", "vulnerabilities", "aliases", "affected", "kev", "epss"}


class VulnDBError(StackWardenError):
    """The vulnerability database is missing, corrupt, truncated or of another schema."""


def default_db_path() -> Path:
    """`$STACKWARDEN_DB`, else the file `db update` writes in the cache directory."""
    explicit = os.environ.get("STACKWARDEN_DB")
    return Path(explicit) if explicit else cache_dir() / "db" / DB_FILENAME


def check_file(path: Path) -> None:
    """Refuse a file that is not a whole SQLite database (cheap: header and size only)."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as handle:
            header = handle.read(100)
    except FileNotFoundError:
        raise VulnDBError("no vulnerability database here; run `stackwarden db update` or "
                          "`stackwarden db build`, or pass --db", source=str(path)) from None
    except OSError as exc:
        raise VulnDBError(f"cannot read: {exc.strerror}", source=str(path)) from exc
    if len(header) < 100 or not header.startswith(SQLITE_MAGIC):
        raise VulnDBError("not a StackWarden vulnerability database (not SQLite)",
                          source=str(path))
    page_size = struct.unpack(">H", header[16:18])[0]
    page_size = 65536 if page_size == 1 else page_size
    pages = struct.unpack(">I", header[28:32])[0]
    if pages and page_size * pages > size:
        raise VulnDBError(f"truncated: the header promises {page_size * pages} bytes, the file "
                          f"has {size}", source=str(path))


@dataclass(frozen=True, slots=True)
class AffectedRow:
    """One affected package of one vulnerability, as stored."""

    vuln_id: str
    ecosystem: str
    release: str
    package: str
    ranges: tuple[Range, ...]
    versions: frozenset[str]
    severity: str
    status: str


@dataclass(frozen=True, slots=True)
class VulnRecord:
    """What the database knows about one vulnerability id."""

    id: str
    source: str
    summary: str
    details: str
    published: str
    modified: str
    severity: str
    cvss: tuple[tuple[str, str, float | None], ...]  # (version, vector, base score)
    references: tuple[str, ...]
    aliases: tuple[str, ...]


def _ranges_to_json(ranges: Sequence[Range]) -> str:
    return json.dumps([[r.type, [list(e) for e in r.events], list(r.requirements)]
                       for r in ranges], separators=(",", ":"))


@cache
def _ranges_from_json(text: str) -> tuple[Range, ...]:
    return tuple(Range(t, tuple((k, v) for k, v in events), tuple(reqs))
                 for t, events, reqs in json.loads(text))


@cache
def _versions_from_json(text: str) -> frozenset[str]:
    return frozenset(json.loads(text))


class VulnDB:
    """Read access to a database file; every SQLite error becomes a VulnDBError."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        check_file(self.path)
        try:
            self.conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True,
                                        check_same_thread=False)
            tables = {r[0] for r in self.conn.execute(
                "SELECT name FROM sqlite_master WHERE type='table'")}
            missing = REQUIRED_TABLES - tables
            if missing:
                raise VulnDBError(f"not a StackWarden vulnerability database (missing "
                                  f"{', '.join(sorted(missing))})", source=str(self.path))
            self.meta = dict(self.conn.execute("SELECT key, value FROM meta"))
        except sqlite3.DatabaseError as exc:
            raise VulnDBError(f"corrupt database: {exc}", source=str(self.path)) from exc
        version = self.meta.get("schema_version")
        if version != str(SCHEMA_VERSION):
            raise VulnDBError(f"schema version {version!r}, this StackWarden reads "
                              f"{SCHEMA_VERSION}; rebuild or update the database",
                              source=str(self.path))
        self._affected_cache: dict[tuple[str, str, str | None], list[AffectedRow]] = {}

    def _query(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            return self.conn.execute(sql, tuple(params)).fetchall()
        except sqlite3.DatabaseError as exc:
            raise VulnDBError(f"corrupt database: {exc}", source=str(self.path)) from exc

    def affected(self, ecosystem: str, package: str, release: str | None = None
                 ) -> list[AffectedRow]:
        """Every stored affected entry for one package of one ecosystem; with `release`, only
        the entries for that exact release and release-less ones (Alpine branches, Debian
        releases: per-release feeds repeat a package many times)."""
        key = (ecosystem, package, release)
        rows = self._affected_cache.get(key)
        if rows is None:
            sql = ("SELECT vuln_id, ecosystem, release, package, ranges, versions, severity, "
                   "status FROM affected WHERE ecosystem=? AND package=?")
            params: tuple[str, ...] = (ecosystem, package)
            if release is not None:
                sql += " AND release IN ('', ?)"
                params += (release,)
            rows = [AffectedRow(r[0], r[1], r[2], r[3], _ranges_from_json(r[4]),
                                _versions_from_json(r[5]), r[6], r[7])
                    for r in self._query(sql, params)]
            self._affected_cache[key] = rows
        return rows

    def _where_in(self, sql: str, keys: Iterable[str]) -> list[tuple[Any, ...]]:
        """Run `sql` (ending in `IN ({marks})`) over `keys` in chunks SQLite accepts."""
        wanted = sorted(set(keys))
        rows: list[tuple[Any, ...]] = []
        for start in range(0, len(wanted), 500):
            part = wanted[start:start + 500]
            rows += self._query(sql.format(marks=",".join("?" * len(part))), part)
        return rows

    def vulnerabilities(self, ids: Iterable[str]) -> dict[str, VulnRecord]:
        """The records of some vulnerability ids (missing ids are left out)."""
        rows = self._where_in("SELECT id, source, summary, details, published, modified, "
                              "severity, cvss, refs, aliases FROM vulnerabilities "
                              "WHERE id IN ({marks})", ids)
        return {r[0]: VulnRecord(r[0], r[1], r[2] or "", r[3] or "", r[4] or "", r[5] or "",
                                 r[6] or "", tuple(tuple(c) for c in json.loads(r[7])),
                                 tuple(json.loads(r[8])), tuple(json.loads(r[9])))
                for r in rows}

    def ids_for_aliases(self, aliases: Iterable[str], *, informative: bool = False
                        ) -> dict[str, set[str]]:
        """For each alias (e.g. a CVE), the vulnerability ids that name it; `informative` keeps
        only records that carry a summary, a severity or CVSS (the ones worth reading for
        enrichment: per-branch distribution records repeat a CVE dozens of times, bare)."""
        sql = "SELECT alias, id FROM aliases WHERE alias IN ({marks})"
        if informative:
            sql = ("SELECT a.alias, a.id FROM aliases a JOIN vulnerabilities v ON v.id = a.id "
                   "WHERE a.alias IN ({marks}) AND (v.summary != '' OR v.severity != '' OR "
                   "v.cvss != '[]')")
        found: dict[str, set[str]] = {}
        for alias, vid in self._where_in(sql, aliases):
            found.setdefault(alias, set()).add(vid)
        return found

    def kev(self, cves: Iterable[str]) -> dict[str, tuple[str, str]]:
        """CVE -> (date added, due date) for the CVEs in CISA's KEV catalog."""
        return {cve: (added, due) for cve, added, due in self._where_in(
            "SELECT cve, date_added, due_date FROM kev WHERE cve IN ({marks})", cves)}

    def epss(self, cves: Iterable[str]) -> dict[str, tuple[float, float]]:
        """CVE -> (probability, percentile) from FIRST EPSS."""
        return {cve: (score, pct) for cve, score, pct in self._where_in(
            "SELECT cve, score, percentile FROM epss WHERE cve IN ({marks})", cves)}

    def sources(self) -> list[dict[str, Any]]:
        """The sources the database was built from, with counts and checksums."""
        rows = self._query("SELECT name, kind, location, records, skipped, sha256, reasons "
                           "FROM sources ORDER BY name")
        return [{"name": r[0], "kind": r[1], "location": r[2], "records": r[3],
                 "skipped": r[4], "sha256": r[5], "reasons": json.loads(r[6])} for r in rows]

    def counts(self) -> dict[str, int]:
        """Rows per table (vulnerabilities, affected packages, KEV, EPSS)."""
        return {table: self._query(f"SELECT count(*) FROM {table}")[0][0]  # noqa: S608
                for table in ("vulnerabilities", "affected", "kev", "epss")}

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()

    def __enter__(self) -> VulnDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class DBWriter:
    """Writes a new database file (the caller renames it into place when complete)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.unlink(missing_ok=True)
        self.conn = sqlite3.connect(path)
        self.conn.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;")
        self.conn.executescript(SCHEMA)
        self._modified: dict[str, str] = {}

    def add(self, advisory: Advisory, cvss: Sequence[tuple[str, str, float | None]],
            severity: str) -> None:
        """Store one advisory (a later copy of the same id replaces an older one)."""
        previous = self._modified.get(advisory.id)
        if previous is not None:
            if advisory.modified and previous and advisory.modified < previous:
                return
            self.conn.execute("DELETE FROM affected WHERE vuln_id=?", (advisory.id,))
            self.conn.execute("DELETE FROM aliases WHERE id=?", (advisory.id,))
        self._modified[advisory.id] = advisory.modified
        self.conn.execute(
            "INSERT OR REPLACE INTO vulnerabilities VALUES (?,?,?,?,?,?,?,?,?,?)",
            (advisory.id, advisory.source, advisory.summary, advisory.details,
             advisory.published, advisory.modified, severity,
             json.dumps([list(c) for c in cvss]), json.dumps(list(advisory.references)),
             json.dumps(list(advisory.aliases))))
        self.conn.executemany("INSERT OR IGNORE INTO aliases VALUES (?,?)",
                              [(a, advisory.id) for a in {advisory.id, *advisory.aliases}])
        self.conn.executemany("INSERT INTO affected VALUES (?,?,?,?,?,?,?,?)",
                              [_affected_row(advisory.id, a) for a in advisory.affected])

    def add_kev(self, rows: Iterable[tuple[str, str, str, str, str]]) -> None:
        """Store CISA KEV entries."""
        self.conn.executemany("INSERT OR REPLACE INTO kev VALUES (?,?,?,?,?)", rows)

    def add_epss(self, rows: Iterable[tuple[str, float, float]]) -> None:
        """Store EPSS scores."""
        self.conn.executemany("INSERT OR REPLACE INTO epss VALUES (?,?,?)", rows)

    def add_source(self, name: str, kind: str, location: str, records: int, skipped: int,
                   sha256: str, reasons: list[str]) -> None:
        """Record one input source with its counts, checksum and first skip reasons."""
        self.conn.execute("INSERT OR REPLACE INTO sources VALUES (?,?,?,?,?,?,?)",
                          (name, kind, location, records, skipped, sha256,
                           json.dumps(reasons[:10])))

    def finish(self, meta: dict[str, str]) -> None:
        """Index, write the metadata, compact, close."""
        self.conn.executescript(INDEXES)
        self.conn.executemany("INSERT OR REPLACE INTO meta VALUES (?,?)",
                              [*meta.items(), ("schema_version", str(SCHEMA_VERSION))])
        self.conn.commit()
        self.conn.execute("VACUUM")
        self.conn.close()

    def abort(self) -> None:
        """Drop the half-written file."""
        self.conn.close()
        self.path.unlink(missing_ok=True)


def _affected_row(vuln_id: str, affected: Affected) -> tuple[str, ...]:
    return (vuln_id, affected.ecosystem, affected.release, affected.package,
            _ranges_to_json(affected.ranges), json.dumps(sorted(affected.versions)),
            affected.severity, affected.status)
