"""Scan every file of a directory tree for secrets, spread over worker processes.

Files are read once, bounded by the size limit; binary files are skipped after their first
8 KiB unless a keystore rule recognises them. Unreadable files and files that vanish while
the scan runs are recorded as skipped, with the reason, and the scan goes on.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from stackwarden.core.errors import UsageError
from stackwarden.core.forking import can_fork, forked_map
from stackwarden.core.findings import Finding
from stackwarden.core.models import Skipped
from stackwarden.detect.secrets.detector import hit_to_finding
from stackwarden.detect.secrets.engine import Engine
from stackwarden.detect.secrets.model import RuleSet
from stackwarden.detect.secrets.rules import load_ruleset

SKIP_DIRS = frozenset({".git", ".hg", ".svn"})  # VCS internals: history is scanned with --git
_PARALLEL_MIN_BYTES = 8 * 1024 * 1024  # below this, worker start-up costs more than it saves
_BATCH_BYTES = 4 * 1024 * 1024
_BY = "secret"


@dataclass
class SecretScanResult:
    """Findings of one secret scan, what was skipped and why, and how much was read."""

    findings: list[Finding] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    files: int = 0
    bytes: int = 0
    seconds: float = 0.0
    commits: int = 0  # git history scans

    def sort(self) -> None:
        """Deterministic order: path, line, rule (then commit for history scans)."""
        self.findings.sort(key=lambda f: (f.location.path, f.location.line or 0, f.id,
                                          f.location.commit or ""))
        self.skipped.sort(key=lambda s: (s.path, s.reason))


_ENGINE: Engine | None = None  # the engine a worker process uses (inherited through fork)
_SHOW = False


def scan_directory(root: str | Path, *, ruleset: RuleSet | None = None,
                   configs: Sequence[str | Path] = (), show_secrets: bool = False,
                   workers: int | None = None, engine: Engine | None = None) -> SecretScanResult:
    """Scan every regular file under `root` (symlinks are not followed)."""
    base = Path(root)
    if not base.exists():
        raise UsageError(f"{base} does not exist", source=str(base))
    started = time.perf_counter()
    if engine is None:
        engine = Engine(ruleset if ruleset is not None else load_ruleset(configs))
    result = SecretScanResult(warnings=list(engine.warnings))
    files = list(_walk(base, result, engine))
    total = sum(size for _, _, size in files)
    workers = workers or os.cpu_count() or 1
    if workers > 1 and total >= _PARALLEL_MIN_BYTES and can_fork():
        _scan_parallel(files, engine, show_secrets, workers, result)
    else:
        for batch in _batches(files):
            _merge(result, _scan_batch(batch, engine, show_secrets))
    result.seconds = time.perf_counter() - started
    result.sort()
    return result


def _walk(base: Path, result: SecretScanResult, engine: Engine
          ) -> Iterator[tuple[str, str, int]]:
    """(absolute path, path relative to root, size) of every regular file, depth first."""
    if base.is_file():
        yield str(base), base.name, base.stat().st_size
        return
    stack = [str(base)]
    while stack:
        folder = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            result.skipped.append(Skipped(_rel(folder, base), f"cannot list: {exc.strerror}", _BY))
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    if entry.name not in SKIP_DIRS:
                        stack.append(entry.path)
                    continue
                if not entry.is_file(follow_symlinks=False):
                    continue  # symlinks, sockets, devices
                size = entry.stat(follow_symlinks=False).st_size
            except OSError as exc:
                result.skipped.append(Skipped(_rel(entry.path, base),
                                              f"cannot stat: {exc.strerror}", _BY))
                continue
            rel = _rel(entry.path, base)
            if engine.path_allowed(rel):
                continue
            if size > engine.settings.max_file_bytes:
                result.skipped.append(Skipped(rel, f"larger than the "
                                              f"{engine.settings.max_file_bytes}-byte limit "
                                              "for secret scanning", _BY))
                continue
            yield entry.path, rel, size


def _rel(path: str, base: Path) -> str:
    return os.path.relpath(path, base).replace(os.sep, "/")


def _batches(files: list[tuple[str, str, int]]) -> Iterator[list[tuple[str, str, int]]]:
    batch: list[tuple[str, str, int]] = []
    size = 0
    for item in files:
        batch.append(item)
        size += item[2]
        if size >= _BATCH_BYTES or len(batch) >= 512:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def _scan_parallel(files: list[tuple[str, str, int]], engine: Engine, show: bool,
                   workers: int, result: SecretScanResult) -> None:
    global _ENGINE, _SHOW
    _ENGINE, _SHOW = engine, show  # children inherit these through fork: nothing to pickle
    try:
        for part in forked_map(_worker, _batches(files), workers):
            _merge(result, part)
    finally:
        _ENGINE = None


def _worker(batch: list[tuple[str, str, int]]) -> SecretScanResult:
    assert _ENGINE is not None
    return _scan_batch(batch, _ENGINE, _SHOW)


def _merge(result: SecretScanResult, part: SecretScanResult) -> None:
    result.findings.extend(part.findings)
    result.skipped.extend(part.skipped)
    result.files += part.files
    result.bytes += part.bytes


def _scan_batch(batch: list[tuple[str, str, int]], engine: Engine, show: bool
                ) -> SecretScanResult:
    out = SecretScanResult()
    for path, rel, _size in batch:
        data, reason = read_for_scan(path, rel, engine)
        if reason:
            out.skipped.append(Skipped(rel, reason, _BY))
        if data is None:
            continue
        out.files += 1
        out.bytes += len(data)
        try:
            outcome = engine.scan(data, rel)
        except Exception as exc:  # noqa: BLE001 - one bad file must not end the scan
            out.skipped.append(Skipped(rel, f"scan failed: {type(exc).__name__}: {exc}", _BY))
            continue
        if outcome.skipped and outcome.skipped != "binary":
            out.skipped.append(Skipped(rel, outcome.skipped, _BY))
        out.findings.extend(hit_to_finding(hit, data, path=rel, show_secrets=show)
                            for hit in outcome.hits)
    return out


def read_for_scan(path: str, rel: str, engine: Engine) -> tuple[bytes | None, str | None]:
    """The bytes to scan (None to skip) and, for a skip worth reporting, the reason."""
    limit = engine.settings.max_file_bytes
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        return None, "vanished before it could be read"
    except OSError as exc:
        return None, f"cannot open: {exc.strerror}"
    try:
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                return None, None  # replaced by a FIFO or device since the walk
            head = handle.read(engine.settings.binary_probe_bytes)
            if engine.is_binary(head) and not engine.wants_binary(rel, head):
                return None, None
            data = head + handle.read(limit + 1 - len(head))
    except OSError as exc:
        return None, f"cannot read: {exc.strerror}"
    if len(data) > limit:
        return None, f"larger than the {limit}-byte limit for secret scanning"
    return data, None
