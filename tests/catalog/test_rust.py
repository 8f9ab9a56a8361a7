"""Cargo.lock (v1-v4, checked against cargo itself) and `cargo auditable` binaries (a real Rust
binary carrying a .dep-v0 section), compared with Syft; damaged inputs degrade to one reason."""

from __future__ import annotations

import json
import os
import shutil
import struct
import zlib
from pathlib import Path

import pytest

from stackwarden.artifact.directory import DirectoryArtifact
from stackwarden.catalog.engine import catalog_artifact
from stackwarden.catalog.rust import CargoAuditableBinaryCataloger, RustCargoLockCataloger
from stackwarden.core.models import SBOM
from tests.helpers.elfbuild import Sec, build_elf
from tests.helpers.rustbuild import rust_workspace
from tests.helpers.syft import agreement, syft_packages

LOCKFILES = Path(__file__).resolve().parents[1] / "fixtures" / "rust" / "lockfiles"


def run_catalogers(root: Path) -> SBOM:
    return catalog_artifact(DirectoryArtifact(root),
                            [RustCargoLockCataloger(), CargoAuditableBinaryCataloger()])


def lock_packages(text: str, tmp: Path) -> dict[tuple[str, str], dict]:
    (tmp / "Cargo.lock").write_text(text)
    sbom = run_catalogers(tmp)
    assert not sbom.skipped, sbom.skipped
    return {(p.name, p.version): p.metadata for p in sbom.packages}


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        ("v1.Cargo.lock", {("cfg-if", "0.1.10"), ("log", "0.4.8"), ("tool", "0.1.0"),
                           ("vendored", "1.0.0")}),
        ("v2.Cargo.lock", {("cfg-if", "0.1.10"), ("cfg-if", "1.0.0"), ("log", "0.4.14"),
                           ("tool", "0.2.0")}),
        ("v3.Cargo.lock", {("memchr", "2.7.4"), ("internal-json", "3.1.0"), ("tool", "0.3.0")}),
        ("v0-root.Cargo.lock", {("legacy", "0.0.1"), ("libc", "0.2.20")}),
    ],
)
def test_hand_written_lockfiles(fixture: str, expected: set[tuple[str, str]],
                                tmp_path: Path) -> None:
    found = lock_packages((LOCKFILES / fixture).read_text(), tmp_path)
    assert set(found) == expected


def test_lockfile_metadata(tmp_path: Path) -> None:
    v1 = lock_packages((LOCKFILES / "v1.Cargo.lock").read_text(), tmp_path)
    assert v1[("log", "0.4.8")]["checksum"].startswith("14b6052b")  # from [metadata]
    assert v1[("log", "0.4.8")]["source_kind"] == "crates.io"
    assert v1[("vendored", "1.0.0")]["source_kind"] == "git"
    assert v1[("tool", "0.1.0")]["source_kind"] == "local"
    v3 = lock_packages((LOCKFILES / "v3.Cargo.lock").read_text(), tmp_path)
    assert v3[("memchr", "2.7.4")]["source_kind"] == "crates.io"  # the sparse index
    assert v3[("internal-json", "3.1.0")]["source_kind"] == "registry"
    assert v3[("tool", "0.3.0")]["dependencies"] == ["internal-json", "memchr"]
    assert v3[("tool", "0.3.0")]["lock_version"] == 3


def test_real_lockfile_matches_cargo_metadata() -> None:
    built = rust_workspace()
    metadata = json.loads((built / "metadata.json").read_text())
    want = {(p["name"], p["version"]) for p in metadata["packages"]}
    sbom = catalog_artifact(DirectoryArtifact(built / "workspace"), [RustCargoLockCataloger()])
    assert {(p.name, p.version) for p in sbom.packages} == want
    assert all(p.purl == f"pkg:cargo/{p.name}@{p.version}" for p in sbom.packages)


def test_audit_data_in_a_real_binary() -> None:
    built = rust_workspace()
    sbom = catalog_artifact(DirectoryArtifact(built / "bin"), [CargoAuditableBinaryCataloger()])
    assert not sbom.skipped
    found = {(p.name, p.version): p for p in sbom.packages}
    # codegen is a build-dependency only: cargo-auditable marks it "build", Syft drops it
    assert set(found) == {("ws-app", "0.1.0"), ("helper", "0.3.1"), ("util", "0.1.0")}
    assert found[("ws-app", "0.1.0")].metadata["root"] is True
    assert found[("ws-app", "0.1.0")].metadata["dependencies"] == ["codegen", "helper"]
    assert found[("helper", "0.3.1")].metadata["source_kind"] == "local"
    assert {loc.path for p in sbom.packages for loc in p.locations} == {"/ws-app"}


