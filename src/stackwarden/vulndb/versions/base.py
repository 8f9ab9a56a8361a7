"""The version-scheme interface: parse a version into a sort key, compare two versions.

A matcher compares one installed version with many advisory boundaries, so `parse` returns a
key that is compared with plain `<` / `==` (tuples of ints and strings, or packaging's
`Version`), and each scheme caches its parser: the same boundary strings recur constantly.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any, TypeVar

from stackwarden.core.errors import StackWardenError

K = TypeVar("K")

# Versions longer than this are refused: no real version is, and it bounds the work per parse.
MAX_VERSION_LENGTH = 256
PARSE_CACHE_SIZE = 65536


class InvalidVersion(StackWardenError):
    """A version string is not valid in the scheme it was parsed with."""

    def __init__(self, text: str, scheme: str, reason: str = "") -> None:
        self.text = text
        self.scheme = scheme
        self.reason = reason
        detail = f": {reason}" if reason else ""
        super().__init__(f"invalid {scheme} version {text!r}{detail}")


class UnknownEcosystem(StackWardenError):
    """No version scheme is known for an ecosystem name."""


class VersionScheme(ABC):
    """One ecosystem's version ordering: parse versions to keys and compare them."""

    name: str = ""
    description: str = ""

    @abstractmethod
    def parse(self, text: str) -> Any:
        """A key ordering like the scheme orders `text`; raise InvalidVersion if it is invalid."""

    def compare(self, a: str, b: str) -> int:
        """-1, 0 or 1 as version `a` sorts before, equal to or after version `b`."""
        ka, kb = self.parse(a), self.parse(b)
        return -1 if ka < kb else (1 if kb < ka else 0)

    def is_valid(self, text: str) -> bool:
        """Whether `text` parses in this scheme."""
        try:
            self.parse(text)
        except InvalidVersion:
            return False
        return True

    def sort(self, versions: Sequence[str]) -> list[str]:
        """`versions` in ascending order (stable for equal versions)."""
        return sorted(versions, key=self.parse)

    def __repr__(self) -> str:
        return f"<VersionScheme {self.name}>"


def cached_parser(scheme: str, parse: Callable[[str], K]) -> Callable[[str], K]:
    """Wrap a parse function: type and length checks, InvalidVersion naming `scheme`, an LRU cache.

    `parse` raises ValueError (with a reason) for invalid input; the wrapper turns it into
    InvalidVersion. Failures are cached too, so a bad boundary costs one parse per run.
    """

    @lru_cache(maxsize=PARSE_CACHE_SIZE)
    def checked(text: str) -> tuple[bool, Any]:
        # (True, key) or (False, reason): a fresh InvalidVersion is raised on every call, because
        # re-raising one cached exception object would grow its traceback each time.
        if len(text) > MAX_VERSION_LENGTH:
            return False, f"longer than {MAX_VERSION_LENGTH} characters"
        try:
            return True, parse(text)
        except ValueError as exc:
            return False, str(exc)

    def cached(text: str) -> K:
        if not isinstance(text, str):
            raise InvalidVersion(repr(text)[:80], scheme, "not a string")
        ok, value = checked(text)
        if not ok:
            shown = text if len(text) <= 80 else text[:80] + "…"
            raise InvalidVersion(shown, scheme, value)
        return value  # type: ignore[no-any-return]

    cached.cache_info = checked.cache_info  # type: ignore[attr-defined]
    cached.cache_clear = checked.cache_clear  # type: ignore[attr-defined]
    cached.uncached = parse  # type: ignore[attr-defined]
    cached.__doc__ = parse.__doc__
    return cached


class CachedScheme(VersionScheme):
    """A scheme whose `parse` is a module-level parse function wrapped by `cached_parser`."""

    def __init__(self, name: str, parse: Callable[[str], Any], description: str = "") -> None:
        self.name = name
        self.description = description
        self._parse = cached_parser(name, parse)

    def parse(self, text: str) -> Any:
        """The scheme's cached sort key for `text`."""
        return self._parse(text)

    def parse_uncached(self, text: str) -> Any:
        """The sort key computed afresh (benchmarks; raises ValueError, not InvalidVersion)."""
        return self._parse.uncached(text)  # type: ignore[attr-defined]
