"""The binary classifier on the machine's real CPython, Node.js, OpenSSL and Go toolchain
(laid out in a temporary tree like /usr/local; each binary's own `--version` is the oracle),
compared with Syft's binary-classifier-cataloger, plus hand-made and hostile files."""

from __future__ import annotations

import glob
import io
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest

from stackwarden.artifact.directory import DirectoryArtifact
from stackwarden.catalog.binary import BinaryClassifierCataloger
from stackwarden.catalog.contents import first_matches
from stackwarden.catalog.engine import catalog_artifact
from stackwarden.core.models import SBOM, Package
from tests.helpers.builds import link_or_copy
from tests.helpers.env import unavailable
from tests.helpers.gobuild import goroot
from tests.helpers.syft import agreement, syft_packages


def version_of(cmd: list[str], pattern: str) -> str:
    """A program's own report of its version: the oracle."""
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=60).stdout
    match = re.search(pattern, out)
    assert match, out
    return match.group(1)


def first(pattern: str) -> Path | None:
    found = sorted(glob.glob(pattern))
    return Path(found[0]) if found else None


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, set[str]]]:
    """Real runtimes hard-linked into a /usr/local-like tree, with the versions they report."""
    root = tmp_path_factory.mktemp("bintree")
    expected: dict[str, set[str]] = {}
    python = Path("/usr/bin/python3.11")
    libpython = first("/usr/lib/*-linux-gnu/libpython3.11.so.1.0")
    if python.exists() and libpython:
        link_or_copy(python, root / "usr/local/bin/python3.11")
        link_or_copy(libpython, root / "usr/local/lib" / libpython.name)
        expected["python"] = {version_of([str(python), "-c", "import platform; print("
                                          "platform.python_version())"], r"(\S+)")}
    shared = sysconfig.get_config_var("LDLIBRARY") or ""
    libdir = Path(sysconfig.get_config_var("LIBDIR") or "/nonexistent")
    minor = f"{sys.version_info[0]}.{sys.version_info[1]}"
    interpreter = Path(sys.base_prefix) / "bin" / f"python{minor}"
    if shared.endswith(".so") and (libdir / f"{shared}.1.0").exists() and interpreter.exists():
        # a --enable-shared build (pyenv): laid out where its RUNPATH points
        inside = root / str(libdir).lstrip("/")
        link_or_copy(libdir / f"{shared}.1.0", inside / f"{shared}.1.0")
        link_or_copy(interpreter, inside.parent / "bin" / interpreter.name)
    node = shutil.which("node")
    if node:
        link_or_copy(Path(os.path.realpath(node)), root / "usr/local/bin/node")
        expected["node"] = {version_of([node, "--version"], r"v(\S+)")}
    openssl = shutil.which("openssl")
    libssl, libcrypto = first("/usr/lib/*-linux-gnu/libssl.so.3"), \
        first("/usr/lib/*-linux-gnu/libcrypto.so.3")
    if openssl and libssl and libcrypto:
        link_or_copy(Path(os.path.realpath(openssl)), root / "usr/local/bin/openssl")
        link_or_copy(libssl, root / "usr/local/lib/libssl.so.3")
        link_or_copy(libcrypto, root / "usr/local/lib/libcrypto.so.3")
        expected["openssl"] = {version_of([openssl, "version"], r"OpenSSL (\S+)")}
    go = goroot()
    for name in ("go", "gofmt"):
        link_or_copy(go / "bin" / name, root / "usr/local/go/bin" / name)
    shutil.copy(go / "VERSION", root / "usr/local/go/VERSION")
    expected["go"] = {version_of([str(go / "bin" / "go"), "version"], r"go version go(\S+)")}
    if len(expected) < 4:
        unavailable(f"only {sorted(expected)} of python, node, openssl and go are installed")
    return root, expected


def run(root: Path) -> SBOM:
    return catalog_artifact(DirectoryArtifact(root), [BinaryClassifierCataloger()])


def test_versions_match_what_each_binary_reports(tree: tuple[Path, dict[str, set[str]]]) -> None:
    root, expected = tree
    sbom = run(root)
    assert not sbom.skipped, sbom.skipped
    found: dict[str, set[str]] = {}
    for pkg in sbom.packages:
        found.setdefault(pkg.name, set()).add(pkg.version)
    assert found == expected
    by_name = {p.name: p for p in sbom.packages}
    python = by_name["python"]
    version = python.version
    assert python.purl == f"pkg:generic/python@{version}"
    assert python.cpes == (f"cpe:2.3:a:python_software_foundation:python:{version}:*:*:*:*:*:*:*",
                           f"cpe:2.3:a:python:python:{version}:*:*:*:*:*:*:*")
    assert {loc.path for loc in by_name["go"].locations} == {"/usr/local/go/bin/go",
                                                             "/usr/local/go/VERSION"}
    assert by_name["node"].cpes[0].startswith("cpe:2.3:a:nodejs:node.js:")
    assert {loc.path for loc in by_name["openssl"].locations} == {
        "/usr/local/bin/openssl", "/usr/local/lib/libcrypto.so.3", "/usr/local/lib/libssl.so.3"}


def test_agrees_with_syft(tree: tuple[Path, dict[str, set[str]]]) -> None:
    root, _ = tree
    ours = {(p.type.value, p.name, p.version) for p in run(root).packages}
    theirs = syft_packages(str(root), catalogers="binary-classifier-cataloger",
                           types={"binary"})
    assert agreement(ours, theirs) >= 0.99, (sorted(ours - theirs), sorted(theirs - ours))


