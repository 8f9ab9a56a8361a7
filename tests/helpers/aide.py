"""AIDE as the file integrity oracle: the same attributes as StackWarden's baseline."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from tests.helpers.env import unavailable

# p perms, i inode, u/g owner, s size, m mtime, sha256, xattrs, caps, ftype, l link target:
# exactly what `stackwarden fim baseline` records.
RULE = "p+i+u+g+s+m+sha256+xattrs+caps+ftype+l"


def require_aide() -> str:
    """The aide binary (skip, or fail in CI, when Debian's aide is not installed)."""
    found = shutil.which("aide") or (Path("/usr/bin/aide").exists() and "/usr/bin/aide")
    if not found:
        unavailable("aide is not installed (Debian package aide)")
    return str(found)


def write_config(workdir: Path, tree: Path, workers: int = 1) -> Path:
    """An aide.conf selecting `tree` with RULE, its database in `workdir`."""
    config = workdir / "aide.conf"
    config.write_text(
        f"database_in=file:{workdir}/aide.db\n"
        f"database_out=file:{workdir}/aide.db.new\n"
        "gzip_dbout=no\n"
        "report_format=json\n"
        "report_url=stdout\n"
        f"num_workers={workers}\n"
        f"FIM = {RULE}\n"
        f"{tree} FIM\n")
    return config


def aide_init(config: Path, timeout: float = 3600) -> None:
    """`aide --init`, then the new database becomes the one checks read."""
    done = subprocess.run([require_aide(), "--init", "-c", str(config)], capture_output=True,
                          timeout=timeout, check=False, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise AssertionError(f"aide --init failed ({done.returncode}): {done.stderr[-500:]!r}")
    workdir = config.parent
    (workdir / "aide.db.new").replace(workdir / "aide.db")


def aide_check(config: Path, timeout: float = 3600) -> dict[str, set[str]]:
    """`aide --check`: the added, removed and changed paths of its JSON report."""
    done = subprocess.run([require_aide(), "--check", "-c", str(config)], capture_output=True,
                          text=True, timeout=timeout, check=False, stdin=subprocess.DEVNULL)
    if done.returncode >= 8 or done.returncode < 0:  # 0-7: bit mask of what differs
        raise AssertionError(f"aide --check failed ({done.returncode}): {done.stderr[-500:]}")
    report = json.loads(done.stdout)
    return {kind: set(report.get(kind, {})) for kind in ("added", "removed", "changed")}