def test_agrees_with_syft(tmp_path: Path) -> None:
    built = rust_workspace()
    shutil.copy(built / "bin" / "ws-app", tmp_path / "ws-app")
    shutil.copy(built / "bin" / "ws-app-plain", tmp_path / "ws-app-plain")
    for fixture in ("v1", "v2", "v3"):
        (tmp_path / fixture).mkdir()
        shutil.copy(LOCKFILES / f"{fixture}.Cargo.lock", tmp_path / fixture / "Cargo.lock")
    (tmp_path / "workspace").mkdir()
    shutil.copy(built / "workspace" / "Cargo.lock", tmp_path / "workspace" / "Cargo.lock")
    sbom = run_catalogers(tmp_path)
    ours = {(p.type.value, p.name, p.version) for p in sbom.packages}
    theirs = syft_packages(str(tmp_path), types={"rust-crate"},
                           catalogers="rust-cargo-lock-cataloger,cargo-auditable-binary-cataloger")
    assert len(ours) >= 12
    assert agreement(ours, theirs) >= 0.99, (sorted(ours - theirs), sorted(theirs - ours))


def elf_with_audit(blob: bytes, name: str = ".dep-v0") -> bytes:
    return build_elf([Sec(".text", b"\x90" * 32), Sec(name, blob, alloc=False)])


def audit_blob(doc: object) -> bytes:
    return zlib.compress(json.dumps(doc).encode())


def test_audit_variants(tmp_path: Path) -> None:
    doc = {"format": 1, "packages": [
        {"name": "app", "version": "1.0.0", "source": "local", "root": True,
         "dependencies": [1, 2, 3]},
        {"name": "serde", "version": "1.0.200", "source": "crates.io"},
        {"name": "serde_derive", "version": "1.0.200", "source": "crates.io", "kind": "build"},
        {"name": "forked", "version": "0.1.0", "source": "git"},
        {"name": "", "version": "9.9.9", "source": "crates.io"},
        {"name": "custom", "version": "2.0.0", "source": {"Other": "mirror"}},
        "not an object",
    ]}
    (tmp_path / "modern").write_bytes(elf_with_audit(audit_blob(doc)))
    (tmp_path / "legacy").write_bytes(elf_with_audit(audit_blob(doc), ".rust-deps-v0"))
    for name in ("modern", "legacy"):
        os.chmod(tmp_path / name, 0o755)
    sbom = run_catalogers(tmp_path)
    found = {(p.name, p.version): p.metadata for p in sbom.packages}
    assert set(found) == {("app", "1.0.0"), ("serde", "1.0.200"), ("forked", "0.1.0"),
                          ("custom", "2.0.0")}
    assert found[("custom", "2.0.0")]["source_kind"] == "mirror"
    assert found[("app", "1.0.0")]["dependencies"] == ["forked", "serde", "serde_derive"]


@pytest.mark.parametrize(
    ("blob", "reason"),
    [
        (b"not zlib at all", "not zlib-compressed"),
        (zlib.compress(b"{not json"), "not JSON"),
        (zlib.compress(b"[1, 2, 3]"), "no `packages` array"),
        (zlib.compress(b'{"packages": {"a": 1}}'), "no `packages` array"),
        (zlib.compress(b" " * (40 * 1024 * 1024)), "inflates past"),  # a 40 KiB zip bomb
        (zlib.compress(b"[" * 100_000 + b"]" * 100_000), "not JSON"),  # nesting bomb
    ],
)
def test_damaged_audit_data_is_skipped(blob: bytes, reason: str, tmp_path: Path) -> None:
    (tmp_path / "bad").write_bytes(elf_with_audit(blob))
    os.chmod(tmp_path / "bad", 0o755)
    sbom = run_catalogers(tmp_path)
    assert sbom.packages == ()
    assert [(s.path, s.by) for s in sbom.skipped] == [("/bad", "cargo-auditable-binary-cataloger")]
    assert reason in sbom.skipped[0].reason


def test_section_past_the_end_and_not_elf(tmp_path: Path) -> None:
    data = bytearray(elf_with_audit(audit_blob({"packages": []})))
    shoff = struct.unpack_from("<Q", data, 40)[0]
    struct.pack_into("<Q", data, shoff + 2 * 64 + 24, len(data) + 100)  # .dep-v0's sh_offset
    (tmp_path / "cut").write_bytes(bytes(data))
    (tmp_path / "script").write_text("#!/bin/sh\n" + "x" * 100)
    for name in ("cut", "script"):
        os.chmod(tmp_path / name, 0o755)
    sbom = run_catalogers(tmp_path)
    assert sbom.packages == ()
    assert [s.path for s in sbom.skipped] == ["/cut"]
    assert "section .dep-v0 lies past the end of the file" in sbom.skipped[0].reason


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("[[package]\nname = 'x'", "invalid TOML"),
        ("package = 'not a table array'", "`package` is not an array"),
    ],
)
def test_damaged_lockfiles(text: str, reason: str, tmp_path: Path) -> None:
    (tmp_path / "Cargo.lock").write_text(text)
    sbom = run_catalogers(tmp_path)
    assert sbom.packages == () and reason in sbom.skipped[0].reason


def test_entries_without_name_or_with_odd_types_are_dropped(tmp_path: Path) -> None:
    text = ('version = 3\n[[package]]\nversion = "1.0.0"\n\n[[package]]\nname = "ok"\n'
            'version = "1.0.0"\nsource = 42\ndependencies = "x"\n\n[[package]]\nname = "bad"\n'
            'version = 7\n')
    found = lock_packages(text, tmp_path)
    assert set(found) == {("ok", "1.0.0")}
    assert found[("ok", "1.0.0")]["dependencies"] == []
