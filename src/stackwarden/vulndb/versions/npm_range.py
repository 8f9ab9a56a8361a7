"""node-semver ranges: `satisfies(version, range)` as npm evaluates dependency ranges.

A range is `||`-separated sets of space-separated comparators. Each comparator is desugared as
node-semver does: hyphen ranges (`1.2 - 3` -> `>=1.2.0 <4.0.0-0`), carets (`^0.2.3` ->
`>=0.2.3 <0.3.0-0`), tildes (`~1.2` -> `>=1.2.0 <1.3.0-0`), x-ranges (`1.x`, `*`, `2.3`),
partial comparators (`>1.2` -> `>=1.3.0`); build metadata is dropped. A version satisfies a
set when it passes every comparator and, unless `include_prerelease`, when it is not a
pre-release or some comparator of the set names a pre-release of the same major.minor.patch.
An invalid range or version satisfies nothing (node-semver returns false rather than throw).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from stackwarden.vulndb.versions.npm import (
    BUILD,
    FULL_PLAIN,
    JS_SPACE,
    LOOSE_PLAIN,
    NUM,
    NUM_LOOSE,
    PRE_ID,
    PRE_ID_LOOSE,
    WS,
    NpmVersion,
    parse_npm_version,
)


def _xrange_plain(name: str, loose: bool) -> str:
    """node-semver's XRANGEPLAIN(LOOSE), with named groups M, m, p, pr prefixed by `name`."""
    ident = rf"{NUM_LOOSE if loose else NUM}|x|X|\*"
    pre_id = PRE_ID_LOOSE if loose else PRE_ID
    pre = rf"(?:{'-?' if loose else '-'}(?P<{name}pr>{pre_id}(?:\.{pre_id})*))"
    return (rf"[v={JS_SPACE}]*(?P<{name}M>{ident})(?:\.(?P<{name}m>{ident})"
            rf"(?:\.(?P<{name}p>{ident}){pre}?{BUILD}?)?)?")


def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


_GTLT = r"(?P<op>(?:<|>)?=?)"
_PATTERNS = {}
for _loose in (False, True):
    _PATTERNS[_loose] = {
        "hyphen": _compile(rf"^{WS}*(?P<from>{_xrange_plain('f', _loose)}){WS}+-{WS}+"
                           rf"(?P<to>{_xrange_plain('t', _loose)}){WS}*$"),
        "xrange": _compile(rf"^{_GTLT}{WS}*{_xrange_plain('', _loose)}$"),
        "tilde": _compile(rf"^(?:~>?){_xrange_plain('', _loose)}$"),
        "caret": _compile(rf"^(?:\^){_xrange_plain('', _loose)}$"),
        "comparator": _compile(
            rf"^(?P<op>(?:<|>)?=?){WS}*(?P<v>{LOOSE_PLAIN if _loose else FULL_PLAIN})$|^$"),
    }
_COMPARATOR_TRIM = _compile(
    rf"(?P<sp>{WS}?)(?P<op>(?:<|>)?=?){WS}?(?P<v>{LOOSE_PLAIN}|{_xrange_plain('x', False)})")
_TILDE_TRIM = _compile(rf"({WS}*)(?:~>?){WS}+")
_CARET_TRIM = _compile(rf"({WS}*)\^{WS}+")
_BUILD_STRIP = _compile(BUILD)
_STAR = _compile(rf"(<|>)?=?{WS}*\*")
_GTE0 = _compile(rf"^{WS}*>={WS}*0\.0\.0{WS}*$")
_GTE0_PRE = _compile(rf"^{WS}*>={WS}*0\.0\.0-0{WS}*$")
_SPACES = _compile(rf"{WS}+")
_NULL_SET = "<0.0.0-0"


def _is_x(part: str | None) -> bool:
    return not part or part.lower() == "x" or part == "*"


def _js_trim(text: str) -> str:
    return text.strip(JS_SPACE)


def _split_ws(text: str) -> list[str]:
    return _SPACES.split(text)


