"""Rule patterns: one parser for Go/RE2 (gitleaks) and Python syntax, two renderings.

A rule's pattern is compiled twice: by Hyperscan (PCRE dialect, one database for every
rule, no capture groups) and by Python `re` on bytes (capture groups, exact confirmation).
Go and Python disagree on a few constructs (`(?i)` in the middle of a pattern, `\\z`, POSIX
classes, `(?<name>`), so patterns are parsed once into a small tree and rendered for each.

The Hyperscan rendering is a *relaxation*: it matches wherever the exact pattern matches
(and maybe elsewhere), which is all a candidate finder needs, because every candidate is
confirmed by the exact Python regex in a window as wide as the pattern's longest match.
Relaxing keeps compile time and database size down and avoids one report per byte:
repeats bounded above 64 become unbounded, an optional prefix at the start is dropped, and
a variable-length tail at the end is cut to its minimum length.
"""

from __future__ import annotations

import re
import re._parser as sre_parse  # widths
from dataclasses import dataclass, field
from typing import TypeGuard

from stackwarden.detect.secrets.safety import backtracking_risk

MAXREPEAT = sre_parse.MAXREPEAT
_HS_MAX_BOUND = 64  # larger upper bounds are relaxed to unbounded for Hyperscan

_POSIX = {
    "alnum": "a-zA-Z0-9", "alpha": "a-zA-Z", "ascii": "\\x00-\\x7f", "blank": " \\t",
    "cntrl": "\\x00-\\x1f\\x7f", "digit": "0-9", "graph": "!-~", "lower": "a-z",
    "print": " -~", "punct": "!-/:-@\\[-`{-~", "space": " \\t\\n\\r\\f\\v", "upper": "A-Z",
    "word": "a-zA-Z0-9_", "xdigit": "0-9A-Fa-f",
}
_FLAG_GROUP = re.compile(r"\(\?([a-zA-Z]*)(?:-([a-zA-Z]*))?([:)])")
_NAMED_GROUP = re.compile(r"\(\?P?<([A-Za-z_][A-Za-z0-9_]*)>")
_BOUNDS = {"go": re.compile(r"\{(\d+)(,(\d*))?\}"),
           "python": re.compile(r"\{(\d*)(,(\d*))?\}")}


class PatternError(ValueError):
    """A pattern uses a construct we cannot translate or run safely."""


class UnsafePattern(PatternError):
    """A pattern whose nested repeats could backtrack exponentially (the rule is refused)."""


@dataclass
class _Group:
    opener: str  # "(", "(?:", "(?i:", "(?P<name>", "(?=" … ("" for the whole pattern)
    alts: list[list[object]] = field(default_factory=lambda: [[]])
    lookaround: bool = False


@dataclass(frozen=True)
class _Flags:
    on: str
    off: str

    def scoped(self) -> str:
        return f"(?{self.on}-{self.off}:" if self.off else f"(?{self.on}:"


@dataclass
class _Quant:
    atom: object
    low: int
    high: int | None  # None: unbounded
    text: str  # the quantifier as written (with a lazy/possessive suffix)


@dataclass(frozen=True, slots=True)
class Translated:
    """A pattern rendered for Python `re` (bytes) and for Hyperscan."""

    python: str
    hyperscan: str
    needs_prefilter: bool  # uses constructs only Hyperscan's prefilter mode accepts
    max_width: int | None  # longest possible match in bytes; None when unbounded
    groups: int


def translate(pattern: str, *, dialect: str = "python", check_safety: bool = True) -> Translated:
    """Parse `pattern` ("go" for gitleaks/RE2 syntax, "python" for ours) and render both forms.

    Raises PatternError for what cannot be translated, and its subclass UnsafePattern (unless
    `check_safety` is false) for nested repeats that could backtrack exponentially.
    """
    if not pattern:
        raise PatternError("empty pattern")
    root = _Parser(pattern, dialect).parse()
    python = _render(root, python=True, top=True)
    try:
        compiled = re.compile(python.encode("utf-8"))
        parsed = sre_parse.parse(python)
    except re.error as exc:
        raise PatternError(f"invalid regular expression: {exc}") from None
    if check_safety:
        risk = backtracking_risk(parsed.data)
        if risk:
            raise UnsafePattern(risk)
    hi = parsed.getwidth()[1]
    wide = sum(len(c.encode()) - 1 for c in python if ord(c) > 127)  # UTF-8 literals
    width = None if hi >= MAXREPEAT else hi + wide
    needs_prefilter = _has_lookaround(root) or "(?P=" in python
    _relax_ends(root)
    hyper = _render(root, python=False, top=True) or python
    return Translated(python, hyper, needs_prefilter, width, compiled.groups)


