"""Real Debian inputs for tests: a debootstrap root filesystem and .deb files, cached."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.helpers.env import require_network, unavailable

CACHE = Path(os.environ.get("STACKWARDEN_TEST_CACHE",
                            Path.home() / ".cache" / "stackwarden-tests"))
MIRROR = "http://deb.debian.org/debian"
SUITE = "bookworm"


@contextmanager
def cache_lock(name: str) -> Iterator[Path]:
    """An exclusive lock (across processes) on one cache entry; yields its path."""
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield CACHE / name


def debootstrap_rootfs() -> Path:
    """A Debian bookworm minbase root filesystem made by debootstrap (built once, cached)."""
    with cache_lock(f"debootstrap-{SUITE}-minbase") as root:
        if (root / ".complete").exists():
            return root
        if os.geteuid() != 0:
            unavailable("debootstrap needs root")
        if not shutil.which("debootstrap"):
            unavailable("debootstrap is not installed (make test installs it)")
        require_network("deb.debian.org", 80)
        shutil.rmtree(root, ignore_errors=True)
        done = subprocess.run(["debootstrap", "--variant=minbase", SUITE, str(root), MIRROR],
                              capture_output=True, timeout=1200, check=False)
        if done.returncode != 0:
            raise AssertionError("debootstrap failed: " + done.stdout.decode()[-2000:])
        (root / ".complete").touch()
        return root


def apt_download(*names: str) -> list[Path]:
    """The .deb files of some packages, fetched with `apt-get download` (cached)."""
    with cache_lock("debs") as directory:
        directory.mkdir(exist_ok=True)
        missing = [n for n in names if not list(directory.glob(f"{n}_*.deb"))]
        if missing:
            require_network("deb.debian.org", 80)
            done = subprocess.run(["apt-get", "download", *missing], cwd=directory,
                                  capture_output=True, timeout=600, check=False)
            if done.returncode != 0:
                raise AssertionError("apt-get download failed: " + done.stderr.decode()[-1000:])
        return [sorted(directory.glob(f"{n}_*.deb"))[-1] for n in names]
