"""rpm header blobs: the fields the inventory reads, and hostile headers refused with a reason."""

from __future__ import annotations

import struct
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stackwarden.catalog.rpm import header as h
from stackwarden.catalog.rpm.header import HeaderError, parse_package
from tests.catalog.rpm.builders import BuiltDatabases, sqlite_blobs
from tests.catalog.rpm.headers import TagValue, basic_tags, make_header, patch_entry

FILES = [
    (h.TAG_BASENAMES, h.TYPE_STRING_ARRAY, ["bin", "ls", "ls.1.gz"]),
    (h.TAG_DIRNAMES, h.TYPE_STRING_ARRAY, ["/usr/", "/usr/bin/", "/usr/share/man/man1/"]),
    (h.TAG_DIRINDEXES, h.TYPE_INT32, [0, 1, 2]),
]


@pytest.mark.parametrize(("tags", "expected"), [
    pytest.param(basic_tags(), {"name": "demo", "version": "1.0", "release": "1", "epoch": None,
                                "arch": "x86_64", "license": "MIT", "size": None, "files": ()},
                 id="minimal-no-epoch"),
    pytest.param(basic_tags() + [(h.TAG_EPOCH, h.TYPE_INT32, [0])], {"epoch": 0},
                 id="explicit-epoch-zero"),
    pytest.param(basic_tags() + [(h.TAG_EPOCH, h.TYPE_INT32, [4294967295])],
                 {"epoch": 4294967295}, id="epoch-uint32-max"),
    pytest.param(basic_tags() + [(h.TAG_SIZE, h.TYPE_INT32, [1234])], {"size": 1234},
                 id="size"),
    pytest.param(basic_tags() + [(h.TAG_SIZE, h.TYPE_INT32, [1]),
                                 (h.TAG_LONGSIZE, h.TYPE_INT64, [5 << 32])],
                 {"size": 5 << 32}, id="longsize-wins"),
    pytest.param(basic_tags() + FILES,
                 {"files": ("/usr/bin", "/usr/bin/ls", "/usr/share/man/man1/ls.1.gz")},
                 id="basenames-dirnames"),
    pytest.param(basic_tags() + [(h.TAG_OLDFILENAMES, h.TYPE_STRING_ARRAY,
                                  ["/etc/legacy.conf", "/usr/bin/legacy"])],
                 {"files": ("/etc/legacy.conf", "/usr/bin/legacy")}, id="legacy-oldfilenames"),
    pytest.param([(h.TAG_NAME, h.TYPE_STRING, "i18n"), (h.TAG_VERSION, h.TYPE_STRING, "2"),
                  (h.TAG_LICENSE, h.TYPE_I18NSTRING, ["GPL+", "GPL+ (de)"])],
                 {"license": "GPL+", "release": "", "arch": ""}, id="i18n-string-default"),
    pytest.param(basic_tags() + [(h.TAG_SOURCERPM, h.TYPE_STRING, "demo-1.0-1.src.rpm"),
                                 (h.TAG_VENDOR, h.TYPE_STRING, "Ünïcode Vendor"),
                                 (h.TAG_MODULARITYLABEL, h.TYPE_STRING, "nodejs:18:1:abc")],
                 {"sourcerpm": "demo-1.0-1.src.rpm", "vendor": "Ünïcode Vendor",
                  "modularity_label": "nodejs:18:1:abc"}, id="source-vendor-module"),
    pytest.param([(h.TAG_NAME, h.TYPE_STRING, "dup"), (h.TAG_VERSION, h.TYPE_STRING, "1"),
                  (h.TAG_NAME, h.TYPE_STRING, "second")], {"name": "dup"},
                 id="duplicate-tag-first-wins"),
    pytest.param([(63, h.TYPE_BIN, bytes(16))] + basic_tags(), {"name": "demo"},
                 id="region-tag-ignored"),
])
def test_fields(tags: list[TagValue], expected: dict[str, object]) -> None:
    package = parse_package(make_header(tags))
    for field, value in expected.items():
        assert getattr(package, field) == value, field