class _Parser:
    def __init__(self, text: str, dialect: str) -> None:
        self.text, self.dialect, self.pos = text, dialect, 0

    def parse(self) -> _Group:
        root = _Group("")
        stack = [root]
        text = self.text
        while self.pos < len(text):
            char = text[self.pos]
            alt = stack[-1].alts[-1]
            if char == "\\":
                alt.append(self._escape(in_class=False))
            elif char == "[":
                alt.append(self._char_class())
            elif char == "(":
                node = self._open_group()
                if isinstance(node, _Group):
                    alt.append(node)
                    stack.append(node)
                elif node is not None:
                    alt.append(node)
            elif char == ")":
                if len(stack) == 1:
                    raise PatternError(f"unbalanced ')' at offset {self.pos}")
                stack.pop()
                self.pos += 1
            elif char == "|":
                stack[-1].alts.append([])
                self.pos += 1
            elif char in "*+?{" and self._quantifier(alt):
                pass
            else:
                alt.append(char)  # a non-ASCII literal is matched as its UTF-8 bytes
                self.pos += 1
        if len(stack) != 1:
            raise PatternError("missing ')'")
        return root

    def _quantifier(self, alt: list[object]) -> bool:
        """Attach a quantifier at self.pos to the previous atom; False if `{` is a literal."""
        text, start = self.text, self.pos
        char = text[start]
        if char == "{":
            bounds = _BOUNDS[self.dialect].match(text, start)
            if not bounds or bounds.group(0) == "{}" or bounds.group(0) == "{,}":
                return False
            low = int(bounds.group(1) or 0)
            high = low if bounds.group(2) is None else (
                int(bounds.group(3)) if bounds.group(3) else None)
            end = bounds.end()
        else:
            low, high = {"*": (0, None), "+": (1, None), "?": (0, 1)}[char]
            end = start + 1
        if end < len(text) and text[end] in "?+":
            end += 1  # lazy or possessive
        if not alt or isinstance(alt[-1], (_Flags, _Quant)):
            raise PatternError(f"quantifier {text[start:end]!r} at offset {start} follows "
                               "nothing it can repeat")
        if high is not None and high < low:
            raise PatternError(f"bad repeat {text[start:end]!r} at offset {start}")
        alt.append(_Quant(alt.pop(), low, high, text[start:end]))
        self.pos = end
        return True

    def _open_group(self) -> object:
        text, pos = self.text, self.pos
        if not text.startswith("(?", pos):
            self.pos += 1
            return _Group("(")
        if text.startswith("(?#", pos):
            end = text.find(")", pos)
            if end < 0:
                raise PatternError("unterminated comment group")
            self.pos = end + 1
            return None
        for opener in ("(?=", "(?!", "(?<=", "(?<!"):
            if text.startswith(opener, pos):
                if self.dialect == "go":
                    raise PatternError("lookaround assertions are not RE2 syntax")
                self.pos += len(opener)
                return _Group(opener, lookaround=True)
        named = _NAMED_GROUP.match(text, pos)
        if named:
            self.pos = named.end()
            return _Group(f"(?P<{named.group(1)}>")
        if text.startswith("(?P=", pos):
            end = text.find(")", pos)
            self.pos = end + 1
            return text[pos:end + 1]  # a back-reference; Hyperscan needs prefilter mode
        flags = _FLAG_GROUP.match(text, pos)
        if not flags:
            raise PatternError(f"unsupported group syntax at offset {pos}: {text[pos:pos + 6]!r}")
        on, off = flags.group(1), flags.group(2) or ""
        bad = set(on + off) - set("imsx" if self.dialect == "python" else "ims")
        if bad:
            raise PatternError(f"unsupported flag {''.join(sorted(bad))!r} at offset {pos}")
        self.pos = flags.end()
        if flags.group(3) == ":":
            return _Group(_Flags(on, off).scoped())
        return _Flags(on, off)

    def _escape(self, *, in_class: bool) -> str:
        text, pos = self.text, self.pos
        if pos + 1 >= len(text):
            raise PatternError("pattern ends with a backslash")
        nxt = text[pos + 1]
        self.pos += 2
        if nxt in "pP":
            raise PatternError(f"Unicode classes (\\{nxt}) are not supported")
        if nxt == "C":
            raise PatternError("\\C is not supported")
        if nxt == "Q":
            end = text.find("\\E", self.pos)
            end = len(text) if end < 0 else end
            literal = text[self.pos:end]
            self.pos = min(len(text), end + 2)
            return "(?:" + re.escape(literal) + ")"
        if nxt == "x" and self.pos < len(text) and text[self.pos] == "{":
            end = text.find("}", self.pos)
            value = int(text[self.pos + 1:end], 16)
            self.pos = end + 1
            if value > 0x7F:
                raise PatternError("non-ASCII \\x{…} escapes are not supported")
            return f"\\x{value:02x}"
        if nxt in "zZ":
            if in_class:
                raise PatternError(f"\\{nxt} inside a character class")
            return "\\z"  # rendered per dialect below
        return "\\" + nxt

    def _char_class(self) -> str:
        text = self.text
        start = self.pos
        self.pos += 1
        out = ["["]
        if self.pos < len(text) and text[self.pos] == "^":
            out.append("^")
            self.pos += 1
        if self.pos < len(text) and text[self.pos] == "]":
            out.append("\\]")
            self.pos += 1
        while True:
            if self.pos >= len(text):
                raise PatternError(f"unterminated character class at offset {start}")
            char = text[self.pos]
            if char == "]":
                self.pos += 1
                break
            if char == "\\":
                out.append(self._escape(in_class=True))
                continue
            if char == "[" and text.startswith("[:", self.pos):
                end = text.find(":]", self.pos + 2)
                name = text[self.pos + 2:end] if end > 0 else ""
                if name.startswith("^"):
                    raise PatternError(f"negated POSIX class [:{name}:] is not supported")
                if name not in _POSIX:
                    raise PatternError(f"unknown POSIX class [:{name}:]")
                out.append(_POSIX[name])
                self.pos = end + 2
                continue
            if char == "[":
                out.append("\\[")  # Python warns about possible nested sets
                self.pos += 1
                continue
            if ord(char) > 127:
                raise PatternError("non-ASCII character inside a character class")
            out.append(char)
            self.pos += 1
        out.append("]")
        return "".join(out)


