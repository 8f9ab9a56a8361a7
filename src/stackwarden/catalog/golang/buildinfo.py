"""Read the build information the Go linker embeds in every binary (`go version -m`).

The blob starts with the 16-byte-aligned magic `\\xff Go buildinf:`, a pointer size and a flags
byte. Since Go 1.18 (flag bit 2) the Go version and the module information follow the 32-byte
header as varint-prefixed strings; before that the header holds two pointers to Go string
headers (runtime.buildVersion and runtime.modinfo). The search mirrors Go's debug/buildinfo:
the `.go.buildinfo` section, else the first writable non-executable loadable segment.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field

from stackwarden.catalog.elf import ElfFile
from stackwarden.core.errors import CatalogError

MAGIC = b"\xff Go buildinf:"
ALIGN = 16
HEADER = 32
SEARCH_CHUNK = 1024 * 1024
SEARCH_LIMIT = 64 * 1024 * 1024  # of a data segment, when no .go.buildinfo section names the spot
STRING_LIMIT = 16 * 1024 * 1024  # module info of the largest real binaries is a few hundred KiB
DEVEL = "(devel)"


@dataclass(frozen=True, slots=True)
class Module:
    """A module line of the build info (`mod`, `dep`) with its `=>` replacement."""

    path: str
    version: str = ""
    sum: str = ""
    replace: Module | None = None


@dataclass(frozen=True, slots=True)
class BuildInfo:
    """What `go version -m` prints for one binary."""

    go_version: str
    path: str = ""
    main: Module | None = None
    deps: tuple[Module, ...] = ()
    settings: tuple[tuple[str, str], ...] = field(default=())

    def setting(self, key: str) -> str | None:
        """The value of a `build` setting (e.g. `GOARCH`, `-ldflags`, `vcs.revision`)."""
        return next((v for k, v in self.settings if k == key), None)


def read_build_info(elf: ElfFile) -> BuildInfo | None:
    """The build info of a Go binary; None for an ELF file Go did not link.

    Raises CatalogError when the magic is there but what follows is damaged.
    """
    raw = read_raw_build_info(elf)
    if raw is None:
        return None
    version, modinfo = raw
    try:
        return parse_build_info(version, modinfo)
    except ValueError as exc:
        raise CatalogError(f"corrupt Go build info: {exc}", source=elf.source or None) from None


def read_raw_build_info(elf: ElfFile) -> tuple[str, str] | None:
    """The Go version and the framed-off module info text, or None when there is no magic."""
    if elf.sections and not elf.problems and elf.section(".go.buildinfo") is None:
        return None  # Go >= 1.13 always writes the section; only stripped headers lack it
    start, size = elf.data_start()
    if not size:
        return None
    addr = _search_magic(elf, start, min(size, SEARCH_LIMIT))
    if addr is None:
        return None
    header = elf.read_vaddr(addr, HEADER)
    if len(header) < HEADER:
        raise _corrupt(elf, "the header is cut short")
    ptr_size, flags = header[14], header[15]
    if flags & 2:
        version, after = _inline_string(elf, addr + HEADER)
        modinfo, _ = _inline_string(elf, after)
    else:
        if ptr_size not in (4, 8):
            raise _corrupt(elf, f"pointer size {ptr_size}")
        order = ">" if flags & 1 else "<"
        fmt = order + ("I" if ptr_size == 4 else "Q")
        version = _pointer_string(elf, ptr_size, fmt, struct.unpack_from(fmt, header, 16)[0])
        modinfo = _pointer_string(elf, ptr_size, fmt,
                                  struct.unpack_from(fmt, header, 16 + ptr_size)[0])
    if not version:
        raise _corrupt(elf, "the Go version string is empty or unreadable")
    # The module info is framed by 16-byte sentinels (cmd/go's infoStart/infoEnd).
    if len(modinfo) >= 33 and modinfo[-17] == "\n":
        modinfo = modinfo[16:-16]
    else:
        modinfo = ""
    return version, modinfo


def _corrupt(elf: ElfFile, why: str) -> CatalogError:
    return CatalogError(f"corrupt Go build info: {why}", source=elf.source or None)


def _search_magic(elf: ElfFile, start: int, size: int) -> int | None:
    pos = (start + ALIGN - 1) & ~(ALIGN - 1)
    end = start + size
    while pos < end:
        try:
            data = elf.read_vaddr(pos, min(SEARCH_CHUNK, end - pos))
        except CatalogError:
            if pos == (start + ALIGN - 1) & ~(ALIGN - 1):
                raise  # the very start is unmapped or truncated: say so
            return None
        if not data:
            return None
        index = data.find(MAGIC)
        while index >= 0:
            if (pos + index) % ALIGN == 0:
                return pos + index
            index = data.find(MAGIC, index + 1)
        if len(data) < ALIGN:
            return None
        pos += max(ALIGN, (len(data) - HEADER) & ~(ALIGN - 1))  # overlap: no magic is split
    return None


def _uvarint(data: bytes) -> tuple[int, int]:
    """Go's binary.Uvarint: (value, bytes used); used <= 0 when malformed."""
    value = shift = 0
    for i, byte in enumerate(data[:10]):
        if byte < 0x80:
            if i == 9 and byte > 1:
                return 0, -(i + 1)  # overflows 64 bits
            return value | byte << shift, i + 1
        value |= (byte & 0x7F) << shift
        shift += 7
    return 0, 0


