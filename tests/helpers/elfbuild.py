"""Write small ELF files by hand (per the System V ABI) for cases real toolchains do not emit:
pre-Go-1.18 build info, big-endian 32-bit files, damaged headers."""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

LOAD_BASE = 0x400000


@dataclass(frozen=True)
class Sec:
    """A section: its name and bytes (or a function of its address giving them)."""

    name: str
    data: bytes | Callable[[int], bytes]
    size: int | None = None  # needed when `data` is a function (its length is fixed)
    alloc: bool = True  # allocated sections are mapped by the one PT_LOAD segment


def build_elf(sections: list[Sec], *, bits: int = 64, little: bool = True, machine: int = 62,
              with_section_headers: bool = True, writable: bool = True) -> bytes:
    """An ELF executable: one RW PT_LOAD segment mapping the whole file at LOAD_BASE."""
    order = "<" if little else ">"
    ehsize, phentsize, shentsize = (64, 56, 64) if bits == 64 else (52, 32, 40)
    offset = ehsize + phentsize
    placed: list[tuple[Sec, int, bytes]] = []
    for sec in sections:
        offset = (offset + 15) & ~15
        size = sec.size if callable(sec.data) else len(sec.data)
        assert size is not None
        data = sec.data(LOAD_BASE + offset) if callable(sec.data) else sec.data
        assert len(data) == size, (sec.name, len(data), size)
        placed.append((sec, offset, data))
        offset += size
    names = b"\0" + b"".join(s.name.encode() + b"\0" for s, _, _ in placed) + b".shstrtab\0"
    shstr_off = offset
    offset += len(names)
    shoff = (offset + 7) & ~7 if with_section_headers else 0
    shnum = len(placed) + 2 if with_section_headers else 0
    total = shoff + shnum * shentsize if with_section_headers else offset
    out = bytearray(total)
    ident = b"\x7fELF" + bytes([2 if bits == 64 else 1, 1 if little else 2, 1]) + b"\0" * 9
    head = (2, machine, 1, LOAD_BASE, ehsize, shoff, 0, ehsize, phentsize, 1, shentsize, shnum,
            shnum - 1 if shnum else 0)
    fmt = "HHIQQQIHHHHHH" if bits == 64 else "HHIIIIIHHHHHH"
    out[:ehsize] = ident + struct.pack(order + fmt, *head)
    flags = 4 | (2 if writable else 1)  # R + W (data) or R + X (text)
    if bits == 64:
        phdr = struct.pack(order + "IIQQQQQQ", 1, flags, 0, LOAD_BASE, LOAD_BASE, total, total,
                           0x1000)
    else:
        phdr = struct.pack(order + "IIIIIIII", 1, 0, LOAD_BASE, LOAD_BASE, total, total, flags,
                           0x1000)
    out[ehsize:ehsize + phentsize] = phdr
    for _, off, data in placed:
        out[off:off + len(data)] = data
    out[shstr_off:shstr_off + len(names)] = names
    if with_section_headers:
        rows = [(0, 0, 0, 0, 0, 0)]
        name_off = 1
        for sec, off, data in placed:
            rows.append((name_off, 1, 2 if sec.alloc else 0, LOAD_BASE + off if sec.alloc else 0,
                         off, len(data)))
            name_off += len(sec.name) + 1
        rows.append((name_off, 3, 0, 0, shstr_off, len(names)))
        for i, (name, kind, sflags, addr, off, size) in enumerate(rows):
            if bits == 64:
                raw = struct.pack(order + "IIQQQQIIQQ", name, kind, sflags, addr, off, size,
                                  0, 0, 1, 0)
            else:
                raw = struct.pack(order + "IIIIIIIIII", name, kind, sflags, addr, off, size,
                                  0, 0, 1, 0)
            out[shoff + i * shentsize:shoff + (i + 1) * shentsize] = raw
    return bytes(out)


def uvarint(value: int) -> bytes:
    """Go's binary.PutUvarint."""
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


MAGIC = b"\xff Go buildinf:"
FRAME_START = bytes.fromhex("3077af0c9274080241e1c107e6d618e6")
FRAME_END = bytes.fromhex("f932433186182072008242104116d8f2")


def framed(modinfo: str) -> bytes:
    """Module info between cmd/go's 16-byte sentinels, as the linker stores it."""
    return FRAME_START + modinfo.encode() + FRAME_END


def inline_buildinfo(version: str, modinfo: str, *, ptr_size: int = 8) -> bytes:
    """A Go >= 1.18 `.go.buildinfo` section: header, then varint-prefixed strings."""
    mod = framed(modinfo) if modinfo else b""
    body = uvarint(len(version)) + version.encode() + uvarint(len(mod)) + mod
    return MAGIC + bytes([ptr_size, 2]) + b"\0" * 16 + body


def pointer_buildinfo(version: str, modinfo: str, *, ptr_size: int,
                      big_endian: bool) -> Callable[[int], bytes]:
    """A Go < 1.18 `.go.buildinfo` section: two pointers to Go string headers (data, len)."""
    order = ">" if big_endian else "<"
    ptr = order + ("I" if ptr_size == 4 else "Q")
    mod = framed(modinfo)

    def layout(addr: int) -> bytes:
        head = 32
        vers_hdr = addr + head
        mod_hdr = vers_hdr + 2 * ptr_size
        vers_data = mod_hdr + 2 * ptr_size
        mod_data = vers_data + len(version)
        out = MAGIC + bytes([ptr_size, 1 if big_endian else 0])
        out += struct.pack(ptr, vers_hdr) + struct.pack(ptr, mod_hdr)
        out += b"\0" * (head - len(out))
        out += struct.pack(ptr, vers_data) + struct.pack(ptr, len(version))
        out += struct.pack(ptr, mod_data) + struct.pack(ptr, len(mod))
        return out + version.encode() + mod

    return layout


def pointer_buildinfo_size(version: str, modinfo: str, ptr_size: int) -> int:
    """The fixed length of `pointer_buildinfo`'s output."""
    return 32 + 4 * ptr_size + len(version) + len(framed(modinfo))