def _render(group: _Group, *, python: bool, top: bool = False) -> str:
    parts: list[str] = []
    pending: list[_Flags] = []  # flags set in an earlier alternative of this group
    for index, alt in enumerate(group.alts):
        body = _render_alt(alt, python=python, top=top and index == 0)
        for flags in reversed(pending):
            body = f"{flags.scoped()}{body})"
        pending.extend(node for node in alt if isinstance(node, _Flags))
        parts.append(body)
    inner = "|".join(parts)
    return inner if top else f"{group.opener}{inner})"


def _render_alt(alt: list[object], *, python: bool, top: bool) -> str:
    out: list[str] = []
    for index, node in enumerate(alt):
        if isinstance(node, _Flags):
            if top and index == 0 and not node.off:
                out.append(f"(?{node.on})")  # leading global flags mean the same everywhere
                continue
            rest = _render_alt(alt[index + 1:], python=python, top=False)
            out.append(f"{node.scoped()}{rest})")
            break
        out.append(_render_node(node, python=python))
    return "".join(out)


def _render_node(node: object, *, python: bool) -> str:
    if isinstance(node, _Group):
        return _render(node, python=python)
    if isinstance(node, _Quant):
        atom = _render_node(node.atom, python=python)
        if python:
            return atom + node.text
        if node.high is not None and node.high <= _HS_MAX_BOUND:
            return atom + (f"{{{node.low}}}" if node.low == node.high
                           else f"{{{node.low},{node.high}}}")
        return atom + (f"{{{node.low},}}" if node.low > 1 else "*" if node.low == 0 else "+")
    if node == "\\z":
        return "\\Z" if python else "\\z"
    return str(node)


def _relax_ends(root: _Group) -> None:
    """Drop an optional prefix and cut a variable tail (Hyperscan only needs some match)."""
    if len(root.alts) == 1:
        _drop_prefix(root.alts[0])
        _cut_tail(root.alts[0])


def _plain(node: object) -> TypeGuard[_Group]:
    return isinstance(node, _Group) and len(node.alts) == 1 and not node.lookaround


def _drop_prefix(items: list[object]) -> None:
    while len(items) > 1 and isinstance(items[0], _Quant) and items[0].low == 0:
        items.pop(0)
    if items and _plain(items[0]):
        _drop_prefix(items[0].alts[0])


def _cut_tail(items: list[object]) -> None:
    while items:
        last = items[-1]
        if isinstance(last, _Quant) and last.low == 0 and len(items) > 1:
            items.pop()
            continue
        if isinstance(last, _Quant) and last.high != last.low:
            items[-1] = _Quant(last.atom, last.low, last.low, f"{{{last.low}}}")
        elif _plain(last):
            _cut_tail(last.alts[0])
        return


def _has_lookaround(group: _Group) -> bool:
    if group.lookaround:
        return True
    return any(_has_lookaround(n) for alt in group.alts for n in _nodes(alt))


def _nodes(alt: list[object]) -> list[_Group]:
    out = []
    for node in alt:
        while isinstance(node, _Quant):
            node = node.atom
        if isinstance(node, _Group):
            out.append(node)
    return out
