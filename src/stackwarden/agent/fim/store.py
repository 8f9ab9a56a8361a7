"""The baseline database: one SQLite file holding every record, kept contents and the options.

Written to a temporary file beside the target and renamed into place, so an interrupted
baseline never leaves a half database; created with mode 0600 (it lists every monitored
file and keeps redacted copies of small configuration files).
"""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
import time
import zlib
from collections.abc import Iterable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

from stackwarden import __version__
from stackwarden.agent.fim.model import SCHEMA_VERSION, FileRecord, FimError, FimOptions

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE files (
    path TEXT NOT NULL, type TEXT NOT NULL, size INTEGER NOT NULL, mode INTEGER NOT NULL,
    uid INTEGER NOT NULL, gid INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
    inode INTEGER NOT NULL, link TEXT, sha256 TEXT, caps TEXT, xattrs TEXT, error TEXT,
    content BLOB
);
"""
# Rows arrive in walk order; indexing them once at the end (one sort) is several times faster
# than keeping a path-keyed B-tree in order through 100,000 random inserts.
_INDEX = "CREATE UNIQUE INDEX files_path ON files (path)"
_COLUMNS = "path, type, size, mode, uid, gid, mtime_ns, inode, link, sha256, caps, xattrs, error"


def _db_row(row: tuple[Any, ...], content: bytes | None) -> tuple[Any, ...]:
    return (*row[:11], json.dumps(row[11]) if row[11] else None, row[12],
            zlib.compress(content) if content is not None else None)


def _from_db(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """A database row as a record row (xattrs back from JSON to sorted pairs)."""
    if row[11] is None:
        return row[:11] + ((),) + row[12:]
    return row[:11] + (tuple((k, v) for k, v in json.loads(row[11])),) + row[12:]


def _record(row: tuple[Any, ...]) -> FileRecord:
    return FileRecord(*_from_db(row))


def _connect(path: str) -> sqlite3.Connection:
    try:
        return sqlite3.connect(path, timeout=30, check_same_thread=False)
    except sqlite3.Error as exc:
        raise FimError(f"cannot open the baseline database: {exc}", source=path) from exc


class BaselineWriter:
    """Writes a new baseline database atomically (`commit` renames it into place)."""

    def __init__(self, path: str | Path, roots: Iterable[str], options: FimOptions) -> None:
        self.path = Path(path)
        directory = self.path.parent if str(self.path.parent) else Path(".")
        if not directory.is_dir():
            raise FimError("no such directory for the baseline database", source=str(path))
        if self.path.is_dir():
            raise FimError("is a directory, not a baseline database file", source=str(path))
        fd, self._tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=directory)
        os.close(fd)  # mkstemp creates it 0600: the database stays private
        self._db = _connect(self._tmp)
        self._db.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;" + _SCHEMA)
        meta = {"schema_version": SCHEMA_VERSION, "tool_version": __version__,
                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "roots": json.dumps(list(roots)), "options": json.dumps(options.to_dict())}
        self._db.executemany("INSERT INTO meta VALUES (?, ?)", meta.items())
        self._rows: list[tuple[Any, ...]] = []
        self.count = 0

    def add(self, row: tuple[Any, ...], content: bytes | None = None) -> None:
        """Add one record row (FileRecord.row() order) and the redacted content kept for
        diffs."""
        self._rows.append(_db_row(row, content))
        self.count += 1
        if len(self._rows) >= 5000:
            self._flush()

    def _flush(self) -> None:
        self._db.executemany(f"INSERT INTO files ({_COLUMNS}, content) "
                             "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", self._rows)
        self._rows.clear()

    def commit(self) -> None:
        """Finish the database and move it into place (replacing the old baseline)."""
        self._flush()
        self._db.execute(_INDEX)
        self._db.commit()
        self._db.close()
        with open(self._tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(self._tmp, self.path)

    def abort(self) -> None:
        """Drop the unfinished database; the old baseline (if any) stays."""
        self._db.close()
        Path(self._tmp).unlink(missing_ok=True)


class BaselineStore:
    """Read access (and in-place updates) to an existing baseline database."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if not os.path.isfile(self.path):
            raise FimError("no baseline database here (run `stackwarden fim baseline` first)",
                           source=self.path)
        self._db = _connect(self.path)
        try:
            meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
            self.roots: tuple[str, ...] = tuple(json.loads(meta["roots"]))
            self.options = FimOptions.from_dict(json.loads(meta["options"]))
        except (sqlite3.Error, KeyError, ValueError, TypeError) as exc:
            self._db.close()
            raise FimError(f"not a StackWarden baseline database ({exc})",
                           source=self.path) from None
        self.created = meta.get("created", "")
        self.schema_version = meta.get("schema_version", "")

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def __enter__(self) -> BaselineStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def count(self) -> int:
        """How many paths the baseline holds."""
        return int(self._db.execute("SELECT count(*) FROM files").fetchone()[0])

    def records(self) -> Iterator[FileRecord]:
        """Every record (any order)."""
        for row in self.rows():
            yield FileRecord(*row)

    def rows(self) -> Iterator[tuple[Any, ...]]:
        """Every record as a row tuple (FileRecord.row() order; cheaper than records)."""
        with closing(self._db.execute(f"SELECT {_COLUMNS} FROM files")) as cursor:
            for row in cursor:
                yield _from_db(row)

    def get(self, path: str) -> FileRecord | None:
        """The record of one path, or None."""
        row = self._db.execute(f"SELECT {_COLUMNS} FROM files WHERE path = ?",
                               (path,)).fetchone()
        return _record(row) if row else None

    def under(self, directory: str) -> list[FileRecord]:
        """Records of every path strictly below a directory."""
        prefix = directory.rstrip("/") + "/"
        rows = self._db.execute(f"SELECT {_COLUMNS} FROM files WHERE path >= ? AND path < ?",
                                (prefix, prefix[:-1] + "0")).fetchall()
        return [_record(row) for row in rows]

    def content(self, path: str) -> bytes | None:
        """The redacted content kept for a small text file, or None."""
        row = self._db.execute("SELECT content FROM files WHERE path = ?", (path,)).fetchone()
        if not row or row[0] is None:
            return None
        try:
            return zlib.decompress(row[0])
        except zlib.error:
            return None

    def apply(self, upserts: Iterable[tuple[FileRecord, bytes | None]],
              deletes: Iterable[str]) -> None:
        """Accept changes into the baseline (one transaction)."""
        with self._db:
            self._db.executemany(f"INSERT OR REPLACE INTO files ({_COLUMNS}, content) "
                                 "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                                 [_db_row(r.row(), c) for r, c in upserts])
            self._db.executemany("DELETE FROM files WHERE path = ?", [(p,) for p in deletes])
