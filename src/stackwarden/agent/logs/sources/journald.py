"""The systemd journal, followed through `journalctl -o json --follow` and resumed by cursor.

The cursor of the last processed entry is the checkpoint: a restart passes it to
`--after-cursor`, so no entry is lost or read twice. Without a saved cursor the source starts
at the end of the journal (or at its beginning with `from_start`). If journalctl exits (the
journal was rotated away, a bad argument), the batch says why and the next read restarts it
from the last cursor.
"""

from __future__ import annotations

import os
import re
import selectors
import subprocess
import time
from collections.abc import Sequence
from typing import Any

from stackwarden.agent.logs.errors import LogError
from stackwarden.agent.logs.sources.base import CHUNK_BYTES, Batch, LineSplitter, RawLine
from stackwarden.agent.logs.sources.offsets import OffsetStore

_CURSOR = re.compile(r'"__CURSOR"\s*:\s*"((?:[^"\\]|\\.)*)"')
ORIGIN = "journald"


class JournaldSource:
    """Entries of the journal as JSON lines (decode them with the `journald` decoder)."""

    def __init__(self, store: OffsetStore | None = None, *, journalctl: str = "journalctl",
                 args: Sequence[str] = (), from_start: bool = False,
                 key: str = "journald") -> None:
        self.store = store
        self.journalctl = journalctl
        self.args = list(args)  # e.g. ["--file", PATH], ["-u", "ssh.service"]
        self.from_start = from_start
        self.key = key
        saved = store.get(key) if store is not None else None
        self.cursor: str | None = saved.get("cursor") if saved else None
        self._proc: subprocess.Popen[bytes] | None = None
        self._splitter = LineSplitter(ORIGIN)
        self._selector: selectors.BaseSelector | None = None

    def command(self) -> list[str]:
        """The journalctl command line for the current position."""
        cmd = [self.journalctl, "--output=json", "--follow", "--no-pager", *self.args]
        if self.cursor:
            cmd.append(f"--after-cursor={self.cursor}")
        else:
            cmd.append("--lines=all" if self.from_start else "--lines=0")
        return cmd

    def _start(self) -> None:
        try:
            self._proc = subprocess.Popen(self.command(), stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        except OSError as exc:
            raise LogError(f"cannot run journalctl: {exc.strerror}",
                           source=self.journalctl) from exc
        assert self._proc.stdout is not None
        os.set_blocking(self._proc.stdout.fileno(), False)
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._proc.stdout, selectors.EVENT_READ)
        self._splitter = LineSplitter(ORIGIN)

    def read(self, timeout: float = 0.0, max_bytes: int = 8 * CHUNK_BYTES) -> Batch:
        """Entries available within `timeout` seconds (complete lines only) and a checkpoint."""
        if self._proc is None:
            self._start()
        assert self._proc is not None and self._proc.stdout is not None
        assert self._selector is not None
        out: list[RawLine] = []
        notes: list[str] = []
        deadline = time.monotonic() + timeout
        budget = max_bytes
        while budget > 0:
            remaining = max(0.0, deadline - time.monotonic())
            if not self._selector.select(remaining if not out else 0):
                break
            try:
                data = os.read(self._proc.stdout.fileno(), CHUNK_BYTES)
            except BlockingIOError:
                continue
            if not data:  # journalctl exited
                notes.append(self._exited())
                break
            self._splitter.feed(data, out)
            budget -= len(data)
        for line in out:
            match = _CURSOR.search(line.text)
            if match:
                line.file_id = match.group(1)
        cursor = next((line.file_id for line in reversed(out) if line.file_id), None)
        if cursor:
            self.cursor = cursor
        checkpoint = {"cursor": self.cursor} if self.cursor else None
        return Batch(out, checkpoint, notes)

    def _exited(self) -> str:
        proc, self._proc = self._proc, None
        assert proc is not None
        if self._selector is not None:
            self._selector.close()
            self._selector = None
        code = proc.wait()
        err = proc.stderr.read().decode("utf-8", "replace").strip() if proc.stderr else ""
        proc.stdout.close()  # type: ignore[union-attr]
        if proc.stderr:
            proc.stderr.close()
        return f"journalctl exited with status {code}" + (f": {err[:500]}" if err else "")

    def commit(self, checkpoint: dict[str, Any] | None) -> None:
        """Persist the cursor of the last processed entry."""
        if self.store is not None and checkpoint is not None:
            self.store.put(self.key, checkpoint)
            self.store.save()

    def close(self) -> None:
        """Stop journalctl (the process this source started)."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
        if self._selector is not None:
            self._selector.close()
            self._selector = None
