"""The database file: a corrupt, truncated or foreign file is refused with a clear message."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from stackwarden.vulndb.build import build_database
from stackwarden.vulndb.store import VulnDB, VulnDBError

RECORD = {"id": "GHSA-aaaa-bbbb-cccc", "modified": "2024-01-01T00:00:00Z",
          "affected": [{"package": {"name": "left-pad", "ecosystem": "npm"},
                        "ranges": [{"type": "SEMVER",
                                    "events": [{"introduced": "0"}, {"fixed": "1.1.0"}]}]}]}


@pytest.fixture()
def db_file(tmp_path: Path) -> Path:
    src = tmp_path / "r.json"
    src.write_text(json.dumps(RECORD))
    out = tmp_path / "v.sqlite"
    build_database([str(src)], out)
    return out


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(VulnDBError, match="db update"):
        VulnDB(tmp_path / "nope.sqlite")


def test_garbage_file(tmp_path: Path) -> None:
    path = tmp_path / "garbage.sqlite"
    path.write_bytes(b"hello" * 100)
    with pytest.raises(VulnDBError, match="not SQLite"):
        VulnDB(path)


def test_truncated_file(db_file: Path) -> None:
    data = db_file.read_bytes()
    db_file.write_bytes(data[: len(data) // 2])
    with pytest.raises(VulnDBError, match="truncated"):
        VulnDB(db_file)


def test_other_schema(db_file: Path) -> None:
    conn = sqlite3.connect(db_file)
    conn.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    conn.commit()
    conn.close()
    with pytest.raises(VulnDBError, match="schema version '99'"):
        VulnDB(db_file)


def test_foreign_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t(x)")
    conn.commit()
    conn.close()
    with pytest.raises(VulnDBError, match="missing"):
        VulnDB(path)


def test_corrupted_pages_fail_loudly(db_file: Path) -> None:
    data = bytearray(db_file.read_bytes())
    page = 4096
    for i in range(page * 2, len(data), 7):  # scribble over everything past the first pages
        data[i] = 0xA5
    db_file.write_bytes(bytes(data))
    with pytest.raises(VulnDBError, match="corrupt"):
        with VulnDB(db_file) as db:
            db.affected("npm", "left-pad")
            db.counts()
