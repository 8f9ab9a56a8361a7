"""A real ClamAV daemon for tests: Debian's clamd with a signature database the test writes.

No official signatures can be downloaded here, and none are needed: clamd loads any directory
of signature files, so the tests write a `.hsb` (SHA-256 hash) and an `.ndb` (body) database
for their own sample files and start clamd on a unix socket and a loopback TCP port.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.helpers.env import unavailable

CLAMD_BIN = "/usr/sbin/clamd"


@dataclass(frozen=True)
class Clamd:
    """A running clamd: where to reach it and what it was told to detect."""

    unix_socket: Path
    tcp: str  # 127.0.0.1:PORT
    stream_max_bytes: int
    log: Path


def free_port() -> int:
    """A TCP port nothing listens on right now (loopback)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def hash_signature(data: bytes, name: str) -> str:
    """One `.hsb` line: SHA-256, size, signature name."""
    return f"{hashlib.sha256(data).hexdigest()}:{len(data)}:{name}\n"


def body_signature(needle: bytes, name: str) -> str:
    """One `.ndb` line: name, target type 0 (any file), offset `*`, hex body."""
    return f"{name}:0:*:{needle.hex()}\n"


def _ping(path: Path) -> bool:
    try:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(2)
            sock.connect(str(path))
            sock.sendall(b"zPING\0")
            return sock.recv(16).startswith(b"PONG")
    except OSError:
        return False


@contextmanager
def run_clamd(workdir: Path, signatures: dict[str, str], *,
              stream_max_bytes: int = 1024 * 1024) -> Iterator[Clamd]:
    """Start clamd with `signatures` ({file name: content}) and stop it afterwards."""
    if not os.access(CLAMD_BIN, os.X_OK):
        unavailable("clamd is not installed (scripts/install-system-deps: clamav-daemon)")
    db = workdir / "db"
    db.mkdir(parents=True)
    for name, content in signatures.items():
        (db / name).write_text(content)
    sock = workdir / "clamd.sock"
    port = free_port()
    log = workdir / "clamd.log"
    config = workdir / "clamd.conf"
    config.write_text("\n".join([
        f"LocalSocket {sock}", f"TCPSocket {port}", "TCPAddr 127.0.0.1",
        f"DatabaseDirectory {db}", "Foreground yes", f"LogFile {log}",
        f"PidFile {workdir / 'clamd.pid'}", f"StreamMaxLength {stream_max_bytes}",
        "MaxThreads 4", "SelfCheck 3600", "Bytecode no",
        *(["User root"] if os.geteuid() == 0 else []), ""]))
    process = subprocess.Popen([CLAMD_BIN, "-c", str(config)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not _ping(sock):
            if process.poll() is not None:
                err = process.stderr.read().decode() if process.stderr else ""
                text = log.read_text() if log.exists() else ""
                raise RuntimeError(f"clamd exited with {process.returncode}: {err}\n{text}")
            if time.monotonic() > deadline:
                raise RuntimeError("clamd did not answer PING within 60 s")
            time.sleep(0.05)
        yield Clamd(sock, f"127.0.0.1:{port}", stream_max_bytes, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(db, ignore_errors=True)
