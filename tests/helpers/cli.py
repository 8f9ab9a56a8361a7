"""Run the `stackwarden` command the way a user does: a subprocess, no stdin, a timeout."""

from __future__ import annotations

import subprocess
import sys


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`python -m stackwarden ARGS…`, output captured as text."""
    return subprocess.run([sys.executable, "-m", "stackwarden", *args], capture_output=True,
                          text=True, timeout=timeout, check=False, stdin=subprocess.DEVNULL)
