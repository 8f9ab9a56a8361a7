"""Rust crate identities shared by the Cargo.lock and binary catalogers."""

from __future__ import annotations

from stackwarden.catalog.base import purl

CRATES_IO = "registry+https://github.com/rust-lang/crates.io-index"
CRATES_IO_SPARSE = "sparse+https://index.crates.io/"


def cargo_purl(name: str, version: str) -> str:
    """`pkg:cargo/<name>@<version>` (as Syft writes it, whatever the registry)."""
    return purl("cargo", name, version)


def source_kind(source: str) -> str:
    """What a Cargo.lock `source` says about where a crate came from."""
    if not source:
        return "local"  # path dependencies and workspace members carry no source
    if source in (CRATES_IO, CRATES_IO_SPARSE):
        return "crates.io"
    kind = source.split("+", 1)[0]
    if kind in ("registry", "sparse"):
        return "registry"  # an alternate registry
    return "git" if kind == "git" else "other"
