"""Reports written to a device or a named pipe go into it; the path is never renamed over."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

from stackwarden.cli.common import write_outputs


def test_a_named_pipe_is_written_to_not_replaced(tmp_path: Path) -> None:
    fifo = tmp_path / "report.pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    write_outputs([(b'{"findings": []}\n', fifo), (b"kept\n", tmp_path / "plain.json")])
    reader.join(timeout=10)
    assert received == [b'{"findings": []}\n']
    assert stat.S_ISFIFO(fifo.lstat().st_mode)  # still the pipe (a rename would replace it)
    assert (tmp_path / "plain.json").read_bytes() == b"kept\n"

