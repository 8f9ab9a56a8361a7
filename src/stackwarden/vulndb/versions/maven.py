"""Maven versions, ordered exactly as maven-artifact's ComparableVersion (Maven 3.8).

The version is lower-cased and split into items at `.`, at `-` and at every switch between
digits and letters. A `-`, a letter-to-digit or digit-to-letter switch, and a trailing
qualifier after `.` open a nested list, so `1-1` is `[1, [1]]` and `1.0-alpha-1` is
`[1, [alpha, [1]]]`. Numbers compare numerically; qualifiers by rank, alpha (`a` before a
digit) < beta (`b`) < milestone (`m`) < rc = cr < snapshot < "" = ga = final = release < sp <
unknown qualifiers (alphabetical); and across kinds qualifier < list < number. Trailing null
items (0, "", empty list) are dropped from each list, and a shorter list is padded with nulls,
against which a number 0 and the release qualifier are equal, `sp` is greater and alpha..
snapshot are smaller. So `1` = `1.0` = `1-ga`, `1-SNAPSHOT` < `1` < `1-sp` < `1.0.1`.

ComparableVersion is not a total order in contrived cases (a list and a number can each equal
the padding yet differ from each other), so the key is an object whose comparison is a port of
compareTo rather than a tuple. Every string is a Maven version; only the empty one is refused.
"""

from __future__ import annotations

from typing import Any, Union

from stackwarden.vulndb.versions.base import CachedScheme

_QUALIFIERS = ("alpha", "beta", "milestone", "rc", "snapshot", "", "sp")
_ALIASES = {"ga": "", "final": "", "release": "", "cr": "rc"}
_RELEASE = str(_QUALIFIERS.index(""))
_SHORT = {"a": "alpha", "b": "beta", "m": "milestone"}

# Items: int (a number), str (a qualifier, stored as Maven's comparable form), list (a list).
Item = Union[int, str, list]


def _qualifier(value: str, followed_by_digit: bool) -> str:
    if followed_by_digit and len(value) == 1:
        value = _SHORT.get(value, value)
    value = _ALIASES.get(value, value)
    if value in _QUALIFIERS:
        return str(_QUALIFIERS.index(value))
    return f"{len(_QUALIFIERS)}-{value}"


def _is_null(item: Item) -> bool:
    return item == 0 or item == _RELEASE or item == []


def _compare_item(a: Item, b: Item | None) -> int:
    """ComparableVersion's Item.compareTo: -1, 0 or 1 (b None is the padding null)."""
    if isinstance(a, int):
        if b is None:
            return 1 if a else 0
        if isinstance(b, int):
            return (a > b) - (a < b)
        return 1  # a number beats a qualifier and a list
    if isinstance(a, str):
        if b is None:
            return (a > _RELEASE) - (a < _RELEASE)
        if isinstance(b, str):
            return (a > b) - (a < b)
        return -1  # a qualifier loses to a number and to a list
    if b is None:
        for item in a:
            result = _compare_item(item, None)
            if result:
                return result
        return 0
    if isinstance(b, int):
        return -1
    if isinstance(b, str):
        return 1
    for i in range(max(len(a), len(b))):
        if i >= len(a):
            result = -_compare_item(b[i], None)
        else:
            result = _compare_item(a[i], b[i] if i < len(b) else None)
        if result:
            return result
    return 0


def _number(digits: str) -> int:
    return int(digits)


def _is_digit(c: str) -> bool:
    return c.isdecimal()  # Java's Character.isDigit: Unicode decimal digits


def _normalize(items: list) -> None:
    # Drop null items from the end, looking past (non-null) nested lists as Maven does.
    for i in range(len(items) - 1, -1, -1):
        if _is_null(items[i]):
            del items[i]
        elif not isinstance(items[i], list):
            break


def parse_items(text: str) -> list:
    """The nested item list ComparableVersion builds for `text`."""
    version = text.lower()
    items: list = []
    current = items
    stack = [items]
    is_digit = False
    start = 0

    def nest() -> None:
        nonlocal current
        child: list = []
        current.append(child)
        stack.append(child)
        current = child

    def item(digit: bool, value: str) -> Item:
        return _number(value) if digit else _qualifier(value, False)

    for i, c in enumerate(version):
        if c == ".":
            current.append(0 if i == start else item(is_digit, version[start:i]))
            start = i + 1
        elif c == "-":
            current.append(0 if i == start else item(is_digit, version[start:i]))
            start = i + 1
            nest()
        elif _is_digit(c):
            if not is_digit and i > start:
                if current:
                    nest()
                current.append(_qualifier(version[start:i], True))
                start = i
                nest()
            is_digit = True
        else:
            if is_digit and i > start:
                current.append(_number(version[start:i]))
                start = i
                nest()
            is_digit = False
    if len(version) > start:
        if not is_digit and current:
            nest()
        current.append(item(is_digit, version[start:]))
    for nested in reversed(stack):
        _normalize(nested)
    return items


class MavenKey:
    """A parsed Maven version; compares like ComparableVersion.compareTo."""

    __slots__ = ("items",)
    __hash__ = None  # type: ignore[assignment]  # equality is compareTo == 0, not structural

    def __init__(self, items: list) -> None:
        self.items = items

    def _cmp(self, other: Any) -> int:
        if not isinstance(other, MavenKey):
            return NotImplemented  # type: ignore[no-any-return]
        return _compare_item(self.items, other.items)

    def __lt__(self, other: Any) -> bool:
        return self._cmp(other) < 0

    def __le__(self, other: Any) -> bool:
        return self._cmp(other) <= 0

    def __gt__(self, other: Any) -> bool:
        return self._cmp(other) > 0

    def __ge__(self, other: Any) -> bool:
        return self._cmp(other) >= 0

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MavenKey) and self._cmp(other) == 0

    def __repr__(self) -> str:
        return f"MavenKey({self.items!r})"


def parse_maven(text: str) -> MavenKey:
    """The sort key of a Maven version."""
    if not text:
        raise ValueError("empty version")
    return MavenKey(parse_items(text))


class MavenScheme(CachedScheme):
    """Maven versions; `compare` calls compareTo once instead of twice."""

    def compare(self, a: str, b: str) -> int:
        """-1, 0 or 1 as ComparableVersion orders `a` and `b`."""
        return _compare_item(self.parse(a).items, self.parse(b).items)


SCHEME = MavenScheme("maven", parse_maven, "Maven versions (ComparableVersion)")
