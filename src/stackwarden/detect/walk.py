"""One walk over an artifact's content for every detector: each file copy read at most once.

Images: every regular-file copy of every layer, including copies a later layer deleted or
replaced (they still ship). Directories: every file once. Threads pull copies from the walk
(reading, hashing, YARA and Hyperscan release the GIL), and a per-layer cache lets a rebuilt
image re-analyse only the layers that changed.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from stackwarden.artifact.base import Artifact, FileEntry, FileType
from stackwarden.core.errors import ArtifactError, LimitExceeded
from stackwarden.core.findings import Finding
from stackwarden.core.models import Skipped
from stackwarden.detect.base import DetectContext, Detector, ScanTarget

Progress = Callable[[str, int, int], None]
GROWTH = 64 * 1024  # a file may grow this much between listing and reading


class LayerCache(Protocol):
    """Per-layer detector results (see detect/cache.py)."""

    def get(self, layer: str, detector: Detector) -> LayerResults | None:
        """Cached results of `detector` on one layer, or None."""

    def put(self, layer: str, detector: Detector, results: LayerResults) -> None:
        """Store results of `detector` on one layer."""


@dataclass
class LayerResults:
    """What one detector found in one layer: findings, suppressed findings, skips."""

    findings: list[Finding] = field(default_factory=list)
    suppressed: list[tuple[Finding, str]] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


@dataclass
class WalkResult:
    """Findings per detector, skips, and counters (analyser calls prove what the cache saved)."""

    findings: dict[str, list[Finding]] = field(default_factory=dict)
    suppressed: list[tuple[Finding, str]] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    files: int = 0
    bytes: int = 0
    calls: dict[str, int] = field(default_factory=dict)  # detector -> scan() calls
    cached_layers: dict[str, int] = field(default_factory=dict)  # detector -> layers from cache


def artifact_targets(artifact: Artifact, layers: Collection[int] | None = None
                     ) -> Iterator[tuple[FileEntry, ScanTarget]]:
    """Every regular-file copy once: the final view, then each layer's overwritten or deleted ones.

    A file a later layer deletes (whiteout) or replaces still ships in its own layer, so it is
    scanned there and marked `deleted`; the layer is the diff_id of the layer holding the copy.
    `layers` limits the walk to the copies those layers (by index) hold.
    """
    if not artifact.info.layers:  # a directory: every file once, nothing deleted
        for entry in artifact.files():
            if entry.type is FileType.REG:
                yield entry, ScanTarget(entry.path, entry.size, None, mode=entry.mode)
        return
    seen: set[tuple[int, str]] = set()
    for entry in artifact.files():
        if entry.is_file and (layers is None or entry.layer in layers):
            seen.add((entry.layer, entry.path))
            yield entry, ScanTarget(entry.path, entry.size, artifact.layer_digest(entry.layer),
                                    mode=entry.mode)
    for index in range(len(artifact.info.layers)):
        if layers is not None and index not in layers:
            continue
        for entry in artifact.layer_files(index):
            if not entry.is_file or (entry.layer, entry.path) in seen:
                continue
            seen.add((entry.layer, entry.path))
            yield entry, ScanTarget(entry.path, entry.size, artifact.layer_digest(entry.layer),
                                    deleted=True, mode=entry.mode)


def read_copy(artifact: Artifact, entry: FileEntry, limit: int) -> bytes | None:
    """The bytes of one file copy, or None when it is larger than `limit` (stream it instead)."""
    if entry.size > limit:
        return None
    try:
        # A read limit near the listed size: a buffered read(n) allocates n bytes first.
        return artifact.read(entry, limit=min(limit, entry.size + GROWTH))
    except LimitExceeded:  # grew since it was listed
        return None


def _scan_copy(artifact: Artifact, entry: FileEntry, target: ScanTarget,
               detectors: Sequence[Detector], ctx: DetectContext,
               calls: dict[str, int]) -> dict[str, LayerResults]:
    """Run every detector that wants this copy on it; results (with their skips and
    suppressions) per detector."""
    out: dict[str, LayerResults] = {}
    wanting = []
    for detector in detectors:
        if detector.wants(target):
            wanting.append(detector)
        elif hasattr(detector, "oversize") and (why := detector.oversize(target)):
            out.setdefault(detector.name, LayerResults()).skipped.append(
                Skipped(entry.path, why, detector.name))
    if not wanting:
        return out
    try:
        data = read_copy(artifact, entry, max(d.max_bytes for d in wanting))
    except (ArtifactError, OSError) as exc:
        for detector in wanting:
            out.setdefault(detector.name, LayerResults()).skipped.append(
                Skipped(entry.path, f"unreadable: {exc}", "walk"))
        return out
    for detector in wanting:
        results = out.setdefault(detector.name, LayerResults())
        calls[detector.name] = calls.get(detector.name, 0) + 1
        skips, suppressed = len(ctx.skipped), len(ctx.suppressed)
        try:
            if data is not None and len(data) <= detector.max_bytes:
                results.findings.extend(detector.scan(data, target, ctx))
            elif hasattr(detector, "scan_stream"):
                with artifact.open(entry.path, layer=entry.layer) as handle:
                    results.findings.extend(detector.scan_stream(handle, target, ctx))  # type: ignore[attr-defined]
            else:
                ctx.skip(entry.path, f"{entry.size} bytes is over the {detector.max_bytes}-byte "
                                     f"limit of the {detector.name} scanner", detector.name)
        except (ArtifactError, OSError) as exc:
            ctx.skip(entry.path, f"unreadable: {exc}", detector.name)
        except Exception as exc:  # noqa: BLE001 - one bad file must not end the scan
            ctx.skip(entry.path, f"{detector.name} scan failed: {type(exc).__name__}: {exc}",
                     detector.name)
        results.skipped.extend(ctx.skipped[skips:])
        results.suppressed.extend(ctx.suppressed[suppressed:])
        del ctx.skipped[skips:], ctx.suppressed[suppressed:]
    return out


def walk_content(artifact: Artifact, detectors: Sequence[Detector], *,
                 cache: LayerCache | None = None, workers: int | None = None,
                 ctx: DetectContext | None = None,
                 progress: Progress | None = None) -> WalkResult:
    """Run `detectors` over every file copy of `artifact` on `workers` threads.

    With a cache (images only), a layer whose results are cached for a detector is not read
    for it; results of freshly scanned layers are stored per (layer, detector).
    """
    ctx = ctx or DetectContext()
    result = WalkResult(findings={d.name: [] for d in detectors})
    layered = bool(artifact.info.layers)
    # which detectors still need each layer
    todo: dict[str | None, list[Detector]] = {}
    for index in range(artifact.layer_count):
        digest = artifact.layer_digest(index)
        need = []
        for detector in detectors:
            hit = cache.get(digest, detector) if cache is not None and layered and digest else None
            if hit is None:
                need.append(detector)
            else:
                result.findings[detector.name].extend(hit.findings)
                result.suppressed.extend(hit.suppressed)
                result.skipped.extend(hit.skipped)
                result.cached_layers[detector.name] = result.cached_layers.get(detector.name,
                                                                               0) + 1
        todo[digest] = need
    fresh: dict[tuple[str | None, str], LayerResults] = {}
    lock = threading.Lock()
    # only the layers some detector still needs (a rebuilt image: just its new layers)
    needed = {i for i in range(artifact.layer_count) if todo[artifact.layer_digest(i)]} \
        if layered else None
    pending = artifact_targets(artifact, needed) if any(todo.values()) else iter(())
    failures: list[BaseException] = []

    def worker() -> None:
        calls: dict[str, int] = {}
        local = DetectContext(show_secrets=ctx.show_secrets)
        while True:
            with lock:
                try:
                    item = None if failures else next(pending, None)
                except BaseException as exc:  # noqa: BLE001 - the walk failed: stop every worker
                    failures.append(exc)
                    item = None
                if item is not None:
                    result.files += 1
                    result.bytes += item[0].size
                    count = result.files
            if item is None:
                break
            entry, target = item
            wanted = todo.get(target.layer, list(detectors))
            if wanted:
                found = _scan_copy(artifact, entry, target, wanted, local, calls)
                with lock:
                    for name, results in found.items():
                        bucket = fresh.setdefault((target.layer, name), LayerResults())
                        bucket.findings.extend(results.findings)
                        bucket.suppressed.extend(results.suppressed)
                        bucket.skipped.extend(results.skipped)
            if progress is not None and count % 500 == 0:
                progress(f"scanning file contents: {count} files", count, 0)
        with lock:
            for name, n in calls.items():
                result.calls[name] = result.calls.get(name, 0) + n

    threads = [threading.Thread(target=worker, name=f"content-{i}", daemon=True)
               for i in range(max(1, workers or min(4, os.cpu_count() or 1)))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    for detector in detectors:  # detectors that group files (Terraform modules) finish here
        finish = getattr(detector, "finish", None)
        if finish is None:
            continue
        local = DetectContext(show_secrets=ctx.show_secrets)
        for finding in finish(local):
            fresh.setdefault((finding.location.layer, detector.name),
                             LayerResults()).findings.append(finding)
        for finding, reason in local.suppressed:
            fresh.setdefault((finding.location.layer, detector.name),
                             LayerResults()).suppressed.append((finding, reason))
        result.skipped.extend(local.skipped)
    for digest, need in todo.items():
        for detector in need:
            got = fresh.get((digest, detector.name), LayerResults())
            result.findings[detector.name].extend(got.findings)
            result.suppressed.extend(got.suppressed)
            result.skipped.extend(got.skipped)
            # a scanner that failed on a file may not fail next time: never cache that
            failed = any("scan failed" in s.reason for s in got.skipped if s.by == detector.name)
            if cache is not None and layered and digest and not failed:
                cache.put(digest, detector, got)
    result.skipped = list(dict.fromkeys(result.skipped))
    ctx.skipped.extend(result.skipped)
    ctx.suppressed.extend(result.suppressed)
    return result
