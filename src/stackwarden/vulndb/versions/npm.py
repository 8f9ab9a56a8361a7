"""npm package versions, as node-semver parses and orders them (ranges are in npm_range.py).

Strict parsing (the default, what npm uses): `MAJOR.MINOR.PATCH[-pre][+build]` with an optional
leading `v`, surrounding whitespace trimmed, no leading zeros in numbers or numeric pre-release
identifiers, numbers at most 2^53 - 1, at most 256 characters. Loose parsing (node-semver's
`loose: true`) also accepts leading `=`/`v`/spaces, leading zeros, and a pre-release without
its `-` (`1.2.3beta`). Ordering is SemVer 2.0; build metadata is ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from stackwarden.vulndb.versions.base import CachedScheme, InvalidVersion
from stackwarden.vulndb.versions.semver import RELEASE

MAX_LENGTH = 256
MAX_SAFE_INTEGER = 2**53 - 1

# The pieces of node-semver's grammar, shared with npm_range.py.
# JavaScript's \s and \d (Python's are Unicode-wide; node-semver's are not).
JS_SPACE = " \t\n\v\f\r\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008" \
           "\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
WS = "[" + JS_SPACE + "]"
NUM = r"(?:0|[1-9][0-9]*)"
NUM_LOOSE = r"[0-9]+"
NON_NUMERIC = r"[0-9]*[a-zA-Z-][a-zA-Z0-9-]*"
PRE_ID = rf"(?:{NON_NUMERIC}|{NUM})"
PRE_ID_LOOSE = rf"(?:{NON_NUMERIC}|{NUM_LOOSE})"
PRERELEASE = rf"(?:-({PRE_ID}(?:\.{PRE_ID})*))"
PRERELEASE_LOOSE = rf"(?:-?({PRE_ID_LOOSE}(?:\.{PRE_ID_LOOSE})*))"
BUILD = r"(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))"
FULL_PLAIN = rf"v?({NUM})\.({NUM})\.({NUM}){PRERELEASE}?{BUILD}?"
LOOSE_PLAIN = (rf"[v={JS_SPACE}]*({NUM_LOOSE})\.({NUM_LOOSE})\.({NUM_LOOSE})"
               rf"{PRERELEASE_LOOSE}?{BUILD}?")
_FULL = re.compile(FULL_PLAIN)
_LOOSE = re.compile(LOOSE_PLAIN)


@dataclass(frozen=True, slots=True)
class NpmVersion:
    """A parsed node-semver version; `key` orders it (build metadata excluded)."""

    major: int
    minor: int
    patch: int
    prerelease: tuple[int | str, ...]
    build: tuple[str, ...]

    @property
    def key(self) -> tuple:
        """(major, minor, patch, pre-release key), ordered as node-semver compares."""
        return _key(self.major, self.minor, self.patch, self.prerelease)

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.prerelease:
            text += "-" + ".".join(str(p) for p in self.prerelease)
        return text


def _key(major: int, minor: int, patch: int, prerelease: tuple[int | str, ...]) -> tuple:
    if not prerelease:
        return (major, minor, patch, RELEASE)
    return (major, minor, patch,
            (0, *((0, p) if isinstance(p, int) else (1, p) for p in prerelease)))


@lru_cache(maxsize=65536)
def parse_npm_version(text: str, loose: bool = False) -> NpmVersion:
    """Parse like `new SemVer(text, {loose})`; ValueError when node-semver would throw."""
    if len(text) > MAX_LENGTH:
        raise ValueError(f"longer than {MAX_LENGTH} characters")
    match = (_LOOSE if loose else _FULL).fullmatch(text.strip(JS_SPACE))
    if match is None:
        raise ValueError("not a valid semver version")
    numbers = [int(match.group(i)) for i in (1, 2, 3)]
    if any(n > MAX_SAFE_INTEGER for n in numbers):
        raise ValueError("a version number is larger than 2^53 - 1")
    prerelease: tuple[int | str, ...] = ()
    if match.group(4):
        prerelease = tuple(
            int(p) if p.isdigit() and p.isascii() and int(p) < MAX_SAFE_INTEGER else p
            for p in match.group(4).split("."))
    build = tuple(match.group(5).split(".")) if match.group(5) else ()
    return NpmVersion(numbers[0], numbers[1], numbers[2], prerelease, build)


def parse_npm(text: str) -> tuple:
    """The sort key of a strictly parsed npm version."""
    return parse_npm_version(text).key


def compare_npm(a: str, b: str, loose: bool = False) -> int:
    """node-semver's `compare(a, b, loose)`: -1, 0 or 1; InvalidVersion for an invalid side."""
    keys = []
    for text in (a, b):
        try:
            keys.append(parse_npm_version(text, loose).key)
        except ValueError as exc:
            raise InvalidVersion(text, "npm", str(exc)) from None
    return (keys[0] > keys[1]) - (keys[0] < keys[1])


class NpmScheme(CachedScheme):
    """npm versions; `satisfies` checks a node-semver range."""

    def satisfies(self, version: str, range_text: str, *, include_prerelease: bool = False,
                  loose: bool = False) -> bool:
        """node-semver's `satisfies(version, range)`: False for an invalid version or range."""
        from stackwarden.vulndb.versions.npm_range import satisfies

        return satisfies(version, range_text, include_prerelease=include_prerelease,
                         loose=loose)


SCHEME = NpmScheme("npm", parse_npm, "npm package versions and ranges (node-semver)")
