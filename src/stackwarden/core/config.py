"""Settings shared across layers: safety limits and where StackWarden keeps its files."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

GiB = 1024**3
MiB = 1024**2


@dataclass(frozen=True, slots=True)
class Limits:
    """Safety limits for untrusted input; going past one is a clear error, never a hang."""

    max_layer_bytes: int = 32 * GiB  # uncompressed size of one layer
    max_compression_ratio: int = 250  # uncompressed/compressed, checked past ratio_floor_bytes
    ratio_floor_bytes: int = 512 * MiB
    max_entries_per_layer: int = 2_000_000
    max_path_length: int = 4096
    max_manifest_bytes: int = 8 * MiB  # manifests, indexes, configs
    max_package_file_bytes: int = 256 * MiB  # one package database or manifest file
    max_archive_depth: int = 4  # nested JARs and the like
    max_nested_archive_bytes: int = 512 * MiB
    network_timeout: float = 30.0
    max_archive_entries: int = 100_000  # members across one file's nested archives
    max_archive_member_bytes: int = 64 * MiB  # one archive member read for scanning
    archive_ratio_floor_bytes: int = 1 * MiB  # archive members: ratio checked past this


DEFAULT_LIMITS = Limits()


def cache_dir() -> Path:
    """The per-user cache directory (`STACKWARDEN_CACHE_DIR`, else XDG's cache home)."""
    explicit = os.environ.get("STACKWARDEN_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "stackwarden"
