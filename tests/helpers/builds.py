"""Expensive test fixtures built once and cached under ~/.cache/stackwarden-tests/<key>/.

The key names what built the fixture (sources, toolchain version, flags), so a change rebuilds;
a lock file serialises concurrent test processes (pytest-xdist, parallel worktrees).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path


def cache_root() -> Path:
    """Where cached fixtures live (STACKWARDEN_TEST_CACHE overrides)."""
    explicit = os.environ.get("STACKWARDEN_TEST_CACHE")
    root = Path(explicit) if explicit else Path.home() / ".cache" / "stackwarden-tests"
    root.mkdir(parents=True, exist_ok=True)
    return root


def fingerprint(*parts: str | bytes, files: Iterable[Path] = ()) -> str:
    """A short hash of strings and file contents (paths included, sorted)."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode() if isinstance(part, str) else part)
        digest.update(b"\0")
    for path in sorted(files):
        digest.update(str(path).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def cached_build(name: str, key: str, build: Callable[[Path], None]) -> Path:
    """The directory `build(dir)` fills, built once per key (atomically, under a lock)."""
    root = cache_root()
    target = root / f"{name}-{key}"
    with open(root / f"{name}-{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / ".complete").exists():
            return target
        work = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=root))
        try:
            build(work)
            (work / ".complete").write_text(key)
            if target.exists():
                shutil.rmtree(target)
            work.rename(target)
        finally:
            if work.exists():
                shutil.rmtree(work, ignore_errors=True)
    return target


def run(cmd: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None,
        timeout: float = 600) -> str:
    """Run a command, returning stdout; a failure shows the command's stderr."""
    done = subprocess.run(cmd, cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True,
                          stdin=subprocess.DEVNULL, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr[-3000:]}")
    return done.stdout


def link_or_copy(source: Path, target: Path) -> None:
    """Hard-link `source` to `target` (same file system), else copy it with its mode."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)