def _hyphen(match: re.Match[str], include_prerelease: bool) -> str:
    z = "-0" if include_prerelease else ""
    fM, fm, fp, fpr = match["fM"], match["fm"], match["fp"], match["fpr"]
    tM, tm, tp, tpr = match["tM"], match["tm"], match["tp"], match["tpr"]
    if _is_x(fM):
        low = ""
    elif _is_x(fm):
        low = f">={fM}.0.0{z}"
    elif _is_x(fp):
        low = f">={fM}.{fm}.0{z}"
    elif fpr:
        low = f">={match['from']}"
    else:
        low = f">={match['from']}{z}"
    if _is_x(tM):
        high = ""
    elif _is_x(tm):
        high = f"<{int(tM) + 1}.0.0-0"
    elif _is_x(tp):
        high = f"<{tM}.{int(tm) + 1}.0-0"
    elif tpr:
        high = f"<={tM}.{tm}.{tp}-{tpr}"
    elif include_prerelease:
        high = f"<{tM}.{tm}.{int(tp) + 1}-0"
    else:
        high = f"<={match['to']}"
    return _js_trim(f"{low} {high}")


def _caret(comp: str, loose: bool, include_prerelease: bool) -> str:
    match = _PATTERNS[loose]["caret"].match(comp)
    if not match:
        return comp
    z = "-0" if include_prerelease else ""
    M, m, p, pr = match["M"], match["m"], match["p"], match["pr"]
    if _is_x(M):
        return ""
    if _is_x(m):
        return f">={M}.0.0{z} <{int(M) + 1}.0.0-0"
    if _is_x(p):
        if M == "0":
            return f">={M}.{m}.0{z} <{M}.{int(m) + 1}.0-0"
        return f">={M}.{m}.0{z} <{int(M) + 1}.0.0-0"
    low = f">={M}.{m}.{p}-{pr}" if pr else f">={M}.{m}.{p}"
    if M == "0":
        if m == "0":
            return f"{low} <{M}.{m}.{int(p) + 1}-0"
        return f"{low} <{M}.{int(m) + 1}.0-0"
    return f"{low} <{int(M) + 1}.0.0-0"


def _tilde(comp: str, loose: bool, include_prerelease: bool) -> str:
    match = _PATTERNS[loose]["tilde"].match(comp)
    if not match:
        return comp
    z = "-0" if include_prerelease else ""
    M, m, p, pr = match["M"], match["m"], match["p"], match["pr"]
    if _is_x(M):
        return ""
    if _is_x(m):
        return f">={M}.0.0{z} <{int(M) + 1}.0.0-0"
    if _is_x(p):
        return f">={M}.{m}.0{z} <{M}.{int(m) + 1}.0-0"
    if pr:
        return f">={M}.{m}.{p}-{pr} <{M}.{int(m) + 1}.0-0"
    return f">={M}.{m}.{p} <{M}.{int(m) + 1}.0-0"


def _xrange(comp: str, loose: bool, include_prerelease: bool) -> str:
    comp = _js_trim(comp)
    match = _PATTERNS[loose]["xrange"].match(comp)
    if not match:
        return comp
    op, M, m, p = match["op"], match["M"], match["m"], match["p"]
    if (_is_x(M) and not _is_x(m)) or (_is_x(m) and p and not _is_x(p)):
        return comp  # `1.x.5`, `x.1`: not a range; the comparator check rejects it
    x_major = _is_x(M)
    x_minor = x_major or _is_x(m)
    any_x = x_minor or _is_x(p)
    if op == "=" and any_x:
        op = ""
    pr = "-0" if include_prerelease else ""
    if x_major:
        return _NULL_SET if op in (">", "<") else "*"
    if op and any_x:
        major, minor = int(M), 0 if x_minor else int(m)
        if op == ">":
            op = ">="
            if x_minor:
                major, minor = major + 1, 0
            else:
                minor += 1
        elif op == "<=":
            op = "<"
            if x_minor:
                major += 1
            else:
                minor += 1
        if op == "<":
            pr = "-0"
        return f"{op}{major}.{minor}.0{pr}"
    if x_minor:
        return f">={M}.0.0{pr} <{int(M) + 1}.0.0-0"
    if any_x:
        return f">={M}.{m}.0{pr} <{M}.{int(m) + 1}.0-0"
    return match.group(0)


def _desugar(comp: str, loose: bool, include_prerelease: bool) -> str:
    comp = _BUILD_STRIP.sub("", comp, count=1)
    comp = " ".join(_caret(c, loose, include_prerelease) for c in _split_ws(_js_trim(comp)))
    comp = " ".join(_tilde(c, loose, include_prerelease) for c in _split_ws(_js_trim(comp)))
    comp = " ".join(_xrange(c, loose, include_prerelease) for c in _split_ws(comp))
    return _STAR.sub("", _js_trim(comp), count=1)


