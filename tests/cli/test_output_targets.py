"""Report targets that are not regular files are written to, never replaced."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from stackwarden.cli.common import write_outputs


def test_device_target_is_written_not_replaced(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("mknod of a character device needs root")
    null = tmp_path / "null"
    os.mknod(null, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # the same device as /dev/null
    write_outputs([(b"report\n", null)])
    assert stat.S_ISCHR(os.stat(null).st_mode)
    assert list(tmp_path.iterdir()) == [null]  # no staged copy left behind


def test_fifo_target_is_written_in_place(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        write_outputs([(b"report\n", fifo)])
        assert os.read(reader, 100) == b"report\n"
    finally:
        os.close(reader)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_regular_file_still_replaced_atomically(tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    target.write_text("old")
    write_outputs([(b"new", target)])
    assert target.read_bytes() == b"new"
