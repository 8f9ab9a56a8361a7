"""Compile one parsed Sigma value (pySigma's types, modifiers already applied) into a test.

A test takes one field value and says whether it matches. String comparisons are
case-insensitive, as Sigma specifies, except for `cased` strings and regular expressions.
Tests that compare against the same field are merged by `merge_string_tests` so a list of
twenty `endswith` values costs one `str.endswith(tuple)` call, not twenty.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sigma.types import (
    CompareOperators,
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SpecialChars,
)

ValueTest = Callable[[Any], bool]

_RE_FLAGS = {SigmaRegularExpressionFlag.IGNORECASE: re.IGNORECASE,
             SigmaRegularExpressionFlag.MULTILINE: re.MULTILINE,
             SigmaRegularExpressionFlag.DOTALL: re.DOTALL}
# PCRE's `(?<name>` is Python's `(?P<name>`; lookbehinds `(?<=` and `(?<!` stay as they are.
_PCRE_NAMED_GROUP = re.compile(r"\(\?<(?![=!])")


class UnsupportedValue(ValueError):
    """A value type the evaluator cannot test (the loader names the rule and field)."""


@dataclass(frozen=True, slots=True)
class StringPattern:
    """A Sigma string reduced to the cheapest test: equals, prefix, suffix, contains or glob."""

    kind: str  # "eq" | "prefix" | "suffix" | "contains" | "glob"
    text: str  # lower-cased unless cased; for "glob", the regular expression source
    cased: bool


def string_pattern(value: SigmaString, *, keyword: bool = False) -> StringPattern:
    """Classify a Sigma string; keywords (field-less values) are substring searches."""
    cased = isinstance(value, SigmaCasedString)
    parts = list(value.s)
    if keyword:  # a keyword matches anywhere in the event's text
        if not parts or parts[0] is not SpecialChars.WILDCARD_MULTI:
            parts.insert(0, SpecialChars.WILDCARD_MULTI)
        if parts[-1] is not SpecialChars.WILDCARD_MULTI:
            parts.append(SpecialChars.WILDCARD_MULTI)
    for part in parts:
        if not isinstance(part, (str, SpecialChars)):
            raise UnsupportedValue(f"unresolved placeholder {part!r}")
    lead = bool(parts) and parts[0] is SpecialChars.WILDCARD_MULTI
    trail = len(parts) > 1 and parts[-1] is SpecialChars.WILDCARD_MULTI
    middle = parts[1 if lead else 0: len(parts) - (1 if trail else 0)]
    if all(isinstance(p, str) for p in middle):
        text = "".join(middle)  # type: ignore[arg-type]
        text = text if cased else text.lower()
        kind = {(False, False): "eq", (False, True): "prefix", (True, False): "suffix",
                (True, True): "contains"}[(lead, trail)]
        return StringPattern(kind, text, cased)
    pieces: list[str] = []
    for part in parts:
        if part is SpecialChars.WILDCARD_MULTI:
            pieces.append(".*")
        elif part is SpecialChars.WILDCARD_SINGLE:
            pieces.append(".")
        else:
            text = str(part)
            pieces.append(re.escape(text if cased else text.lower()))
    return StringPattern("glob", "".join(pieces), cased)


def as_text(value: Any) -> str:
    """A field value as the text Sigma compares (booleans as `true`/`false`, like JSON)."""
    if value.__class__ is str:
        return value
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value)


def merge_string_tests(patterns: list[StringPattern]) -> ValueTest:
    """One test that is true when any of the patterns matches (lower-casing the value once)."""
    cased = [p for p in patterns if p.cased]
    lowered = [p for p in patterns if not p.cased]
    tests = [_group_test(lowered, str.lower)] if lowered else []
    if cased:
        tests.append(_group_test(cased, lambda s: s))
    if len(tests) == 1:
        return tests[0]
    first, second = tests
    return lambda v: first(v) or second(v)


def _group_test(patterns: list[StringPattern], fold: Callable[[str], str]) -> ValueTest:
    equal = frozenset(p.text for p in patterns if p.kind == "eq")
    prefixes = tuple(p.text for p in patterns if p.kind == "prefix")
    suffixes = tuple(p.text for p in patterns if p.kind == "suffix")
    needles = tuple(p.text for p in patterns if p.kind == "contains")
    globs = [re.compile(p.text, re.DOTALL) for p in patterns if p.kind == "glob"]
    if len(needles) == 1 and not (equal or prefixes or suffixes or globs):
        needle = needles[0]
        return lambda v: needle in fold(as_text(v))
    if not (needles or prefixes or suffixes or globs) and equal:
        return lambda v: fold(as_text(v)) in equal

    def test(v: Any) -> bool:
        s = fold(as_text(v))
        if s in equal:
            return True
        if prefixes and s.startswith(prefixes):
            return True
        if suffixes and s.endswith(suffixes):
            return True
        for needle in needles:
            if needle in s:
                return True
        for rx in globs:
            if rx.fullmatch(s):
                return True
        return False

    return test


def regex_test(value: SigmaRegularExpression) -> ValueTest:
    """Unanchored search, as Sigma's `re` modifier means (rules anchor with ^ and $)."""
    flags = 0
    for flag in value.flags:
        flags |= _RE_FLAGS[flag]
    source = _PCRE_NAMED_GROUP.sub("(?P<", str(value.regexp))
    try:
        search = re.compile(source, flags).search
    except re.error as exc:
        raise UnsupportedValue(f"regular expression {source!r} is invalid in Python: {exc}") from exc
    return lambda v: search(as_text(v)) is not None


def number(value: Any) -> float | None:
    """A field value as a number, or None."""
    if value.__class__ in (int, float):
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def number_test(value: SigmaNumber) -> ValueTest:
    """Equal as numbers, or equal as text (so `a1: 777` matches the argument `777`)."""
    wanted = value.number
    text = str(wanted)

    def test(v: Any) -> bool:
        if v.__class__ in (int, float):
            return bool(v == wanted)
        return as_text(v).strip() == text or number(v) == wanted

    return test


_COMPARE: dict[CompareOperators, Callable[[float, float], bool]] = {
    CompareOperators.LT: lambda a, b: a < b,
    CompareOperators.LTE: lambda a, b: a <= b,
    CompareOperators.GT: lambda a, b: a > b,
    CompareOperators.GTE: lambda a, b: a >= b,
}


def compare_test(value: SigmaCompareExpression) -> ValueTest:
    """lt/lte/gt/gte/neq against a number; a non-numeric field value never matches."""
    wanted = value.number.number
    if value.op == CompareOperators.NEQ:
        return lambda v: (n := number(v)) is not None and n != wanted
    op = _COMPARE[value.op]
    return lambda v: (n := number(v)) is not None and op(n, wanted)


def cidr_test(value: SigmaCIDRExpression) -> ValueTest:
    """An IP address inside the network; IPv4-mapped IPv6 addresses count as IPv4."""
    network = value.network

    def test(v: Any) -> bool:
        try:
            address = ipaddress.ip_address(as_text(v))
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return address.version == network.version and address in network

    return test


def bool_test(value: SigmaBool) -> ValueTest:
    """A boolean, or its text."""
    wanted = value.boolean
    text = "true" if wanted else "false"
    return lambda v: v is wanted or (v.__class__ is str and v.lower() == text)
