"""`.stackwardenignore`: which entries cover which findings, expiry, and errors naming the line."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import pytest

from stackwarden.core.findings import Finding
from stackwarden.policy import PolicyError, load_ignore_file
from tests.report.sample import (
    EVIL,
    MALWARE,
    MISCONFIG_DOCKERFILE,
    SECRET,
    VULNERABILITIES,
)

OPENSSL_VULN, WEBP_VULN, ZLIB_VULN, EVIL_VULN = VULNERABILITIES
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / ".stackwardenignore"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("entry", "finding", "covered"),
    [
        # ids: the id itself, an alias, a glob; case does not matter
        ("ids: [{id: CVE-2023-0286, reason: r}]", OPENSSL_VULN, True),
        ("ids: [{id: dsa-5343-1, reason: r}]", OPENSSL_VULN, True),
        ("ids: [{id: 'CVE-2023-*', reason: r}]", WEBP_VULN, True),
        ("ids: [{id: CVE-2023-0286, reason: r}]", WEBP_VULN, False),
        ("ids: [{id: aws-access-key-id, reason: r}]", SECRET, True),
        # narrowing an id to a package or a path
        ("ids: [{id: CVE-2023-0286, reason: r, packages: [libssl3]}]", OPENSSL_VULN, False),
        ("ids: [{id: CVE-2023-0286, reason: r, packages: [openssl]}]", OPENSSL_VULN, True),
        ("ids: [{id: CVE-2023-0286, reason: r, paths: ['var/lib/dpkg/**']}]", OPENSSL_VULN,
         True),
        # fingerprints: exactly one finding
        (f"fingerprints: [{{fingerprint: {SECRET.fingerprint}, reason: r}}]", SECRET, True),
        (f"fingerprints: [{{fingerprint: {SECRET.fingerprint}, reason: r}}]", MALWARE, False),
        # paths: ** spans directories, a bare name matches anywhere, leading / ignored
        ("paths: [{path: 'app/**', reason: r}]", SECRET, True),
        ("paths: [{path: '/app/config/*.py', reason: r}]", SECRET, True),
        ("paths: [{path: 'app/*.py', reason: r}]", SECRET, False),
        ("paths: [{path: settings.py, reason: r}]", SECRET, True),
        ("paths: [{path: '**/eicar.com', reason: r}]", MALWARE, True),
        ("paths: [{path: app, reason: r}]", SECRET, True),
        ("paths: [{path: 'app/**', reason: r, kinds: [malware]}]", SECRET, False),
        ("paths: [{path: Dockerfile, reason: r}]", MISCONFIG_DOCKERFILE, True),
        # packages: name, name@version, glob, PURL (with or without version)
        ("packages: [{package: openssl, reason: r}]", OPENSSL_VULN, True),
        ("packages: [{package: openssl@3.0.2-0ubuntu1, reason: r}]", OPENSSL_VULN, True),
        ("packages: [{package: openssl@3.0.8-1, reason: r}]", OPENSSL_VULN, False),
        ("packages: [{package: 'libweb*', reason: r}]", WEBP_VULN, True),
        ("packages: [{package: 'pkg:deb/debian/zlib1g', reason: r}]", ZLIB_VULN, True),
        ("packages: [{package: 'pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1', reason: r}]", ZLIB_VULN,
         True),
        ("packages: [{package: 'pkg:deb/ubuntu/zlib1g', reason: r}]", ZLIB_VULN, False),
        (f"packages: [{{package: '{EVIL.name}@1.0.0', reason: r}}]", EVIL_VULN, True),
        ("packages: [{package: openssl, reason: r}]", SECRET, False),
    ],
)
def test_entry_covers(tmp_path: Path, entry: str, finding: Finding, covered: bool) -> None:
    ignore = load_ignore_file(write(tmp_path, entry))
    assert (ignore.match(finding, NOW) is not None) is covered


def test_expired_entries_stop_suppressing_and_say_so(tmp_path: Path) -> None:
    ignore = load_ignore_file(write(tmp_path, """\
ids:
  - id: CVE-2023-0286
    reason: waiting for the rebuild
    expires: 2025-05-31
  - id: CVE-2023-4863
    reason: thumbnails only
    expires: 2025-06-01
  - id: CVE-2099-0001
    reason: long gone
    expires: 2020-01-01T00:00:00Z
"""))
    assert ignore.match(OPENSSL_VULN, NOW) is None  # expired yesterday
    assert ignore.match(WEBP_VULN, NOW) is not None  # the whole last day still counts
    assert ignore.match(WEBP_VULN, datetime(2025, 6, 2, tzinfo=UTC)) is None
    warnings = ignore.expiry_warnings(VULNERABILITIES, NOW)
    assert warnings == [
        (f"{tmp_path}/.stackwardenignore:2: the ignore entry for id CVE-2023-0286 expired on "
         "2025-05-31; it no longer suppresses (1 finding now reported)"),
        (f"{tmp_path}/.stackwardenignore:8: the ignore entry for id CVE-2099-0001 expired on "
         "2020-01-01; it no longer suppresses (0 findings now reported)"),
    ]


def test_empty_file_is_no_entries(tmp_path: Path) -> None:
    assert load_ignore_file(write(tmp_path, "# nothing accepted yet\n")).entries == ()


@pytest.mark.parametrize(
    ("text", "line", "needle"),
    [
        ("ids:\n  - id: CVE-1\n", 2, "needs 'reason'"),
        ("ids:\n  - id: CVE-1\n    reason: ''\n", 3, "'reason' must not be empty"),
        ("ids:\n  - id: CVE-1\n    reason: r\n    expires: next week\n", 4, "must be a date"),
        ("ids:\n  - id: CVE-1\n    reason: r\n    expire: 2025-01-01\n", 4, "unknown key 'expire'"),
        ("cves:\n  - id: CVE-1\n", 1, "unknown key 'cves'"),
        ("ids: CVE-1\n", 1, "'ids' must be a list"),
        ("ids:\n  - CVE-1\n", 1, "must be a mapping"),
        ("paths:\n  - path: a\n    reason: r\n    kinds: [vuln]\n", 4, "unknown kind 'vuln'"),
        ("ids:\n  - id: CVE-1\n    reason: r\n    reason: s\n", 4, "duplicate key 'reason'"),
        ("ids:\n  - id: [CVE-1\n", 3, "invalid ignore file"),
        ("version: 2\n", 1, "'version' must be between 1 and 1"),
        ("- just a list\n", 0, "must be a mapping"),
    ],
)
def test_bad_files_name_the_line(tmp_path: Path, text: str, line: int, needle: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(PolicyError) as caught:
        load_ignore_file(path)
    assert caught.value.source == (f"{path}:{line}" if line else str(path))
    assert needle in caught.value.message


def test_unreadable_and_binary_files(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot read the ignore file"):
        load_ignore_file(tmp_path / "missing")
    path = tmp_path / "bin"
    path.write_bytes(b"\xff\xfe\x00ids")
    with pytest.raises(PolicyError, match="not UTF-8"):
        load_ignore_file(path)


def test_entry_keeps_its_origin_line(tmp_path: Path) -> None:
    ignore = load_ignore_file(write(tmp_path, "# header\nids:\n\n  - id: CVE-2023-0286\n"
                                    "    reason: accepted\n"))
    entry = ignore.match(dataclasses.replace(OPENSSL_VULN), NOW)
    assert entry is not None and entry.origin.endswith(".stackwardenignore:4")
