"""Tailing files: every line exactly once across restarts, rename rotation and copytruncate;
partial, huge and invalid lines; rotated files that vanish."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from stackwarden.agent.logs.sources.base import MAX_LINE_BYTES, read_lines
from stackwarden.agent.logs.sources.files import FileSource
from stackwarden.agent.logs.sources.offsets import OffsetStore


def lines(prefix: str, count: int, start: int = 0) -> str:
    return "".join(f"{prefix} line {i}\n" for i in range(start, start + count))


def drain(source: FileSource, notes: list[str] | None = None) -> list[str]:
    """Read until nothing is left, committing after each batch (as the agent does)."""
    out: list[str] = []
    while True:
        batch = source.read(max_bytes=64)  # tiny batches: many checkpoints
        if notes is not None:
            notes.extend(batch.notes)
        out.extend(line.text for line in batch.lines)
        source.commit(batch.checkpoint)
        if not batch.lines:
            return out


def test_restart_resumes_exactly(tmp_path: Path) -> None:
    log, store = tmp_path / "auth.log", OffsetStore(tmp_path / "offsets.json")
    log.write_text(lines("a", 5))
    assert drain(FileSource(log, store)) == lines("a", 5).splitlines()
    with log.open("a") as handle:
        handle.write(lines("a", 3, 5))
    restarted = FileSource(log, OffsetStore(tmp_path / "offsets.json"))
    assert drain(restarted) == lines("a", 3, 5).splitlines()


def test_rename_rotation_while_reading(tmp_path: Path) -> None:
    log = tmp_path / "auth.log"
    log.write_text(lines("old", 3))
    source = FileSource(log, OffsetStore(tmp_path / "o.json"))
    seen = drain(source)
    with log.open("a") as handle:  # written just before the rotation, not read yet
        handle.write(lines("old", 2, 3))
    os.rename(log, tmp_path / "auth.log.1")
    log.write_text(lines("new", 2))
    notes: list[str] = []
    seen += drain(source, notes)
    assert seen == (lines("old", 5) + lines("new", 2)).splitlines()
    assert any("rotated" in n for n in notes)


def test_rename_rotation_while_stopped(tmp_path: Path) -> None:
    log, offsets = tmp_path / "auth.log", tmp_path / "o.json"
    log.write_text(lines("old", 3))
    seen = drain(FileSource(log, OffsetStore(offsets)))
    with log.open("a") as handle:
        handle.write(lines("old", 2, 3))
    os.rename(log, tmp_path / "auth.log-20261129")
    log.write_text(lines("new", 2))
    (tmp_path / "auth.log.2").write_text(lines("older", 4))  # an unrelated older rotation
    seen += drain(FileSource(log, OffsetStore(offsets)))
    assert seen == (lines("old", 5) + lines("new", 2)).splitlines()


def test_copytruncate_while_reading(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text(lines("x", 3))
    source = FileSource(log, OffsetStore(tmp_path / "o.json"))
    seen = drain(source)
    with log.open("a") as handle:
        handle.write(lines("x", 2, 3))
    shutil.copyfile(log, tmp_path / "app.log.1")  # what logrotate's copytruncate does
    with log.open("r+") as handle:
        handle.truncate(0)
    with log.open("a") as handle:
        handle.write(lines("y", 2))
    notes: list[str] = []
    seen += drain(source, notes)
    assert seen == (lines("x", 5) + lines("y", 2)).splitlines()
    assert any("copytruncate" in n for n in notes)


def test_copytruncate_while_stopped(tmp_path: Path) -> None:
    log, offsets = tmp_path / "app.log", tmp_path / "o.json"
    log.write_text(lines("x", 3))
    seen = drain(FileSource(log, OffsetStore(offsets)))
    with log.open("a") as handle:
        handle.write(lines("x", 2, 3))
    shutil.copyfile(log, tmp_path / "app.log.1")
    with log.open("w") as handle:
        handle.write(lines("y", 1))
    seen += drain(FileSource(log, OffsetStore(offsets)))
    assert seen == (lines("x", 5) + lines("y", 1)).splitlines()


def test_vanished_rotated_file_is_reported_and_reading_goes_on(tmp_path: Path) -> None:
    log, offsets = tmp_path / "auth.log", tmp_path / "o.json"
    log.write_text(lines("old", 3))
    drain(FileSource(log, OffsetStore(offsets)))
    with log.open("a") as handle:
        handle.write(lines("old", 2, 3))
    os.rename(log, tmp_path / "auth.log.1")
    os.unlink(tmp_path / "auth.log.1")  # rotated and removed while we were stopped
    log.write_text(lines("new", 2))
    notes: list[str] = []
    assert drain(FileSource(log, OffsetStore(offsets)), notes) == lines("new", 2).splitlines()
    assert any("lost" in n for n in notes)


def test_partial_last_line_waits_for_its_newline(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_text("one\ntw")
    source = FileSource(log)
    assert drain(source) == ["one"]
    with log.open("a") as handle:
        handle.write("o\n")
    assert drain(source) == ["two"]


def test_missing_file_then_created(tmp_path: Path) -> None:
    log = tmp_path / "late.log"
    source = FileSource(log)
    assert drain(source) == []
    log.write_text("hello\n")
    assert drain(source) == ["hello"]


def test_huge_and_invalid_lines(tmp_path: Path) -> None:
    log = tmp_path / "bad.log"
    megabyte = "A" * 1_000_000
    with log.open("wb") as handle:
        handle.write(megabyte.encode() + b"\n")
        handle.write(b"caf\xe9 \xff\xfe broken utf-8\n")
        handle.write(b"B" * (MAX_LINE_BYTES + 1000) + b"\n")
        handle.write(b"after\n")
    got = [line for batch in read_lines(str(log), chunk=65536) for line in batch]
    assert [len(got[0].text), got[1].text, len(got[2].text), got[3].text] == [
        1_000_000, "caf\ufffd \ufffd\ufffd broken utf-8", MAX_LINE_BYTES, "after"]
    assert [g.truncated for g in got] == [False, False, True, False]
    assert [g.lineno for g in got] == [1, 2, 3, 4]
    tailed = drain(FileSource(log))
    assert len(tailed) == 4 and tailed[3] == "after"


def test_offsets_name_the_line_for_idempotent_ids(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_text("first\nsecond\n")
    batch = FileSource(log).read()
    assert [(line.offset, line.lineno) for line in batch.lines] == [(0, 1), (6, 2)]
    assert batch.lines[0].file_id == f"{os.stat(log).st_dev}:{os.stat(log).st_ino}"
