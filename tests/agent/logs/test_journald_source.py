"""The journald source against the real journalctl, on a real journal file (written by
systemd-journal-remote from the journal export format): follow, cursor, restart."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from stackwarden.agent.logs.decoders import make_decoder
from stackwarden.agent.logs.sources.journald import JournaldSource
from stackwarden.agent.logs.sources.offsets import OffsetStore
from tests.helpers.env import unavailable

REMOTE = "/lib/systemd/systemd-journal-remote"


def append(journal: Path, tmp: Path, n: int, message: str) -> None:
    export = tmp / f"entry{n}.export"
    export.write_text(f"__REALTIME_TIMESTAMP={1764396000000000 + n * 1000000}\n"
                      f"__MONOTONIC_TIMESTAMP={n}\n_BOOT_ID={'0' * 31}1\n_HOSTNAME=web1\n"
                      f"SYSLOG_IDENTIFIER=sshd\n_PID={800 + n}\nMESSAGE={message}\n\n")
    subprocess.run([REMOTE, "-o", str(journal), str(export)], check=True, capture_output=True,
                   timeout=60)


@pytest.fixture()
def journal(tmp_path: Path) -> Path:
    if not shutil.which("journalctl") or not Path(REMOTE).exists():
        unavailable("journalctl and systemd-journal-remote are needed "
                    "(scripts/install-system-deps)")
    path = tmp_path / "test.journal"
    append(path, tmp_path, 1, "Failed password for root from 203.0.113.5 port 1 ssh2")
    return path


def read_until(source: JournaldSource, count: int, timeout: float = 30.0) -> list:
    got: list = []
    for _ in range(int(timeout / 0.5)):
        batch = source.read(timeout=0.5)
        got.extend(batch.lines)
        source.commit(batch.checkpoint)
        if len(got) >= count:
            break
    return got


def test_follow_cursor_and_restart(journal: Path, tmp_path: Path) -> None:
    store_path = tmp_path / "offsets.json"
    source = JournaldSource(OffsetStore(store_path), args=["--file", str(journal)],
                            from_start=True)
    try:
        first = read_until(source, 1)
        assert len(first) == 1
        append(journal, tmp_path, 2, "Accepted password for deploy from 192.0.2.8 port 2 ssh2")
        followed = read_until(source, 1)  # --follow picks up the new entry
        assert len(followed) == 1
    finally:
        source.close()
    append(journal, tmp_path, 3, "Invalid user oracle from 198.51.100.9 port 3")
    restarted = JournaldSource(OffsetStore(store_path), args=["--file", str(journal)])
    try:
        resumed = read_until(restarted, 1)
        assert len(resumed) == 1  # after the saved cursor: no entry twice, none lost
    finally:
        restarted.close()
    decoder = make_decoder("journald")
    actions = [decoder.decode(line.text).fields["action"]  # type: ignore[union-attr]
               for line in first + followed + resumed]
    assert actions == ["failed", "accepted", "invalid_user"]
    assert all(line.file_id.startswith("s=") for line in first + followed + resumed)


def test_journalctl_failure_is_reported(tmp_path: Path) -> None:
    if not shutil.which("journalctl"):
        unavailable("journalctl is needed")
    source = JournaldSource(args=["--file", str(tmp_path / "missing.journal"), "--bogus-flag"])
    try:
        notes = []
        for _ in range(20):
            batch = source.read(timeout=0.5)
            notes.extend(batch.notes)
            if notes:
                break
        assert notes and "journalctl exited" in notes[0]
    finally:
        source.close()