def _inline_string(elf: ElfFile, addr: int) -> tuple[str, int]:
    prefix = elf.read_vaddr(addr, 10)
    length, used = _uvarint(prefix)
    if used <= 0:
        raise _corrupt(elf, f"bad varint length prefix at {addr:#x}")
    if length > STRING_LIMIT:
        raise _corrupt(elf, f"string length {length} at {addr:#x} is over the limit")
    data = elf.read_vaddr(addr + used, length) if length else b""
    if len(data) != length:
        raise _corrupt(elf, f"string of {length} bytes at {addr:#x} runs past its segment")
    return data.decode("utf-8", "replace"), addr + used + length


def _pointer_string(elf: ElfFile, ptr_size: int, fmt: str, addr: int) -> str:
    """A Go string whose header (data pointer, length) is at `addr` (pre-1.18 layout)."""
    try:
        header = elf.read_vaddr(addr, 2 * ptr_size)
        if len(header) < 2 * ptr_size:
            return ""
        data_addr = struct.unpack_from(fmt, header, 0)[0]
        length = struct.unpack_from(fmt, header, ptr_size)[0]
        if length > STRING_LIMIT:
            return ""
        data = elf.read_vaddr(data_addr, length) if length else b""
    except CatalogError:
        return ""
    return data.decode("utf-8", "replace") if len(data) == length else ""


def parse_build_info(go_version: str, text: str) -> BuildInfo:
    """Parse module info text the way Go's runtime/debug.ParseBuildInfo does."""
    path = ""
    main: Module | None = None
    deps: list[Module] = []
    settings: list[tuple[str, str]] = []
    last: str | None = None  # "main" or "dep": which module a `=>` line replaces
    lines = text.split("\n")
    for number, line in enumerate(lines[:-1], start=1):  # the text ends with a newline
        where = f"line {number}"
        if line.startswith("path\t"):
            path = line[5:]
        elif line.startswith("mod\t"):
            main, last = _module(line[4:], where), "main"
        elif line.startswith("dep\t"):
            deps.append(_module(line[4:], where))
            last = "dep"
        elif line.startswith("=>\t"):
            cols = line[3:].split("\t")
            if len(cols) != 3:
                raise ValueError(f"{where}: expected 3 columns for a replacement, got {len(cols)}")
            replacement = Module(cols[0], cols[1], cols[2])
            if last == "dep":
                deps[-1] = Module(deps[-1].path, deps[-1].version, deps[-1].sum, replacement)
            elif last == "main" and main is not None:
                main = Module(main.path, main.version, main.sum, replacement)
            else:
                raise ValueError(f"{where}: replacement with no module on the previous line")
            last = None
        elif line.startswith("build\t"):
            settings.append(_setting(line[6:], where))
    return BuildInfo(go_version, path, main, tuple(deps), tuple(settings))


def _module(rest: str, where: str) -> Module:
    cols = rest.split("\t")
    if len(cols) not in (2, 3):
        raise ValueError(f"{where}: expected 2 or 3 columns, got {len(cols)}")
    return Module(cols[0], cols[1], cols[2] if len(cols) == 3 else "")


_NEEDS_QUOTES_KEY = re.compile(r'[= \t\r\n"`]')
_NEEDS_QUOTES_VALUE = re.compile(r'[ \t\r\n"`]')


def _setting(kv: str, where: str) -> tuple[str, str]:
    if not kv:
        raise ValueError(f"{where}: build line missing '='")
    if kv[0] == "=":
        raise ValueError(f"{where}: build line with missing key")
    if kv[0] in "`\"":
        raw_key = quoted_prefix(kv)
        if raw_key is None:
            raise ValueError(f"{where}: invalid quoted key in build line")
        if kv[len(raw_key):len(raw_key) + 1] != "=":
            raise ValueError(f"{where}: build line missing '=' after quoted key")
        key, raw_value = go_unquote(raw_key), kv[len(raw_key) + 1:]
    else:
        key, eq, raw_value = kv.partition("=")
        if not eq:
            raise ValueError(f"{where}: build line missing '=' after key")
        if _NEEDS_QUOTES_KEY.search(key):
            raise ValueError(f"{where}: unquoted key {key!r} must be quoted")
    if raw_value[:1] in ("`", '"'):
        return key, go_unquote(raw_value)
    if _NEEDS_QUOTES_VALUE.search(raw_value):
        raise ValueError(f"{where}: unquoted value {raw_value!r} must be quoted")
    return key, raw_value


_ESCAPE = re.compile(r'\\(?:x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{3}|[abfnrtv\\"])')
_SIMPLE = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
           "\\": "\\", '"': '"'}


def quoted_prefix(text: str) -> str | None:
    """The Go-quoted string at the start of `text` (strconv.QuotedPrefix), or None."""
    if text.startswith("`"):
        end = text.find("`", 1)
        return text[:end + 1] if end > 0 else None
    match = re.match(r'"(?:[^"\\\n]|\\.)*"', text)
    return match.group(0) if match else None


def go_unquote(text: str) -> str:
    """Go's strconv.Unquote for "interpreted" and `raw` strings; ValueError when invalid."""
    if len(text) >= 2 and text[0] == text[-1] == "`" and "`" not in text[1:-1]:
        return text[1:-1].replace("\r", "")
    if len(text) < 2 or text[0] != '"' or text[-1] != '"':
        raise ValueError(f"invalid quoted string {text[:40]!r}")
    body = text[1:-1]
    if "\n" in body or _ESCAPE.sub("", body).count("\\") or '"' in _ESCAPE.sub("", body):
        raise ValueError(f"invalid quoted string {text[:40]!r}")

    def unescape(match: re.Match[str]) -> str:
        esc = match.group(0)[1:]
        if esc[0] in _SIMPLE:
            return _SIMPLE[esc[0]]
        return chr(int(esc[1:], 16)) if esc[0] in "xuU" else chr(int(esc, 8))

    return _ESCAPE.sub(unescape, body)
