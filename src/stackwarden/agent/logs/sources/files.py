"""Tail a log file across rotations and restarts without losing or repeating a line.

A file is known by its device and inode, the hash of its first bytes (`head`, which catches
inode reuse) and the hash of the bytes just before the read position (`tail`, which catches a
file truncated and rewritten past that position). The checkpoint stores all of it; on restart
or at end of file:

- same file, position still valid -> continue;
- the path is another file (rename rotation) -> finish the old file, found by its inode among
  the rotated siblings (`auth.log.1`, `auth.log-20240501`), then read the new one from 0;
- same inode but shorter or rewritten (copytruncate) -> finish the copy, found by its head
  among the siblings, from the old position, then read the truncated file from 0.

When the rotated file has vanished (deleted, compressed) the lines it still held are lost: the
batch says so in `notes`, and reading continues.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stackwarden.agent.logs.sources.base import CHUNK_BYTES, Batch, LineSplitter, RawLine
from stackwarden.agent.logs.sources.offsets import OffsetStore

HEAD_BYTES = 64
TAIL_BYTES = 64
_COMPRESSED = (".gz", ".xz", ".bz2", ".zst", ".lz4", ".Z")


def _hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:32]


@dataclass(slots=True)
class _Open:
    """An open file being read."""

    handle: Any  # binary file object
    name: str
    dev: int
    ino: int
    head_len: int
    head: str
    splitter: LineSplitter

    @property
    def offset(self) -> int:
        return self.splitter.offset

    def pread(self, length: int, at: int) -> bytes:
        return os.pread(self.handle.fileno(), length, at)

    def tail(self) -> str:
        length = min(TAIL_BYTES, self.offset)
        return _hash(self.pread(length, self.offset - length))


def _open(name: str, offset: int = 0, lineno: int = 0) -> _Open | None:
    try:
        handle = open(name, "rb")  # noqa: SIM115 - kept open across reads
    except OSError:
        return None
    st = os.fstat(handle.fileno())
    head_len = min(HEAD_BYTES, st.st_size)
    head = _hash(os.pread(handle.fileno(), head_len, 0))
    handle.seek(offset)
    splitter = LineSplitter(name, f"{st.st_dev}:{st.st_ino}", lineno, offset)
    return _Open(handle, name, st.st_dev, st.st_ino, head_len, head, splitter)


class FileSource:
    """One log path, tailed; commit each batch's checkpoint once its lines are processed."""

    def __init__(self, path: str | os.PathLike[str], store: OffsetStore | None = None, *,
                 start_at_end: bool = False, chunk: int = CHUNK_BYTES) -> None:
        self.path = str(Path(path).absolute())
        self.store = store
        self.chunk = chunk
        self.start_at_end = start_at_end
        self._current: _Open | None = None
        self._draining: list[_Open] = []  # older files still to finish, oldest first
        self._notes: list[str] = []
        self._started = False

    # ---------------------------------------------------------------------------- public

    def read(self, max_bytes: int = 8 * CHUNK_BYTES) -> Batch:
        """The complete lines available now (up to about `max_bytes`), and their checkpoint."""
        if not self._started:
            self._start()
        out: list[RawLine] = []
        budget = max_bytes
        while budget > 0 or not out:  # past the budget only to finish a long line
            source = self._draining[0] if self._draining else self._current
            if source is None:
                self._current = _open(self.path)
                if self._current is None:
                    break
                continue
            data = source.handle.read(min(self.chunk, max(budget, 4096)))
            if data:
                source.splitter.feed(data, out)
                budget -= len(data)
                continue
            if self._draining:  # a rotated file is finished: its last line may lack "\n"
                source.splitter.finish(out)
                source.handle.close()
                self._draining.pop(0)
                continue
            if not self._check_rotation():
                break
        notes, self._notes = self._notes, []
        return Batch(out, self._checkpoint(), notes)

    def commit(self, checkpoint: dict[str, Any] | None) -> None:
        """Persist a checkpoint returned by `read` (after its lines were processed)."""
        if self.store is not None and checkpoint is not None:
            self.store.put(self.path, checkpoint)
            self.store.save()

    def close(self) -> None:
        """Close the open files."""
        for item in [*self._draining, self._current]:
            if item is not None:
                item.handle.close()
        self._draining, self._current = [], None

    # ----------------------------------------------------------------------------- state

    def _checkpoint(self) -> dict[str, Any] | None:
        source = self._draining[0] if self._draining else self._current
        if source is None:
            return None
        return {"dev": source.dev, "ino": source.ino, "offset": source.offset,
                "lineno": source.splitter.lineno, "head_len": source.head_len,
                "head": source.head, "tail": source.tail(), "name": source.name}

    def _start(self) -> None:
        self._started = True
        saved = self.store.get(self.path) if self.store is not None else None
        current = _open(self.path)
        if saved is None:
            if current is not None and self.start_at_end:
                size = os.fstat(current.handle.fileno()).st_size
                current = _open(self.path, size) if size else current
            self._current = current
            return
        if current is not None and self._resume(current, saved):
            return  # same file, valid position: `_resume` positioned it
        # The saved file is not at the path any more (or was truncated): finish it first.
        older = self._find_saved(saved)
        if older is not None:
            self._draining.append(older)
        else:
            self._notes.append(f"{self.path}: the file read up to byte {saved['offset']} is "
                               "gone (rotated and removed or compressed); lines it still had "
                               "after that point are lost")
        self._current = current

    def _resume(self, current: _Open, saved: dict[str, Any]) -> bool:
        if (current.dev, current.ino) != (saved["dev"], saved["ino"]):
            return False
        if not self._same_content(current, saved):
            self._notes.append(f"{self.path}: truncated since the last run (copytruncate)")
            return False
        self._current = _open(self.path, saved["offset"], saved.get("lineno", 0))
        current.handle.close()
        return self._current is not None

    @staticmethod
    def _same_content(item: _Open, saved: dict[str, Any]) -> bool:
        offset, head_len = saved["offset"], saved["head_len"]
        size = os.fstat(item.handle.fileno()).st_size
        if size < offset or _hash(item.pread(head_len, 0)) != saved["head"]:
            return False
        length = min(TAIL_BYTES, offset)
        return _hash(item.pread(length, offset - length)) == saved["tail"]

    def _find_saved(self, saved: dict[str, Any]) -> _Open | None:
        """The file the checkpoint was in: by inode (rename) or by content (copytruncate)."""
        for name in self._siblings():
            probe = _open(name)
            if probe is None:
                continue
            same = self._same_content(probe, saved)
            probe.handle.close()
            if same:  # its inode (renamed) or its copy (copytruncate): same bytes up to offset
                return _open(name, saved["offset"], saved.get("lineno", 0))
        return None

    def _siblings(self) -> list[str]:
        directory, base = os.path.split(self.path)
        try:
            names = os.listdir(directory or ".")
        except OSError:
            return []
        found = [os.path.join(directory, n) for n in names
                 if n != base and n.startswith(base) and n[len(base):len(base) + 1] in ".-_"
                 and not n.endswith(_COMPRESSED)]
        return sorted(found, key=lambda p: os.stat(p).st_mtime if os.path.exists(p) else 0,
                      reverse=True)

    def _check_rotation(self) -> bool:
        """At end of the current file: did it rotate? True when there is more to read."""
        current = self._current
        if current is None:
            return False
        try:
            st = os.stat(self.path)
        except OSError:
            return False  # rotated away and not recreated yet (or deleted): wait
        if (st.st_dev, st.st_ino) != (current.dev, current.ino):
            fresh = _open(self.path)
            if fresh is None:
                return False
            self._notes.append(f"{self.path}: rotated (renamed); finishing {current.name}")
            self._draining.append(current)
            self._current = fresh
            return True
        rewritten = st.st_size < current.offset or (
            current.offset and current.head_len
            and _hash(current.pread(current.head_len, 0)) != current.head)
        if not rewritten:
            return False
        self._notes.append(f"{self.path}: truncated in place (copytruncate)")
        copy = self._find_copy(current)
        if copy is not None:
            self._draining.append(copy)
        current.handle.close()
        self._current = _open(self.path)
        return True

    def _find_copy(self, truncated: _Open) -> _Open | None:
        """The copy logrotate made before truncating: same head, at least as long."""
        for name in self._siblings():
            probe = _open(name)
            if probe is None:
                continue
            size = os.fstat(probe.handle.fileno()).st_size
            same_head = _hash(probe.pread(truncated.head_len, 0)) == truncated.head
            probe.handle.close()
            if same_head and size >= truncated.offset:
                return _open(name, truncated.offset, truncated.splitter.lineno)
        return None
