"""Real Debian package contents for language-cataloger tests: .deb files unpacked, cached."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

from tests.helpers.debian import apt_download, cache_lock
from tests.helpers.env import unavailable


def unpacked_debs(key: str, packages: tuple[str, ...]) -> Path:
    """A directory holding the files of `packages` (fetched with apt-get download, unpacked
    with `dpkg-deb -x`), built once per package list and cached."""
    if not shutil.which("dpkg-deb") or not shutil.which("apt-get"):
        unavailable("dpkg-deb and apt-get are needed to unpack real Debian packages")
    digest = hashlib.sha256("\n".join(sorted(packages)).encode()).hexdigest()[:12]
    with cache_lock(f"debroot-{key}-{digest}") as root:
        if (root / ".complete").exists():
            return root
        debs = apt_download(*packages)
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        for deb in debs:
            done = subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], capture_output=True,
                                  timeout=300, check=False)
            if done.returncode != 0:
                raise AssertionError(f"dpkg-deb -x {deb.name} failed: "
                                     + done.stderr.decode()[-500:])
        (root / ".complete").touch()
        return root
