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
from itertools import repeat
from pathlib import Path

from stackwarden.artifact.base import FileEntry, FileType
from stackwarden.artifact.layers import LayerIndex
from stackwarden.core.config import Limits

FORMAT = 2
_KINDS = list(FileType)  # an entry's type is stored as its position here
_NEW = tuple.__new__


class LayerIndexCache:
    """Layer indexes by diff_id under `root` (the limits that shape an index are in the key).

    Stored by column (paths, types, sizes, ...): parsing a few long JSON arrays and zipping
    them into entries is several times faster than one small object per entry.
    """

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
            paths = doc["paths"]
            count = len(paths)
            columns = [doc[name] for name in ("sizes", "modes", "uids", "gids", "mtimes",
                                               "offsets")]
            kinds = [_KINDS[k] for k in doc["types"]]
            links = [""] * count
            for position, link in doc["links"].items():
                links[int(position)] = link
            if any(len(c) != count for c in (*columns, kinds)):
                return None
            sizes, modes, uids, gids, mtimes, offsets = columns
            result = LayerIndex(index, None, size=int(doc["size"]))
            result.entries = {row[0]: _NEW(FileEntry, row) for row in zip(
                paths, kinds, sizes, modes, uids, gids, mtimes, links, repeat(index, count))}
            result.offsets = {path: (offset, size) for path, offset, size
                              in zip(paths, offsets, sizes) if offset >= 0}
            if len(result.entries) != count:
                return None
            result.whiteouts = [str(p) for p in doc["whiteouts"]]
            result.opaque = [str(p) for p in doc["opaque"]]
            return result
        except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError):
            return None

    def put(self, diff_id: str, layer: LayerIndex) -> None:
        """Store a clean index atomically; a cache that cannot be written is simply not used."""
        if layer.skipped or layer.sparse or layer.size < 0:
            return
        entries = list(layer.entries.values())
        kind = {k: i for i, k in enumerate(_KINDS)}
        offsets = layer.offsets
        doc = {"diff_id": diff_id, "size": layer.size,
               "paths": [e.path for e in entries],
               "types": [kind[e.type] for e in entries],
               "sizes": [e.size for e in entries], "modes": [e.mode for e in entries],
               "uids": [e.uid for e in entries], "gids": [e.gid for e in entries],
               "mtimes": [e.mtime for e in entries],
               "offsets": [offsets[e.path][0] if e.path in offsets else -1 for e in entries],
               "links": {str(i): e.linkname for i, e in enumerate(entries) if e.linkname},
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
