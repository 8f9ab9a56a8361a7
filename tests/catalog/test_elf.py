"""The ELF reader against binutils' readelf on real binaries, and on damaged headers."""

from __future__ import annotations

import io
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from stackwarden.catalog.elf import ElfError, ElfFile, library_dirs, open_elf
from tests.helpers.elfbuild import Sec, build_elf
from tests.helpers.env import unavailable
from tests.helpers.gobuild import go_binaries
from tests.helpers.rustbuild import rust_workspace

_SECTION = re.compile(r"^\s*\[\s*(\d+)\]\s+(\S+)\s+\S+\s+([0-9a-f]+)\s+([0-9a-f]+)\s+([0-9a-f]+)\s",
                      re.M)
_DYNAMIC = re.compile(r"\((NEEDED|RUNPATH|RPATH)\)\s+[^\[]*\[(.*)\]")


def readelf(*args: str) -> str:
    """binutils' readelf: the reference ELF parser."""
    found = shutil.which("readelf")
    if not found:
        unavailable("readelf is missing (scripts/install-system-deps installs binutils)")
    return subprocess.run([str(found), "-W", *args], capture_output=True, text=True,
                          check=True).stdout


def real_binaries() -> list[Path]:
    """Real ELF files of both classes and byte orders, static and dynamic."""
    go = go_binaries() / "bin"
    found = [go / n for n in ("app", "app-386", "app-arm64", "app-mips", "app-ppc64",
                              "app-stripped")]
    found.append(rust_workspace() / "bin" / "ws-app")
    found += [Path(p) for p in ("/usr/bin/python3.11", "/usr/bin/openssl") if Path(p).exists()]
    return found


def open_path(path: Path) -> ElfFile:
    handle = open(path, "rb")  # noqa: SIM115 - closed by the test's scope
    elf = open_elf(handle, path.stat().st_size, str(path))
    assert elf is not None
    return elf


def test_sections_segments_and_dynamic_match_readelf() -> None:
    for path in real_binaries():
        elf = open_path(path)
        expected = {int(i): (name, int(a, 16), int(o, 16), int(s, 16))
                    for i, name, a, o, s in _SECTION.findall(readelf("-S", str(path)))
                    if int(i) > 0}
        ours = {i: (s.name, s.addr, s.offset, s.size) for i, s in enumerate(elf.sections) if i}
        assert ours == expected, path
        loads = readelf("-l", str(path)).count("\n  LOAD ")
        assert sum(1 for s in elf.segments if s.type == 1) == loads, path
        want_needed = [v for k, v in _DYNAMIC.findall(readelf("-d", str(path))) if k == "NEEDED"]
        assert elf.dynamic()[0] == want_needed, path
        assert elf.bits == (32 if path.name in ("app-386", "app-mips") else 64)
        assert elf.little == (path.name not in ("app-mips", "app-ppc64"))


@pytest.mark.parametrize(("bits", "little"), [(64, True), (32, True), (64, False), (32, False)])
def test_hand_made_files_of_every_class_and_order(bits: int, little: bool) -> None:
    data = build_elf([Sec(".data", b"hello"), Sec(".note.x", b"n" * 7, alloc=False)],
                     bits=bits, little=little)
    elf = ElfFile(io.BytesIO(data), len(data), "x")
    section = elf.section(".data")
    assert section is not None and elf.section_data(section, 100) == b"hello"
    assert elf.read_vaddr(section.addr + 1, 3) == b"ell"
    assert elf.section_data(elf.section(".note.x"), 100) == b"n" * 7  # type: ignore[arg-type]


def _patch(data: bytes, offset: int, fmt: str, value: int) -> bytes:
    out = bytearray(data)
    struct.pack_into(fmt, out, offset, value)
    return bytes(out)


BASE = build_elf([Sec(".data", b"payload")])


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("truncated header", BASE[:30], "truncated ELF header"),
        ("bad class", BASE[:4] + b"\x07" + BASE[5:], "bad ELF class"),
        ("program headers past the end", _patch(BASE, 32, "<Q", 1 << 40), "program header table"),
        ("absurd program header count", _patch(BASE, 56, "<H", 4000), "program header"),
        ("wrong program header size", _patch(BASE, 54, "<H", 12), "program header entry size"),
    ],
)
def test_damaged_headers_raise_one_clear_error(name: str, data: bytes, message: str) -> None:
    with pytest.raises(ElfError, match=message) as caught:
        ElfFile(io.BytesIO(data), len(data), "/bin/x")
    assert "/bin/x" in str(caught.value)


def test_section_table_past_the_end_degrades_to_segments() -> None:
    data = _patch(BASE, 40, "<Q", len(BASE) + 4096)  # e_shoff beyond the file
    elf = ElfFile(io.BytesIO(data), len(data), "x")
    assert elf.sections == () and "section header table" in elf.problems[0]
    assert elf.read_vaddr(elf.segments[0].vaddr, 4) == b"\x7fELF"


def test_section_bytes_past_the_end_and_over_the_limit() -> None:
    data = build_elf([Sec(".data", b"x" * 64)])
    elf = ElfFile(io.BytesIO(data[:-200]), len(data) - 200, "x")  # cut into the data
    section = elf.section(".data")
    if section is not None:  # the section table itself may be what was cut
        with pytest.raises(ElfError, match="past the end"):
            elf.section_data(section, 1 << 20)
    whole = ElfFile(io.BytesIO(data), len(data), "x")
    with pytest.raises(ElfError, match="over the 10-byte limit"):
        whole.section_data(whole.section(".data"), 10)  # type: ignore[arg-type]


def test_non_elf_is_none_after_one_small_read() -> None:
    handle = io.BytesIO(b"#!/bin/sh\necho hi\n")
    assert open_elf(handle, 18) is None
    assert handle.tell() == 4


def test_library_dirs_follow_the_loader() -> None:
    dirs = library_dirs("/opt/py/bin/python3.11", ["$ORIGIN/../lib", "/srv/lib"])
    assert dirs[:2] == ["/opt/py/lib", "/srv/lib"]
    assert "/usr/local/lib" in dirs and "/usr/lib/x86_64-linux-gnu" in dirs


def test_name_table_index_out_of_range_is_a_problem_not_a_crash() -> None:
    data = _patch(BASE, 62, "<H", 999)  # e_shstrndx
    elf = ElfFile(io.BytesIO(data), len(data), "x")
    assert all(s.name == "" for s in elf.sections)
    assert "section name table index 999" in elf.problems[0]
