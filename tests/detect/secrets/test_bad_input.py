"""Hostile input: every case ends with a complete scan and, where relevant, a clear skip reason."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12

from stackwarden.detect.secrets import directory
from stackwarden.detect.secrets.directory import read_for_scan, scan_directory
from stackwarden.detect.secrets.engine import Engine
from stackwarden.detect.secrets.rules import load_ruleset
from tests.detect.secrets.conftest import HS_CACHE

TOKEN = b"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"


def rules_of(result: directory.SecretScanResult) -> list[tuple[str, str]]:
    return sorted((f.location.path, f.id) for f in result.findings)


def test_huge_single_line_files(tmp_path: Path, engine: Engine) -> None:
    # 8 MB on one line: base64-like text that keeps many rules' prefixes busy, and a
    # repeated assignment that generic rules must not backtrack on.
    (tmp_path / "blob.js").write_bytes(b"A1b2" * 1_000_000 + b' t="' + TOKEN + b'" '
                                       + b"C3d4" * 1_000_000)
    (tmp_path / "assign.txt").write_bytes(b"password=" * 600_000)
    started = time.perf_counter()
    result = scan_directory(tmp_path, engine=engine, workers=1)
    assert time.perf_counter() - started < 20
    assert rules_of(result) == [("blob.js", "github-pat")]
    assert result.findings[0].location.line == 1


def test_binary_files_named_txt(tmp_path: Path, engine: Engine) -> None:
    (tmp_path / "notes.txt").write_bytes(b"\x00\x01\x02" + b'token = "' + TOKEN + b'"')
    key = ec.generate_private_key(ec.SECP256R1())
    (tmp_path / "readme.txt").write_bytes(pkcs12.serialize_key_and_certificates(
        b"x", key, None, None, serialization.NoEncryption()))
    result = scan_directory(tmp_path, engine=engine)
    assert rules_of(result) == [("readme.txt", "pkcs12-file")]  # found by magic, not name
    assert result.findings[0].location.line is None
    assert result.skipped == []  # binary files are not "skipped": there is nothing to read


def test_invalid_utf8(tmp_path: Path, engine: Engine) -> None:
    (tmp_path / "latin1.py").write_bytes(b"# caf\xe9 \xff\xfe\n" + b'x = "\xe9' + TOKEN
                                         + b'\xe9"\nu = "https://ren\xe9:Zk3mQ9vB2x@h.io"\n')
    result = scan_directory(tmp_path, engine=engine)
    assert rules_of(result) == [("latin1.py", "github-pat"), ("latin1.py", "url-basic-auth")]
    assert [f.location.line for f in result.findings] == [2, 3]
    assert "\ufffd" in result.findings[1].evidence["match"]  # shown as text, hashed as bytes


def test_unreadable_files_are_skipped_with_reason(tmp_path: Path, engine: Engine,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    secret = tmp_path / "secret.env"
    secret.write_bytes(b"API_TOKEN=" + TOKEN)
    (tmp_path / "ok.py").write_bytes(b't = "' + TOKEN + b'"')
    secret.chmod(0)
    if os.access(secret, os.R_OK):  # running as root: permissions do not stop us
        real_open = os.open

        def refuse(path: str, *args: int) -> int:
            if str(path) == str(secret):
                raise PermissionError(13, "Permission denied")
            return real_open(path, *args)

        monkeypatch.setattr(directory.os, "open", refuse)
    result = scan_directory(tmp_path, engine=engine)
    assert rules_of(result) == [("ok.py", "github-pat")]
    assert [(s.path, s.reason) for s in result.skipped] == [
        ("secret.env", "cannot open: Permission denied")]


def test_files_vanishing_mid_scan(tmp_path: Path, engine: Engine,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("a.py", "b.py", "c.py"):
        (tmp_path / name).write_bytes(b't = "' + TOKEN + b'"')
    walk = directory._walk

    def vanishing(base: Path, result: directory.SecretScanResult, engine: Engine
                  ) -> Iterator[tuple[str, str, int]]:
        for item in walk(base, result, engine):
            if item[1] == "b.py":
                os.unlink(item[0])  # listed, then gone before it is read
            yield item

    monkeypatch.setattr(directory, "_walk", vanishing)
    result = scan_directory(tmp_path, engine=engine)
    assert rules_of(result) == [("a.py", "github-pat"), ("c.py", "github-pat")]
    assert [(s.path, s.reason) for s in result.skipped] == [
        ("b.py", "vanished before it could be read")]


def test_fifo_and_symlinks_never_block(tmp_path: Path, engine: Engine) -> None:
    os.mkfifo(tmp_path / "pipe.txt")
    (tmp_path / "loop").symlink_to(tmp_path)
    (tmp_path / "link.py").symlink_to("/etc/passwd")
    (tmp_path / "real.py").write_bytes(b't = "' + TOKEN + b'"')
    result = scan_directory(tmp_path, engine=engine)
    assert rules_of(result) == [("real.py", "github-pat")]
    data, reason = read_for_scan(str(tmp_path / "pipe.txt"), "pipe.txt", engine)
    assert data is None and reason is None


def test_oversized_files_are_skipped_with_reason(tmp_path: Path) -> None:
    config = tmp_path / "limits.toml"
    config.write_text("[settings]\nmax_file_bytes = 1000\n")
    engine = Engine(load_ruleset([config]), cache=HS_CACHE)
    (tmp_path / "big.py").write_bytes(b"#" * 2000 + b't = "' + TOKEN + b'"')
    (tmp_path / "small.py").write_bytes(b't = "' + TOKEN + b'"')
    result = scan_directory(tmp_path, engine=engine)
    assert rules_of(result) == [("small.py", "github-pat")]
    assert [s.path for s in result.skipped] == ["big.py"]
    assert "1000-byte limit" in result.skipped[0].reason
    assert engine.scan(b"x" * 2000, "big.py").skipped  # the engine enforces it too


def test_missing_target_is_a_usage_error(tmp_path: Path, engine: Engine) -> None:
    from stackwarden.core.errors import UsageError

    with pytest.raises(UsageError, match="does not exist"):
        scan_directory(tmp_path / "nope", engine=engine)
