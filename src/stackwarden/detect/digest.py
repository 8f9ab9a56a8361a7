"""The SHA-256 of scanned content, computed at most once per file and shared by detectors."""

from __future__ import annotations

import hashlib

from stackwarden.detect.base import ScanTarget

SHA256_KEY = "sha256"


def content_sha256(data: bytes | memoryview, target: ScanTarget | None = None) -> str:
    """The hex SHA-256 of `data`; cached in `target.extra` so the next detector reuses it."""
    if target is not None:
        known = target.extra.get(SHA256_KEY)
        if known:
            return known
    digest = hashlib.sha256(data).hexdigest()
    if target is not None:
        target.extra[SHA256_KEY] = digest
    return digest
