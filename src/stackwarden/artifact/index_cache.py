"""Layer indexes on disk, keyed by diff_id: a layer seen before is not read again to be listed.

An entry holds what `index_layer` found in one layer tar (entries, where each file's bytes
are, whiteouts) and the tar's size, written once under a temporary name and renamed into place
(safe for several processes). Only clean indexes are stored: a layer with skipped (hostile)
entries or sparse files is indexed afresh each time, so its notes name the image at hand.

Trust: the key is the diff_id the image config states. A cached layer's blob is not hashed
again (Trivy's cache trusts diff_ids the same way); see docs/scanning.md.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

from stackwarden.artifact.base import FileEntry, FileType
from stackwarden.artifact.layers import LayerIndex
from stackwarden.core.config import Limits

FORMAT = 1
_TYPES = {t.value: t for t in FileType}


class LayerIndexCache:
    """Layer indexes by diff_id under `root` (the limits that shape an index are in the key)."""

    def __init__(self, root: Path, limits: Limits) -> None:
        self.root = root
        self._salt = f"{FORMAT}\0{limits.max_entries_per_layer}\0{limits.max_path_length}"

    def _path(self, diff_id: str) -> Path:
        digest = hashlib.sha256(f"{self._salt}\0{diff_id}".encode()).hexdigest()
        return self.root / digest[:2] / f"{digest}.json"

    def get(self, diff_id: str, index: int) -> LayerIndex | None:
        """The index of layer `diff_id` as layer number `index` (no local bytes yet), or None
        when absent or unreadable."""
        try:
            doc = json.loads(self._path(diff_id).read_bytes())
            if doc.get("diff_id") != diff_id:
                return None
            result = LayerIndex(index, None, size=int(doc["size"]))
            entries = result.entries
            offsets = result.offsets
            for path, kind, size, mode, uid, gid, mtime, link, offset in doc["entries"]:
                entries[path] = FileEntry(path, _TYPES[kind], size, mode, uid, gid, mtime, link,
                                          index)
                if offset >= 0:
                    offsets[path] = (offset, size)
            result.whiteouts = [str(p) for p in doc["whiteouts"]]
            result.opaque = [str(p) for p in doc["opaque"]]
            return result
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def put(self, diff_id: str, layer: LayerIndex) -> None:
        """Store a clean index atomically; a cache that cannot be written is simply not used."""
        if layer.skipped or layer.sparse or layer.size < 0:
            return
        offsets = layer.offsets
        rows = [[e.path, e.type.value, e.size, e.mode, e.uid, e.gid, e.mtime, e.linkname,
                 offsets[e.path][0] if e.path in offsets else -1]
                for e in layer.entries.values()]
        doc = {"diff_id": diff_id, "size": layer.size, "entries": rows,
               "whiteouts": layer.whiteouts, "opaque": layer.opaque}
        path = self._path(diff_id)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".entry-", dir=path.parent)
            with os.fdopen(fd, "w") as handle:
                handle.write(json.dumps(doc, separators=(",", ":")))
            os.replace(tmp, path)
        except (OSError, ValueError):
            return
