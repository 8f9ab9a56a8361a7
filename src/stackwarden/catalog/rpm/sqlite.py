"""rpm's SQLite database (`rpmdb.sqlite`, rpm >= 4.16): header blobs in `Packages(hnum, blob)`.

The file is opened from memory (`deserialize`), never from the image's path, with a
progress handler bounding the work a hostile schema could ask for. When a non-empty
`-wal` file lies next to the database (an rpm that did not close cleanly), both are
copied to a private temporary directory so SQLite replays the log, as rpm would.
"""

from __future__ import annotations

import contextlib
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path

from stackwarden.catalog.rpm.records import DatabaseError, Record

SQLITE_MAGIC = b"SQLite format 3\0"
MAX_VM_STEPS = 200_000_000  # progress-handler calls x 1000 opcodes: minutes of work at worst
_PROGRESS_EVERY = 1000


def read_sqlite(data: bytes, wal: bytes | None = None) -> Iterator[Record]:
    """The header records of an rpmdb.sqlite file (and its write-ahead log, if any)."""
    if not data.startswith(SQLITE_MAGIC):
        raise DatabaseError("not an SQLite database (bad magic)")
    with _connect(data, wal) as conn:
        try:
            row = conn.execute("SELECT type FROM sqlite_master WHERE name = 'Packages'").fetchone()
            if row is None or row[0] != "table":
                raise DatabaseError("SQLite database has no Packages table")
            rows = conn.execute("SELECT hnum, blob FROM Packages ORDER BY hnum")
            for hnum, blob in rows:
                if not isinstance(hnum, int):
                    yield Record(-1, problem=f"row with non-integer hnum {hnum!r}")
                elif not isinstance(blob, bytes):
                    yield Record(hnum, problem=f"hnum {hnum}: blob is {type(blob).__name__}")
                else:
                    yield Record(hnum, blob=blob)
        except sqlite3.Error as exc:
            raise DatabaseError(f"SQLite: {exc}") from exc


@contextlib.contextmanager
def _connect(data: bytes, wal: bytes | None) -> Iterator[sqlite3.Connection]:
    with contextlib.ExitStack() as stack:
        try:
            if wal:
                folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="rpmdb-")))
                (folder / "rpmdb.sqlite").write_bytes(data)
                (folder / "rpmdb.sqlite-wal").write_bytes(wal)
                conn = sqlite3.connect(folder / "rpmdb.sqlite")
            else:
                conn = sqlite3.connect(":memory:")
                # Bytes 18-19 say "WAL mode" in rpm's databases; an in-memory copy cannot use
                # a log, so mark it as a rollback-journal database (its content is identical).
                image: bytes | bytearray = data
                if data[18:20] == b"\x02\x02":
                    image = bytearray(data)
                    image[18:20] = b"\x01\x01"
                conn.deserialize(image)
            stack.callback(conn.close)
            steps = [0]

            def progress() -> int:
                steps[0] += 1
                return 1 if steps[0] * _PROGRESS_EVERY > MAX_VM_STEPS else 0

            conn.set_progress_handler(progress, _PROGRESS_EVERY)
            conn.execute("PRAGMA trusted_schema = OFF")
            conn.execute("PRAGMA query_only = ON")
        except sqlite3.Error as exc:
            raise DatabaseError(f"SQLite: {exc}") from exc
        yield conn
