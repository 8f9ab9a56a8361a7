"""A small, bounded ELF reader: headers first, section and segment bytes only on demand.

Every executable of an image goes through the binary catalogers, so opening a file costs one
64-byte read for non-ELF files and a few header reads for ELF ones. Both classes (32/64-bit)
and both byte orders are supported. Nothing is trusted: every offset and size is checked
against the file size and the limits below before a byte is read.
"""

from __future__ import annotations

import posixpath
import struct
from dataclasses import dataclass
from typing import BinaryIO

from stackwarden.core.errors import CatalogError

MAGIC = b"\x7fELF"
MAX_SECTIONS = 1 << 16
MAX_SEGMENTS = 1 << 12
MAX_NAME_TABLE = 4 * 1024 * 1024  # section-name string tables of real binaries are a few KiB
MAX_DYNAMIC = 1024 * 1024

PT_LOAD, PT_DYNAMIC = 1, 2
PF_X, PF_W = 1, 2
SHT_NOBITS = 8
DT_NEEDED, DT_STRTAB, DT_STRSZ, DT_RPATH, DT_RUNPATH = 1, 5, 10, 15, 29

MULTIARCH = ("x86_64-linux-gnu", "aarch64-linux-gnu", "i386-linux-gnu", "arm-linux-gnueabihf",
             "powerpc64le-linux-gnu", "s390x-linux-gnu")

# e_machine values and the names Go's debug/elf gives them (lower-cased, without EM_)
MACHINES = {3: "386", 8: "mips", 20: "ppc", 21: "ppc64", 22: "s390", 40: "arm", 62: "x86_64",
            183: "aarch64", 243: "riscv", 258: "loongarch"}


class ElfError(CatalogError):
    """An ELF file whose headers contradict themselves or the file's size."""


@dataclass(frozen=True, slots=True)
class Section:
    """One section header."""

    name: str
    type: int
    flags: int
    addr: int
    offset: int
    size: int


@dataclass(frozen=True, slots=True)
class Segment:
    """One program header (segment)."""

    type: int
    flags: int
    offset: int
    vaddr: int
    filesz: int
    memsz: int


