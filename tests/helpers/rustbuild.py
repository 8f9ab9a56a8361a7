"""A real Rust workspace built offline, and its binary given `cargo auditable` audit data.

crates.io is unreachable and cargo-auditable is not packaged for Debian, so the audit data is
made here the way cargo-auditable's format 0 makes it: from `cargo metadata`'s resolve graph,
walked from the binary's package (normal edges give "runtime" crates, build-dependency edges
"build" ones), sorted, zlib-compressed, and linked into the real release binary as a `.dep-v0`
section with `objcopy --add-section`. Only the section's origin is synthetic; its format and
the binary are real.
"""

from __future__ import annotations

import json
import shutil
import zlib
from pathlib import Path
from typing import Any

from tests.helpers.builds import cached_build, fingerprint, run
from tests.helpers.env import unavailable

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "rust"


def tool(name: str, package: str) -> str:
    """A command from PATH, or a visible skip (a failure under CI)."""
    found = shutil.which(name)
    if not found:
        unavailable(f"`{name}` is missing (scripts/install-system-deps installs {package})")
    assert found is not None
    return found


def audit_data(metadata: dict[str, Any], root_name: str) -> dict[str, Any]:
    """cargo-auditable's VersionInfo for the package `root_name`, from `cargo metadata`."""
    packages = {p["id"]: p for p in metadata["packages"]}
    nodes = {n["id"]: n for n in metadata["resolve"]["nodes"]}
    root = next(pid for pid, p in packages.items() if p["name"] == root_name)
    kinds: dict[str, str] = {root: "runtime"}
    pending = [(root, "runtime")]
    while pending:
        current, kind = pending.pop()
        for dep in nodes[current]["deps"]:
            dep_kinds = {k["kind"] for k in dep["dep_kinds"]}
            if dep_kinds == {"dev"}:
                continue
            edge = "runtime" if kind == "runtime" and None in dep_kinds else "build"
            if kinds.get(dep["pkg"]) != "runtime" and kinds.get(dep["pkg"]) != edge:
                kinds[dep["pkg"]] = edge if kinds.get(dep["pkg"]) is None else "runtime"
                pending.append((dep["pkg"], edge))

    def source(pkg: dict[str, Any]) -> str:
        src = pkg.get("source")
        if src is None:
            return "local"
        if src == "registry+https://github.com/rust-lang/crates.io-index":
            return "crates.io"
        return "git" if src.startswith("git+") else "registry"

    ordered = sorted(kinds, key=lambda pid: (packages[pid]["name"], packages[pid]["version"],
                                             source(packages[pid])))
    index = {pid: i for i, pid in enumerate(ordered)}
    out = []
    for pid in ordered:
        pkg = packages[pid]
        entry: dict[str, Any] = {"name": pkg["name"], "version": pkg["version"],
                                 "source": source(pkg)}
        if kinds[pid] == "build":
            entry["kind"] = "build"
        deps = sorted(index[d["pkg"]] for d in nodes[pid]["deps"] if d["pkg"] in index)
        if deps:
            entry["dependencies"] = deps
        if pid == root:
            entry["root"] = True
        out.append(entry)
    return {"packages": out}


def _build(work: Path) -> None:
    cargo = tool("cargo", "cargo")
    objcopy = tool("objcopy", "binutils")
    shutil.copytree(FIXTURES / "workspace", work / "workspace")
    ws = work / "workspace"
    env = {"CARGO_NET_OFFLINE": "true", "CARGO_TARGET_DIR": str(work / "target")}
    run([cargo, "generate-lockfile", "--offline"], cwd=ws, env=env)
    run([cargo, "build", "--release", "--offline", "-q", "-p", "ws-app"], cwd=ws, env=env)
    metadata = json.loads(run([cargo, "metadata", "--format-version", "1", "--offline"],
                              cwd=ws, env=env))
    (work / "metadata.json").write_text(json.dumps(metadata))
    doc = audit_data(metadata, "ws-app")
    (work / "audit.json").write_text(json.dumps(doc))
    (work / "dep-v0.zlib").write_bytes(zlib.compress(json.dumps(doc).encode(), 9))
    (work / "bin").mkdir()
    shutil.copy2(work / "target" / "release" / "ws-app", work / "bin" / "ws-app-plain")
    run([objcopy, "--add-section", f".dep-v0={work / 'dep-v0.zlib'}",
         "--set-section-flags", ".dep-v0=noload,readonly",
         str(work / "target" / "release" / "ws-app"), str(work / "bin" / "ws-app")])
    shutil.rmtree(work / "target")


def rust_workspace() -> Path:
    """The cached build: workspace/ (with the Cargo.lock cargo wrote), bin/ws-app (with audit
    data), bin/ws-app-plain (without), metadata.json, audit.json."""
    cargo = tool("cargo", "cargo")
    key = fingerprint(run([cargo, "--version"]), run(["rustc", "--version"]),
                      files=[p for p in (FIXTURES / "workspace").rglob("*") if p.is_file()])
    return cached_build("rust-workspace", key, _build)