def _truncate(blob: bytes) -> bytes:
    return blob[: len(blob) // 2]


def _counts(il: int, dl: int) -> Callable[[bytes], bytes]:
    return lambda blob: struct.pack(">II", il, dl) + blob[8:]


def _unterminated(blob: bytes) -> bytes:
    return blob[:-1] + b"x"  # the last string (OLDFILENAMES' last path) loses its NUL


HOSTILE = [
    ("short", lambda b: b[:5], "shorter than its 8-byte preamble"),
    ("truncated", _truncate, "blob has"),
    ("no-entries", _counts(0, 10), "index entries"),
    ("huge-il", _counts(0xFFFFFFFF, 10), "index entries"),
    ("huge-dl", _counts(6, 0xF0000000), "data bytes"),
    ("offset-past-store", lambda b: patch_entry(b, 0, offset=1 << 30), "past the"),
    ("int-count-past-store", lambda b: patch_entry(b, 5, count=1 << 28), "run past"),
    ("string-count-past-store", lambda b: patch_entry(b, 5, type_=h.TYPE_STRING_ARRAY,
                                                     count=1 << 30), "cannot fit"),
    ("unknown-type", lambda b: patch_entry(b, 1, type_=42), "unknown data type"),
    ("name-is-int", lambda b: patch_entry(b, 0, type_=h.TYPE_INT8, count=1), "expected strings"),
    ("unterminated-string", _unterminated, "NUL-terminated"),
]


@pytest.mark.parametrize(("mutate", "reason"), [pytest.param(m, r, id=i) for i, m, r in HOSTILE])
def test_hostile_headers_are_refused_with_a_reason(mutate: Callable[[bytes], bytes],
                                                   reason: str) -> None:
    blob = make_header(basic_tags() + [(h.TAG_EPOCH, h.TYPE_INT32, [1]),
                                       (h.TAG_OLDFILENAMES, h.TYPE_STRING_ARRAY, ["/a", "/b"])])
    parse_package(blob)  # the unmutated header is fine
    with pytest.raises(HeaderError, match=reason):
        parse_package(mutate(blob))


@pytest.mark.parametrize(("tags", "reason"), [
    (FILES[:2] + [(h.TAG_DIRINDEXES, h.TYPE_INT32, [0, 1, 7])], "DIRINDEXES value 7"),
    (FILES[:2] + [(h.TAG_DIRINDEXES, h.TYPE_INT32, [0])], "3 BASENAMES but 1 DIRINDEXES"),
    (FILES[:2] + [(h.TAG_DIRINDEXES, h.TYPE_STRING_ARRAY, ["0", "1", "2"])],
     "expected integers"),
    ([(h.TAG_VERSION, h.TYPE_STRING, "1")], "no NAME"),
])
def test_bad_file_lists_and_missing_names(tags: list[TagValue], reason: str) -> None:
    name = [] if tags[0][0] == h.TAG_VERSION else basic_tags()
    with pytest.raises(HeaderError, match=reason):
        parse_package(make_header(name + tags))


def test_files_can_be_left_out() -> None:
    assert parse_package(make_header(basic_tags() + FILES), with_files=False).files == ()


@pytest.fixture(scope="module")
def real_blob(rpm_dbs: BuiltDatabases) -> bytes:
    blobs = sqlite_blobs(rpm_dbs.db_file("sqlite"))
    return max(blobs, key=lambda row: len(row[1]) if len(row[1]) < 8000 else 0)[1]


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_real_headers_fail_only_with_header_errors(real_blob: bytes,
                                                           data: st.DataObject) -> None:
    blob = bytearray(real_blob)
    for _ in range(data.draw(st.integers(1, 8))):
        at = data.draw(st.integers(0, len(blob) - 1))
        blob[at] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(blob)))
    try:
        parse_package(bytes(blob[:cut]))
    except HeaderError:
        pass


@given(st.binary(max_size=512))
def test_random_bytes_fail_only_with_header_errors(blob: bytes) -> None:
    try:
        parse_package(blob)
    except HeaderError:
        pass
