"""Where each source got to, saved atomically so a restart resumes exactly there."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from stackwarden.agent.logs.errors import LogError


class OffsetStore:
    """A JSON file of checkpoints keyed by source (file path, `journald`, …)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._data: dict[str, dict[str, Any]] = {}
        if self.path.exists():
            try:
                loaded = json.loads(self.path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise LogError(f"cannot read the offsets file: {exc}",
                               source=str(self.path)) from exc
            if not isinstance(loaded, dict):
                raise LogError("the offsets file is not a JSON object", source=str(self.path))
            self._data = {k: v for k, v in loaded.items() if isinstance(v, dict)}

    def get(self, key: str) -> dict[str, Any] | None:
        """The checkpoint saved for `key`, if any."""
        return self._data.get(key)

    def put(self, key: str, checkpoint: dict[str, Any]) -> None:
        """Remember a checkpoint (written by `save`)."""
        self._data[key] = dict(checkpoint)

    def save(self) -> None:
        """Write all checkpoints: a temporary file, fsync, rename (never half-written)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(self._data, handle, sort_keys=True)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except OSError as exc:
            Path(tmp).unlink(missing_ok=True)
            raise LogError(f"cannot save offsets: {exc.strerror}", source=str(self.path)) from exc