def classify(tmp: Path, files: dict[str, bytes]) -> dict[str, Package]:
    for name, data in files.items():
        path = tmp / name.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    sbom = run(tmp)
    assert not sbom.skipped, sbom.skipped
    return {loc.path: p for p in sbom.packages for loc in p.locations}


PAD = b"\x7fELF" + b"\x01" * 5000


@pytest.mark.parametrize(
    ("name", "data", "package", "version"),
    [
        ("/bin/node", PAD + b"\x00node v0.10.48\x00" + PAD, "node", "0.10.48"),
        ("/bin/node", PAD + b"\x00v4.9.1\x00", "node", "4.9.1"),
        # the old-style string wins over a later user-agent, as in Syft's MatchAny
        ("/bin/node", b"node.js/v18.0.0" + PAD + b"\x00v6.17.1\x00", "node", "6.17.1"),
        ("/bin/node", PAD + b"Mozilla node.js/v22.9.0 x", "node", "22.9.0"),
        ("/bin/openssl", PAD + b"\x00OpenSSL 1.1.1w  11 Sep 2023\x00", "openssl", "1.1.1w"),
        ("/bin/openssl", b"\x00OpenSSL 1.0.2k-fips  26 Jan 2017", "openssl", "1.0.2k"),
        ("/lib/libcrypto.so.1.1", b"\x00OpenSSL 1.1.1n  15 Mar 2022\x00", "openssl", "1.1.1n"),
        ("/go/VERSION", b"go1.21.5\ntime 2023-11-29T21:21:02Z\n", "go", "1.21.5"),
        ("/go/VERSION", b"go1.22rc1", "go", "1.22rc1"),
        ("/go/bin/go", PAD + b"go1.20.14\x00", "go", "1.20.14"),
        ("/opt/bin/python3.12", PAD + b"\x003.12.1\x00", "python", "3.12.1"),
        ("/opt/lib/libpython3.9.so.1.0", b"\x003.9\x00\x003.9.18\x00", "python", "3.9"),
        ("/opt/lib/libpython3.10d.so", b"\x003.10.0rc2\x00", "python", "3.10.0rc2"),
    ],
)
def test_version_strings(name: str, data: bytes, package: str, version: str,
                         tmp_path: Path) -> None:
    found = classify(tmp_path, {name: data})
    assert (found[name].name, found[name].version) == (package, version)


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("/go/VERSION", b"1.2.3\n"),  # some other project's VERSION file
        ("/bin/python3", PAD + b"\x003.11.2\x00"),  # no version in the name, no libpython
        ("/bin/python3.11-config", b"#!/bin/sh\necho 3.11.2\n"),
        ("/bin/openssl", b"OpenSSL 3.0.2 without a leading NUL"),
        ("/bin/node", PAD),
        ("/lib/libssl3.so", b"\x00OpenSSL 3.0.2 (NSS's library, not OpenSSL's)"),
        ("/bin/nodejs-helper", b"node.js/v20.0.0"),
        ("/lib/libpython3.9.so", b"\x003.9.18+\x00"),  # `+` is not in CPython's pattern
    ],
)
def test_no_version_no_package(name: str, data: bytes, tmp_path: Path) -> None:
    assert classify(tmp_path, {name: data}) == {}


def test_libssl_takes_the_version_of_its_libcrypto(tmp_path: Path) -> None:
    found = classify(tmp_path, {"/lib/libssl.so.1.1": PAD,
                                "/lib/libcrypto.so.1.1": b"\x00OpenSSL 1.1.1w  11 Sep 2023"})
    assert found["/lib/libssl.so.1.1"].version == "1.1.1w"
    assert found["/lib/libssl.so.1.1"].metadata["evidence"] == ["/lib/libssl.so.1.1",
                                                                "/lib/libcrypto.so.1.1"]


def test_windows_find_a_version_split_by_a_window_edge() -> None:
    pattern = [[re.compile(rb"node\.js/v(?P<version>[0-9]+\.[0-9]+\.[0-9]+)")]]
    text = b"\x01" * 1000 + b"node.js/v20.11.1" + b"\x01" * 10
    for chunk in range(1, 40):  # every split point of the string across two windows
        hit = first_matches(io.BytesIO(text), len(text), pattern, chunk=chunk + 4096)
        assert hit[0] is not None and hit[0].groups["version"] == "20.11.1"
        assert hit[0].offset == 1000
    big = b"\x01" * (4096 * 3 + 7) + b"node.js/v1.22.333" + b"\x01" * 5000
    for chunk in (4096 + 1, 4096 + 5, 4096 * 2 - 3):
        hit = first_matches(io.BytesIO(big), len(big), pattern, chunk=chunk)
        assert hit[0] is not None and hit[0].groups["version"] == "1.22.333"


def test_a_sparse_gigabyte_node_is_skipped_at_once(tmp_path: Path) -> None:
    with open(tmp_path / "node", "wb") as handle:
        handle.truncate(1 << 30)
    started = time.perf_counter()
    sbom = run(tmp_path)
    assert time.perf_counter() - started < 1.0
    assert sbom.packages == ()
    assert [s.path for s in sbom.skipped] == ["/node"]
    assert "limit for version scans" in sbom.skipped[0].reason
