"""Skips that are visible, and that turn into failures under CI=true."""

from __future__ import annotations

import os
import socket
from functools import cache

import pytest

SHARED_DATA = os.environ.get("STACKWARDEN_SHARED_DATA") or os.path.join(
    os.path.dirname(__file__), "..", "..", "..", "shared", "data")


def in_ci() -> bool:
    """True when the suite runs in CI, where nothing it needs may be missing."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable(reason: str) -> None:
    """Skip with `reason` on a developer machine; fail under CI=true."""
    if in_ci():
        pytest.fail(f"required for CI but unavailable: {reason}")
    pytest.skip(reason)


@cache
def reachable(host: str, port: int = 443, timeout: float = 5.0) -> bool:
    """Whether a TCP connection to host:port succeeds."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def require_network(host: str, port: int = 443) -> None:
    """Skip (or fail in CI) when `host` cannot be reached."""
    if not reachable(host, port):
        unavailable(f"{host}:{port} is unreachable")


def shared_data(*parts: str) -> str:
    """A path inside ../shared/data (STACKWARDEN_SHARED_DATA), skipping when it is absent."""
    path = os.path.normpath(os.path.join(SHARED_DATA, *parts))
    if not os.path.exists(path):
        unavailable(f"shared data {path} is absent (set STACKWARDEN_SHARED_DATA)")
    return path
