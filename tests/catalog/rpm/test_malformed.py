"""Broken and hostile rpm databases: each problem is skipped with one clear reason, never raised."""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import struct
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stackwarden.artifact.directory import DirectoryArtifact
from stackwarden.catalog.engine import catalog_artifact
from stackwarden.catalog.rpm import RpmDBCataloger
from stackwarden.catalog.rpm.bdb import P_HASH, P_OVERFLOW
from stackwarden.catalog.rpm.cataloger import read_records
from stackwarden.catalog.rpm.header import HeaderError, parse_package
from stackwarden.core.errors import CatalogError
from stackwarden.core.models import SBOM
from tests.catalog.rpm.builders import BuiltDatabases, write_ndb
from tests.catalog.rpm.headers import basic_tags, make_header, patch_entry

GOOD = 44  # packages in every built database (gpg-pubkey not counted)


def scan(tmp_path: Path, name: str, data: bytes) -> SBOM:
    """Inventory a root holding `data` as /var/lib/rpm/<name>."""
    target = tmp_path / "root" / "var/lib/rpm" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return catalog_artifact(DirectoryArtifact(tmp_path / "root"), [RpmDBCataloger()])


def reasons(sbom: SBOM) -> list[str]:
    assert all(s.by == "rpm-db-cataloger" for s in sbom.skipped)
    return [s.reason for s in sbom.skipped]


# --- whole files that are not databases at all -------------------------------------------

@pytest.mark.parametrize(("name", "data", "reason"), [
    ("Packages", b"\x00garbage" * 1000, "not an rpm database"),
    ("Packages", b"#!/bin/sh\necho not a db\n", "not an rpm database"),
    ("Packages.db", b"RpmP" + bytes(28), "ndb header claims 0 slot pages"),
    ("Packages.db", b"RpmP" + struct.pack("<4I", 7, 0, 1, 0) + bytes(12), "ndb version 7"),
    ("Packages.db", b"RpmP" + struct.pack("<4I", 0, 0, 1 << 30, 0) + bytes(12),
     "slot pages"),
    ("Packages.db", b"RpmP" + struct.pack("<4I", 0, 0, 3, 0) + bytes(4096),
     "the file holds 1"),
    ("rpmdb.sqlite", b"SQLite format 3\0" + b"\xff" * 200, "SQLite"),
])
def test_files_that_are_not_databases(tmp_path: Path, name: str, data: bytes,
                                      reason: str) -> None:
    sbom = scan(tmp_path, name, data)
    assert sbom.packages == ()
    assert len(sbom.skipped) == 1 and reason in sbom.skipped[0].reason


def test_empty_placeholder_is_silently_empty(tmp_path: Path) -> None:
    sbom = scan(tmp_path, "Packages", b"")
    assert sbom.packages == () and sbom.skipped == ()


# --- sqlite ---------------------------------------------------------------------------------

def _sqlite_copy(rpm_dbs: BuiltDatabases, tmp_path: Path, sql: list[str]) -> bytes:
    path = tmp_path / "edit.sqlite"
    shutil.copyfile(rpm_dbs.db_file("sqlite"), path)
    with contextlib.closing(sqlite3.connect(path)) as conn:
        for statement in sql:
            conn.execute(statement)
        conn.commit()
        conn.execute("PRAGMA journal_mode = DELETE")
    return path.read_bytes()