class ElfFile:
    """The headers of one ELF file and bounded reads of its bytes, through a seekable handle."""

    def __init__(self, handle: BinaryIO, size: int, source: str = "") -> None:
        self.handle = handle
        self.size = size
        self.source = source
        self.problems: list[str] = []  # header damage that did not stop the parse
        ident = self.read(0, 64 if size >= 64 else 52)
        if len(ident) < 52 or not ident.startswith(MAGIC):
            raise self.error("truncated ELF header")
        if ident[4] not in (1, 2) or ident[5] not in (1, 2):
            raise self.error(f"bad ELF class {ident[4]} or byte order {ident[5]}")
        self.bits = 64 if ident[4] == 2 else 32
        self.little = ident[5] == 1
        self.order = "<" if self.little else ">"
        if self.bits == 64:
            if len(ident) < 64:
                raise self.error("truncated ELF header")
            fields = struct.unpack(self.order + "HHIQQQIHHHHHH", ident[16:64])
        else:
            fields = struct.unpack(self.order + "HHIIIIIHHHHHH", ident[16:52])
        (_, self.machine, _, self.entry, phoff, shoff, _, _, phentsize, phnum, shentsize, shnum,
         shstrndx) = fields
        self.sections: tuple[Section, ...] = ()
        first = self._first_section(shoff, shentsize) if shoff else None
        if first is not None:
            shnum = shnum or first[5]  # extended numbering keeps the count in section 0
            if shstrndx == 0xFFFF:
                shstrndx = first[6]
            if phnum == 0xFFFF:
                phnum = first[7]
        self.segments = self._segments(phoff, phentsize, phnum)
        if shoff and shnum:
            self.sections = self._sections(shoff, shentsize, shnum, shstrndx)

    @property
    def arch(self) -> str:
        """The machine name as Go's debug/elf prints it (e.g. `x86_64`, `aarch64`, `386`)."""
        return MACHINES.get(self.machine, f"machine-{self.machine}")

    def error(self, message: str) -> ElfError:
        """An ElfError naming this file."""
        return ElfError(f"malformed ELF: {message}", source=self.source or None)

    def read(self, offset: int, length: int) -> bytes:
        """Up to `length` bytes at file `offset` (fewer at the end of the file)."""
        if offset < 0 or length <= 0 or offset >= self.size:
            return b""
        self.handle.seek(offset)
        return self.handle.read(min(length, self.size - offset))

    def read_exact(self, offset: int, length: int, what: str) -> bytes:
        """Exactly `length` bytes at `offset`, or an ElfError saying `what` is out of bounds."""
        if offset < 0 or length < 0 or offset + length > self.size:
            raise self.error(f"{what} lies past the end of the file "
                             f"({offset}+{length} > {self.size} bytes)")
        data = self.read(offset, length) if length else b""
        if len(data) != length:
            raise self.error(f"short read of {what}")
        return data

    def _first_section(self, shoff: int, shentsize: int) -> tuple[int, ...] | None:
        want = 64 if self.bits == 64 else 40
        if shentsize != want or shoff + want > self.size:
            return None
        return self._unpack_section(self.read(shoff, want))

    def _unpack_section(self, raw: bytes) -> tuple[int, ...]:
        if self.bits == 64:
            return struct.unpack(self.order + "IIQQQQIIQQ", raw)
        return struct.unpack(self.order + "IIIIIIIIII", raw)

    def _segments(self, phoff: int, phentsize: int, phnum: int) -> tuple[Segment, ...]:
        if not phoff or not phnum:
            return ()
        want = 56 if self.bits == 64 else 32
        if phentsize != want:
            raise self.error(f"program header entry size {phentsize}, expected {want}")
        if phnum > MAX_SEGMENTS:
            raise self.error(f"{phnum} program headers")
        raw = self.read_exact(phoff, want * phnum, "the program header table")
        result = []
        for i in range(phnum):
            chunk = raw[i * want:(i + 1) * want]
            if self.bits == 64:
                p_type, flags, offset, vaddr, _, filesz, memsz, _ = struct.unpack(
                    self.order + "IIQQQQQQ", chunk)
            else:
                p_type, offset, vaddr, _, filesz, memsz, flags, _ = struct.unpack(
                    self.order + "IIIIIIII", chunk)
            result.append(Segment(p_type, flags, offset, vaddr, filesz, memsz))
        return tuple(result)

    def _sections(self, shoff: int, shentsize: int, shnum: int,
                  shstrndx: int) -> tuple[Section, ...]:
        want = 64 if self.bits == 64 else 40
        if shentsize != want or shnum > MAX_SECTIONS or shoff + want * shnum > self.size:
            # Stripped or truncated binaries: the segments alone still locate most data.
            self.problems.append(f"section header table ({shnum} entries at {shoff}) lies past "
                                 f"the end of the file or is malformed")
            return ()
        raw = self.read(shoff, want * shnum)
        headers = [self._unpack_section(raw[i * want:(i + 1) * want]) for i in range(shnum)]
        names = b""
        if shstrndx >= shnum:
            self.problems.append(f"section name table index {shstrndx} is out of range")
        elif shstrndx:
            table = headers[shstrndx]
            t_offset, t_size = table[4], table[5]
            if t_size > MAX_NAME_TABLE or t_offset + t_size > self.size:
                self.problems.append("section name table lies past the end of the file")
            else:
                names = self.read(t_offset, t_size)
        result = []
        for name_off, s_type, flags, addr, offset, size, *_ in headers:
            end = names.find(b"\0", name_off) if name_off < len(names) else -1
            name = names[name_off:end].decode("latin-1") if end >= 0 else ""
            result.append(Section(name, s_type, flags, addr, offset, size))
        return tuple(result)

    def section(self, name: str) -> Section | None:
        """The first section called `name`, if any."""
        for section in self.sections:
            if section.name == name:
                return section
        return None

    def section_data(self, section: Section, limit: int) -> bytes:
        """A section's bytes, refusing sections larger than `limit` or outside the file."""
        if section.type == SHT_NOBITS:
            return b""
        if section.size > limit:
            raise self.error(f"section {section.name} is {section.size} bytes, over the "
                             f"{limit}-byte limit")
        return self.read_exact(section.offset, section.size, f"section {section.name}")

    def read_vaddr(self, addr: int, length: int) -> bytes:
        """Up to `length` bytes at virtual address `addr`, from the PT_LOAD segment holding it.

        Like Go's debug/buildinfo: the read stops at the end of the segment's file image.
        Raises ElfError when no segment maps `addr` or its bytes lie past the end of the file.
        """
        for seg in self.segments:
            if seg.type == PT_LOAD and seg.filesz and seg.vaddr <= addr < seg.vaddr + seg.filesz:
                want = min(length, seg.vaddr + seg.filesz - addr)
                return self.read_exact(seg.offset + addr - seg.vaddr, want,
                                       f"data at address {addr:#x}")
        raise self.error(f"no loadable segment maps address {addr:#x}")

    def data_start(self) -> tuple[int, int]:
        """Where Go's linker puts the build info: `.go.buildinfo`, else the first writable,
        non-executable loadable segment (as Go's debug/buildinfo looks for it)."""
        section = self.section(".go.buildinfo")
        if section is not None:
            return section.addr, section.size
        for seg in self.segments:
            if seg.type == PT_LOAD and seg.flags & (PF_X | PF_W) == PF_W:
                return seg.vaddr, seg.memsz
        return 0, 0

    def dynamic(self) -> tuple[list[str], list[str]]:
        """The DT_NEEDED libraries and the DT_RUNPATH/DT_RPATH directories (empty if static)."""
        dyn = next((s for s in self.segments if s.type == PT_DYNAMIC), None)
        if dyn is None or dyn.filesz > MAX_DYNAMIC:
            return [], []
        raw = self.read_exact(dyn.offset, dyn.filesz, "the dynamic section")
        step = 16 if self.bits == 64 else 8
        fmt = self.order + ("qQ" if self.bits == 64 else "iI")
        entries = [struct.unpack(fmt, raw[i:i + step]) for i in range(0, len(raw) - step + 1, step)]
        strtab = next((v for t, v in entries if t == DT_STRTAB), None)
        strsz = next((v for t, v in entries if t == DT_STRSZ), 0)
        if strtab is None:
            return [], []
        table = self.read_vaddr(strtab, min(strsz or MAX_DYNAMIC, MAX_DYNAMIC))

        def string(offset: int) -> str:
            end = table.find(b"\0", offset)
            return table[offset:end].decode("utf-8", "replace") if 0 <= offset < end else ""

        needed = [string(v) for t, v in entries if t == DT_NEEDED]
        paths = [p for t, v in entries if t in (DT_RUNPATH, DT_RPATH) for p in string(v).split(":")]
        return [n for n in needed if n], [p for p in paths if p]


def open_elf(handle: BinaryIO, size: int, source: str = "") -> ElfFile | None:
    """The ELF view of a file, or None when it does not start with the ELF magic."""
    handle.seek(0)
    if handle.read(4) != MAGIC:
        return None
    return ElfFile(handle, size, source)


def library_dirs(binary_path: str, runpaths: list[str]) -> list[str]:
    """Where the dynamic loader looks for a library `binary_path` needs, in order:
    its RUNPATH/RPATH (with $ORIGIN), then the usual system and /usr/local directories."""
    origin = posixpath.dirname(binary_path)
    found = [posixpath.normpath(p.replace("$ORIGIN", origin).replace("${ORIGIN}", origin))
             for p in runpaths if p.startswith(("/", "$ORIGIN", "${ORIGIN}"))]
    for base in ("/lib", "/usr/lib", "/usr/local/lib"):
        found += [base, base + "64", *(f"{base}/{triplet}" for triplet in MULTIARCH)]
    found.append(posixpath.normpath(posixpath.join(origin, "..", "lib")))
    return list(dict.fromkeys(found))
