"""Reports written to a device or a FIFO (`-o /dev/null`) go into it: the path is never
replaced by a regular file (as root, a rename over /dev/null would break the machine)."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

from stackwarden.cli.common import write_outputs


def test_a_fifo_is_written_into_not_replaced(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    regular = tmp_path / "report.json"
    write_outputs([(b'{"a": 1}', fifo), (b"{}", regular)])
    reader.join(timeout=10)
    assert received == [b'{"a": 1}']
    assert stat.S_ISFIFO(fifo.stat().st_mode) and regular.read_bytes() == b"{}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe", "report.json"]