@dataclass(frozen=True, slots=True)
class Comparator:
    """One desugared comparator: an operator ('', '<', '<=', '>', '>=') and a version."""

    operator: str
    version: NpmVersion | None  # None: matches any version

    @property
    def value(self) -> str:
        """node-semver's canonical text of the comparator ('' for any)."""
        return "" if self.version is None else f"{self.operator}{self.version}"

    def test(self, version: NpmVersion) -> bool:
        """Whether `version` passes this comparator."""
        if self.version is None:
            return True
        a, b = version.key, self.version.key
        return {"": a == b, "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[self.operator]


def _comparator(text: str, loose: bool) -> Comparator:
    text = " ".join(_split_ws(_js_trim(text)))
    match = _PATTERNS[loose]["comparator"].match(text)
    if not match:
        raise ValueError(f"invalid comparator {text!r}")
    operator = match["op"] or ""
    if operator == "=":
        operator = ""
    if not match["v"]:
        return Comparator(operator, None)
    return Comparator(operator, parse_npm_version(match["v"], loose))


def _parse_set(text: str, loose: bool, include_prerelease: bool) -> list[Comparator]:
    text = _BUILD_STRIP.sub("", text)
    hyphen = _PATTERNS[loose]["hyphen"]
    text = hyphen.sub(lambda m: _hyphen(m, include_prerelease), text, count=1)
    text = _COMPARATOR_TRIM.sub(lambda m: m["sp"] + m["op"] + m["v"], text)
    text = _TILDE_TRIM.sub(lambda m: m.group(1) + "~", text)
    text = _CARET_TRIM.sub(lambda m: m.group(1) + "^", text)
    parts = " ".join(_desugar(c, loose, include_prerelease) for c in text.split(" "))
    gte0 = _GTE0_PRE if include_prerelease else _GTE0
    comps = [gte0.sub("", _js_trim(c), count=1) for c in _split_ws(parts)]
    if loose:
        comps = [c for c in comps if _PATTERNS[True]["comparator"].match(c)]
    result: dict[str, Comparator] = {}
    # Every comparator is parsed (and may be invalid) before a null set short-cuts the rest.
    for comp in [_comparator(c, loose) for c in comps]:
        if comp.value == _NULL_SET:
            return [comp]
        result[comp.value] = comp
    if len(result) > 1:
        result.pop("", None)
    return list(result.values())


@lru_cache(maxsize=16384)
def parse_range(text: str, loose: bool = False,
                include_prerelease: bool = False) -> tuple[tuple[Comparator, ...], ...]:
    """The comparator sets of a node-semver range; ValueError when the range is invalid."""
    raw = _SPACES.sub(" ", _js_trim(text))
    sets = [s for s in (_parse_set(_js_trim(part), loose, include_prerelease)
                        for part in raw.split("||")) if s]
    if not sets:
        raise ValueError(f"invalid range {text!r}")
    if len(sets) > 1:
        first = sets[0]
        sets = [s for s in sets if s[0].value != _NULL_SET] or [first]
        for s in sets:
            if len(s) == 1 and s[0].value == "":
                sets = [s]
                break
    return tuple(tuple(s) for s in sets)


def format_range(sets: tuple[tuple[Comparator, ...], ...]) -> str:
    """node-semver's canonical `Range.range` text ('' for any version)."""
    return "||".join(" ".join(c.value for c in s) for s in sets)


def _test_set(comparators: tuple[Comparator, ...], version: NpmVersion,
              include_prerelease: bool) -> bool:
    if not all(c.test(version) for c in comparators):
        return False
    if version.prerelease and not include_prerelease:
        # A pre-release only matches a set that names a pre-release of the same x.y.z.
        return any(c.version is not None and c.version.prerelease
                   and (c.version.major, c.version.minor, c.version.patch)
                   == (version.major, version.minor, version.patch)
                   for c in comparators)
    return True


def satisfies(version: str, range_text: str, *, include_prerelease: bool = False,
              loose: bool = False) -> bool:
    """Whether `version` is in the node-semver range `range_text` (False when either is invalid)."""
    if not isinstance(version, str) or not isinstance(range_text, str) or not version:
        return False
    try:
        sets = parse_range(range_text, loose, include_prerelease)
        parsed = parse_npm_version(version, loose)
    except ValueError:
        return False
    return any(_test_set(s, parsed, include_prerelease) for s in sets)
