"""Per-layer detector results on disk, safe for several processes at once.

Key: the layer's diff_id and the detector's `cache_key()` (name, version, rules digest). Each
entry is one JSON file written under a temporary name and renamed into place, so concurrent
scans never see half an entry and never wait on a lock (two writers of one key write the same
bytes). Entries are never modified; `stackwarden cache clean` removes them.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from stackwarden.core.config import cache_dir
from stackwarden.core.findings import Finding
from stackwarden.core.models import Skipped
from stackwarden.detect.base import Detector
from stackwarden.detect.walk import LayerResults
from stackwarden.report.findings_dict import finding_from_dict, finding_to_dict

FORMAT = 2  # 2: suppressed findings stored too


def default_cache_root() -> Path:
    """`<cache dir>/scan` (`--cache-dir` or STACKWARDEN_CACHE_DIR move it): `layers/` holds
    per-layer results, `images/` whole-image results, `index/` layer indexes, `catalog/`
    per-layer cataloger results."""
    return cache_dir() / "scan"


class LayerResultCache:
    """Detector results per image layer."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = (root or default_cache_root()) / "layers"
        self._keys: dict[int, str | None] = {}

    def _path(self, layer: str, detector: Detector) -> Path | None:
        if id(detector) not in self._keys:
            self._keys[id(detector)] = detector.cache_key()
        key = self._keys[id(detector)]
        if key is None:
            return None
        digest = hashlib.sha256(f"{FORMAT}\0{layer}\0{key}".encode()).hexdigest()
        return self.root / digest[:2] / f"{digest}.json"

    def get(self, layer: str, detector: Detector) -> LayerResults | None:
        """Cached results, or None when absent or unreadable (then the layer is re-analysed)."""
        path = self._path(layer, detector)
        if path is None:
            return None
        try:
            doc = json.loads(path.read_bytes())
            return LayerResults(
                [finding_from_dict(f) for f in doc["findings"]],
                [(finding_from_dict(s["finding"]), s["reason"]) for s in doc["suppressed"]],
                [Skipped(s["path"], s["reason"], s.get("by", "")) for s in doc["skipped"]])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def put(self, layer: str, detector: Detector, results: LayerResults) -> None:
        """Store results atomically; a cache that cannot be written is simply not used."""
        path = self._path(layer, detector)
        if path is None:
            return
        doc = {"layer": layer, "detector": detector.name,
               "findings": [finding_to_dict(f) for f in results.findings],
               "suppressed": [{"reason": r, "finding": finding_to_dict(f)}
                              for f, r in results.suppressed],
               "skipped": [{"path": s.path, "reason": s.reason, "by": s.by}
                           for s in results.skipped]}
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".entry-", dir=path.parent)
            with os.fdopen(fd, "w") as handle:
                handle.write(json.dumps(doc))  # one C-encoder call: json.dump encodes in Python
            os.replace(tmp, path)
        except OSError:
            return


def clean_cache(root: Path | None = None) -> int:
    """Remove every cached entry; returns how many files were removed."""
    root = root or default_cache_root()
    count = 0
    for directory in (root / "layers", root / "images", root / "index", root / "catalog"):
        if directory.exists():
            count += sum(1 for _ in directory.rglob("*.json"))
            shutil.rmtree(directory, ignore_errors=True)
    return count


class ImageResultCache:
    """Whole-image results (SBOM and content findings) keyed by the image's config digest and
    everything that decides them: scanning an unchanged image again reads none of its layers."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = (root or default_cache_root()) / "images"

    def _path(self, key: str) -> Path:
        digest = hashlib.sha256(f"{FORMAT}\0{key}".encode()).hexdigest()
        return self.root / digest[:2] / f"{digest}.json"

    def get(self, key: str) -> dict[str, object] | None:
        """The stored document, or None."""
        try:
            doc = json.loads(self._path(key).read_bytes())
        except (OSError, ValueError):
            return None
        return doc if isinstance(doc, dict) else None

    def put(self, key: str, doc: dict[str, object]) -> None:
        """Store atomically (a failure only costs the next scan its shortcut)."""
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".entry-", dir=path.parent)
            with os.fdopen(fd, "w") as handle:
                handle.write(json.dumps(doc))  # one C-encoder call: json.dump encodes in Python
            os.replace(tmp, path)
        except (OSError, TypeError, ValueError):
            return
