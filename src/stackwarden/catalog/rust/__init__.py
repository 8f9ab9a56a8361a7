"""Rust: crates locked in Cargo.lock and crates recorded in `cargo auditable` binaries."""

from stackwarden.catalog.rust.audit import CargoAuditableBinaryCataloger
from stackwarden.catalog.rust.cargo_lock import RustCargoLockCataloger

__all__ = ["CargoAuditableBinaryCataloger", "RustCargoLockCataloger"]
