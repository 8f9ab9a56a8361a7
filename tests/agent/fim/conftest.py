"""Shared fixtures: a small generated tree and its baseline."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.helpers.env import unavailable


@pytest.fixture()
def tree(tmp_path: Path) -> Path:
    """A few hundred generated files with fixed old mtimes."""
    from tests.helpers.fimtree import make_tree

    root = tmp_path / "tree"
    make_tree(root, 300, per_dir=40, symlink_every=10)
    return root


@pytest.fixture()
def as_root() -> None:
    """Ownership and capability changes need root."""
    if os.geteuid() != 0:
        unavailable("these changes (chown, security.capability) need root")


def user_xattrs_supported(path: Path) -> bool:
    """Whether the filesystem under `path` takes user.* extended attributes."""
    probe = path / ".xattr-probe"
    probe.write_bytes(b"")
    try:
        os.setxattr(probe, "user.probe", b"1")
        return True
    except OSError:
        return False
    finally:
        probe.unlink()
