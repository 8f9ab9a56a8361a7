"""Real installed trees for the language catalogers: a virtualenv and a node_modules, built once
with pip and npm from the public registries and cached under ~/.cache/stackwarden-tests/."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.helpers.env import require_network, unavailable

CACHE = Path(os.environ.get("STACKWARDEN_TEST_CACHE")
             or Path.home() / ".cache" / "stackwarden-tests")
COMPLETE = ".complete"


@contextmanager
def _lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # two xdist workers never build the same tree
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def cached_build(kind: str, spec: Any, build: Callable[[Path], None]) -> Path:
    """The directory `build` filled for this spec; built once (under a lock), then reused."""
    key = hashlib.sha256(json.dumps([kind, spec], sort_keys=True).encode()).hexdigest()[:16]
    target = CACHE / f"{kind}-{key}"
    if (target / COMPLETE).exists():
        return target
    with _lock(CACHE / f"{kind}-{key}.lock"):
        if (target / COMPLETE).exists():
            return target
        shutil.rmtree(target, ignore_errors=True)  # a build that died half-way
        target.mkdir(parents=True)
        try:
            build(target)
        except BaseException:
            shutil.rmtree(target, ignore_errors=True)
            raise
        (target / COMPLETE).write_text("ok\n")
    return target


def _run(cmd: list[str], cwd: Path, what: str) -> str:
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=900, check=False)
    if done.returncode != 0:
        raise AssertionError(f"{what} failed ({done.returncode}): {done.stderr[-2000:]}")
    return done.stdout


def python_venv(requirements: list[str]) -> Path:
    """A virtualenv holding `requirements` (wheels from `pip download`, then installed offline);
    `pip-list.json` beside it is pip's own account of what is installed."""
    require_network("pypi.org")

    def build(root: Path) -> None:
        venv = root / "venv"
        _run([sys.executable, "-m", "venv", str(venv)], root, "python -m venv")
        python = str(venv / "bin" / "python")
        _run([python, "-m", "pip", "download", "--quiet", "--only-binary=:all:",
              "-d", str(root / "wheels"), *requirements], root, "pip download")
        _run([python, "-m", "pip", "install", "--quiet", "--no-index",
              "--find-links", str(root / "wheels"), *requirements], root, "pip install")
        listing = _run([python, "-m", "pip", "list", "--format", "json"], root, "pip list")
        (root / "pip-list.json").write_text(listing)

    return cached_build("venv", [sys.version_info[:2], requirements], build)


def site_packages(venv_root: Path) -> Path:
    """The one site-packages directory of a cached virtualenv."""
    found = sorted((venv_root / "venv" / "lib").glob("python3*/site-packages"))
    if not found:
        raise AssertionError(f"no site-packages under {venv_root}")
    return found[0]


def npm_tree(dependencies: dict[str, str]) -> Path:
    """A project with `npm install`ed dependencies; `npm-ls.json` is `npm ls --all --json
    --long`, npm's own account of every installed package and where it lives."""
    if shutil.which("npm") is None:
        unavailable("npm is not installed")
    require_network("registry.npmjs.org")

    def build(root: Path) -> None:
        manifest = {"name": "sw-installed-tree", "version": "1.0.0", "private": True,
                    "dependencies": dependencies}
        (root / "package.json").write_text(json.dumps(manifest, indent=2))
        _run(["npm", "install", "--ignore-scripts", "--no-audit", "--no-fund",
              "--cache", str(CACHE / "npm-cache")], root, "npm install")
        (root / "npm-ls.json").write_text(
            _run(["npm", "ls", "--all", "--json", "--long"], root, "npm ls"))

    return cached_build("npm", dependencies, build)


def npm_ls_packages(root: Path) -> set[tuple[str, str, str]]:
    """(path inside the project, name, version) for every package `npm ls` reports."""
    tree = json.loads((root / "npm-ls.json").read_text())
    found: set[tuple[str, str, str]] = set()
    stack = [tree]
    while stack:
        node = stack.pop()
        for child in (node.get("dependencies") or {}).values():
            if child.get("path") and child.get("name") and child.get("version"):
                rel = "/" + os.path.relpath(child["path"], root)
                found.add((rel + "/package.json", child["name"], child["version"]))
            stack.append(child)
    return found


def pip_target(requirements: tuple[str, ...] | list[str]) -> Path:
    """A directory `pip install --target`ed with exactly `requirements` (no dependencies,
    source distributions allowed: old releases such as PyYAML 5.3 have no wheel for this
    Python)."""
    require_network("pypi.org")

    def build(root: Path) -> None:
        _run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target",
              str(root / "site-packages"), *requirements], root, "pip install --target")

    return cached_build("pip-target", [sys.version_info[:2], list(requirements)],
                        build) / "site-packages"