def test_truncated_sqlite(rpm_dbs: BuiltDatabases, tmp_path: Path) -> None:
    data = rpm_dbs.db_file("sqlite").read_bytes()
    sbom = scan(tmp_path, "rpmdb.sqlite", data[: len(data) // 3])
    assert len(sbom.packages) < GOOD
    assert any("SQLite" in r and "malformed" in r for r in reasons(sbom)), reasons(sbom)


@pytest.mark.parametrize(("sql", "reason"), [
    (["DROP TABLE Packages"], "no Packages table"),
    (["ALTER TABLE Packages RENAME TO Old", "CREATE VIEW Packages AS SELECT * FROM Old"],
     "no Packages table"),
])
def test_sqlite_without_a_packages_table(rpm_dbs: BuiltDatabases, tmp_path: Path,
                                         sql: list[str], reason: str) -> None:
    sbom = scan(tmp_path, "rpmdb.sqlite", _sqlite_copy(rpm_dbs, tmp_path, sql))
    assert sbom.packages == () and reasons(sbom) == [f"SQLite database has {reason}"]


def test_bad_rows_are_skipped_and_the_rest_read(rpm_dbs: BuiltDatabases, tmp_path: Path) -> None:
    hostile = patch_entry(make_header(basic_tags("hostile")), 0, offset=1 << 20)
    data = _sqlite_copy(rpm_dbs, tmp_path, [
        "UPDATE Packages SET blob = randomblob(300) WHERE hnum = 3",
        "UPDATE Packages SET blob = 'text, not a blob' WHERE hnum = 5",
        f"UPDATE Packages SET blob = x'{hostile.hex()}' WHERE hnum = 7",
    ])
    sbom = scan(tmp_path, "rpmdb.sqlite", data)
    assert len(sbom.packages) == GOOD - 3
    found = sorted(reasons(sbom))
    assert len(found) == 3
    assert found[0].startswith("record 3: bad header")
    assert found[1] == "record 5: hnum 5: blob is str"
    assert found[2].startswith("record 7: bad header: tag 1000: offset 1048576 is past the")


# --- Berkeley DB ----------------------------------------------------------------------------

def _pages(data: bytes, size: int, kind: int) -> list[int]:
    return [n for n in range(1, len(data) // size) if data[n * size + 25] == kind]


def _patched(data: bytes, at: int, value: bytes) -> bytes:
    return data[:at] + value + data[at + len(value):]


def test_garbage_overflow_page_loses_one_package(rpm_dbs: BuiltDatabases, tmp_path: Path) -> None:
    data = rpm_dbs.db_file("bdb-4k").read_bytes()
    page = _pages(data, 4096, P_OVERFLOW)[5]
    sbom = scan(tmp_path, "Packages", _patched(data, page * 4096 + 25, b"\x00"))
    assert len(sbom.packages) == GOOD - 1
    assert len(sbom.skipped) == 1
    assert "not an overflow page" in sbom.skipped[0].reason


def test_overflow_pointing_past_the_end(rpm_dbs: BuiltDatabases, tmp_path: Path) -> None:
    data = rpm_dbs.db_file("bdb-4k").read_bytes()
    page = _pages(data, 4096, P_OVERFLOW)[3]
    sbom = scan(tmp_path, "Packages", _patched(data, page * 4096 + 16, struct.pack("<I", 999999)))
    assert len(sbom.packages) == GOOD - 1
    assert "outside the file" in reasons(sbom)[0]


def test_bucket_chain_loop_keeps_what_was_read(rpm_dbs: BuiltDatabases, tmp_path: Path) -> None:
    data = rpm_dbs.db_file("bdb-512-be").read_bytes()
    page = _pages(data, 512, P_HASH)[-1]
    sbom = scan(tmp_path, "Packages", _patched(data, page * 512 + 16, struct.pack(">I", page)))
    assert 0 < len(sbom.packages) <= GOOD
    assert any("partly read" in r and "reached twice" in r for r in reasons(sbom)), reasons(sbom)


def test_truncated_berkeley_db(rpm_dbs: BuiltDatabases, tmp_path: Path) -> None:
    data = rpm_dbs.db_file("bdb-4k").read_bytes()
    sbom = scan(tmp_path, "Packages", data[: len(data) // 2])
    assert len(sbom.packages) < GOOD
    assert sbom.skipped
    assert all("outside the file" in r or "more than the whole file" in r
               for r in reasons(sbom)), reasons(sbom)


@pytest.mark.parametrize(("offset", "value", "reason"), [
    (20, struct.pack("<I", 3000), "invalid Berkeley DB page size 3000"),
    (24, b"\x01", "encrypted"),
    (25, b"\x09", "not a hash metadata page"),
    (16, struct.pack("<I", 2), "unsupported Berkeley DB hash version 2"),
    (72, struct.pack("<I", 0x7FFFFFFF), "buckets in a file of"),
])
def test_bad_berkeley_metadata(rpm_dbs: BuiltDatabases, tmp_path: Path, offset: int,
                               value: bytes, reason: str) -> None:
    data = rpm_dbs.db_file("bdb-4k").read_bytes()
    sbom = scan(tmp_path, "Packages", _patched(data, offset, value))
    assert sbom.packages == () and reason in reasons(sbom)[0]


# --- ndb ------------------------------------------------------------------------------------

def _ndb(rpm_dbs: BuiltDatabases) -> bytes:
    return rpm_dbs.db_file("ndb").read_bytes()


def _slot(data: bytes, number: int) -> tuple[int, int, int, int]:
    return struct.unpack_from("<4I", data, 32 + 16 * number)


def _set_slot(data: bytes, number: int, *values: int) -> bytes:
    return _patched(data, 32 + 16 * number, struct.pack("<4I", *values))


def _slot_past_end(data: bytes) -> bytes:
    magic, idx, _off, cnt = _slot(data, 4)
    return _set_slot(data, 4, magic, idx, len(data) // 16 + 10, cnt)


def _checksum(data: bytes) -> bytes:
    _magic, _idx, off, _cnt = _slot(data, 4)
    return _patched(data, off * 16 + 40, b"\xee")


def _blob_magic(data: bytes) -> bytes:
    _magic, _idx, off, _cnt = _slot(data, 4)
    return _patched(data, off * 16, b"XXXX")


def _wrong_owner(data: bytes) -> bytes:
    _magic, _idx, off, _cnt = _slot(data, 4)
    return _patched(data, off * 16 + 4, struct.pack("<I", 9999))


def _block_count(data: bytes) -> bytes:
    magic, idx, off, cnt = _slot(data, 4)
    return _set_slot(data, 4, magic, idx, off, cnt + 1)


def _slot_magic(data: bytes) -> bytes:
    return _patched(data, 32 + 16 * 4, b"Junk")


def _into_slot_pages(data: bytes) -> bytes:
    magic, idx, _off, cnt = _slot(data, 4)
    return _set_slot(data, 4, magic, idx, 3, cnt)


@pytest.mark.parametrize(("mutate", "reason"), [
    (_slot_past_end, "points past the end of the file"),
    (_checksum, "Adler-32 checksum mismatch"),
    (_blob_magic, "no blob header"),
    (_wrong_owner, "blob belongs to package 9999"),
    (_block_count, "needs"),
    (_slot_magic, "bad slot magic"),
    (_into_slot_pages, "invalid slot"),
])
def test_bad_ndb_slot_or_blob_loses_one_package(rpm_dbs: BuiltDatabases, tmp_path: Path,
                                                mutate: Callable[[bytes], bytes],
                                                reason: str) -> None:
    sbom = scan(tmp_path, "Packages.db", mutate(_ndb(rpm_dbs)))
    assert len(sbom.packages) == GOOD - 1 or (reason == "bad slot magic"
                                              and len(sbom.packages) >= GOOD - 1)
    assert len(sbom.skipped) == 1 and reason in sbom.skipped[0].reason, reasons(sbom)


def test_ndb_over_several_slot_pages(tmp_path: Path) -> None:
    blobs = [(n, make_header(basic_tags(f"p{n}"))) for n in range(1, 400)]
    sbom = scan(tmp_path, "Packages.db", write_ndb(blobs, slot_pages=2))
    assert len(sbom.packages) == 399 and sbom.skipped == ()


# --- fuzzing: whatever the bytes, only CatalogError escapes the readers ----------------------

def drain(data: bytes) -> int:
    """Read every record and header; return how many parsed. Only CatalogError may escape."""
    parsed = 0
    _kind, records = read_records(data)
    for record in records:
        if record.blob is not None:
            try:
                parse_package(record.blob)
                parsed += 1
            except HeaderError:
                pass
    return parsed


@pytest.mark.parametrize("variant", ["ndb", "bdb-512-be", "bdb-1k-chksum"])
@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzzed_databases_fail_only_with_catalog_errors(rpm_dbs: BuiltDatabases, variant: str,
                                                        data: st.DataObject) -> None:
    blob = bytearray(rpm_dbs.db_file(variant).read_bytes())
    for _ in range(data.draw(st.integers(1, 30))):
        at = data.draw(st.integers(0, min(len(blob) - 1, 40_000)))
        blob[at] = data.draw(st.integers(0, 255))
    with contextlib.suppress(CatalogError):
        assert drain(bytes(blob)) <= GOOD + 1
