"""Static checks that a regular expression cannot backtrack exponentially.

Python's `re` backtracks; a pattern like `(a+)+b` takes exponential time on a long run of
`a`. Rules from users (and gitleaks configurations) are checked on their parsed form before
they are accepted; a risky one is refused with a warning instead of stalling a scan.
"""

from __future__ import annotations

import re._parser as sre_parse  # the parsed form: (op, argument) pairs
from typing import Any

MAXREPEAT = sre_parse.MAXREPEAT
_REPEATS = ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT")


def backtracking_risk(items: list[tuple[Any, Any]]) -> str | None:
    """Why a parsed pattern could backtrack exponentially, or None when it cannot.

    The risk is an unbounded repeat of something that can itself match in many ways.

    `(a+)+` or `(\\w+\\s?)*` can split the same text between iterations in exponentially
    many ways; `(?:\\.\\d{1,2})+` cannot, because every iteration starts with a character
    (`.`) its inner repeat never matches, so such delimited repeats are allowed.
    """
    for op, arg in items:
        name = str(op)
        if name in _REPEATS:
            _lo, hi, sub = arg
            if hi >= MAXREPEAT and _has_variable_repeat(sub.data) and not _delimited(sub.data):
                return ("an unbounded repeat contains a variable repeat: this can backtrack "
                        "exponentially (bound the outer quantifier)")
            risk = backtracking_risk(sub.data)
        else:
            risk = next((r for sub in _children(op, arg) if (r := backtracking_risk(sub))), None)
        if risk:
            return risk
    return None


def _delimited(items: list[tuple[Any, Any]]) -> bool:
    """Whether a mandatory literal character of `items` is matched by none of its repeats."""
    literals = [arg for op, arg in items if str(op) == "LITERAL"]
    repeats = [arg[2].data for op, arg in items
               if str(op) in _REPEATS]
    return any(not any(_can_match(r, code) for r in repeats) for code in literals)


_CATEGORIES = {
    "CATEGORY_DIGIT": lambda c: 48 <= c <= 57,
    "CATEGORY_NOT_DIGIT": lambda c: not 48 <= c <= 57,
    "CATEGORY_SPACE": lambda c: c in b" \t\n\r\f\v",
    "CATEGORY_NOT_SPACE": lambda c: c not in b" \t\n\r\f\v",
    "CATEGORY_WORD": lambda c: chr(c).isalnum() or c == 95,
    "CATEGORY_NOT_WORD": lambda c: not (chr(c).isalnum() or c == 95),
}


def _can_match(items: list[tuple[Any, Any]], code: int) -> bool:
    """Could some part of `items` consume the character `code`? (Unsure means yes.)"""
    for op, arg in items:
        name = str(op)
        if name == "LITERAL" and arg == code or name == "NOT_LITERAL" and arg != code:
            return True
        if name == "ANY" and code != 10:
            return True
        if name == "IN" and _in_class(arg, code):
            return True
        if any(_can_match(sub, code) for sub in _children(op, arg)):
            return True
    return False


def _in_class(members: list[tuple[Any, Any]], code: int) -> bool:
    negate, hit = False, False
    for op, arg in members:
        name = str(op)
        if name == "NEGATE":
            negate = True
        elif name == "LITERAL":
            hit = hit or arg == code
        elif name == "RANGE":
            hit = hit or arg[0] <= code <= arg[1]
        elif name == "CATEGORY":
            hit = hit or _CATEGORIES.get(str(arg), lambda c: True)(code)
        else:
            hit = True  # unknown member: assume it matches
    return hit != negate


def _has_variable_repeat(items: list[tuple[Any, Any]]) -> bool:
    for op, arg in items:
        if str(op) in _REPEATS:
            lo, hi, _sub = arg
            if hi > lo:
                return True
        if any(_has_variable_repeat(sub) for sub in _children(op, arg)):
            return True
    return False


def _children(op: Any, arg: Any) -> list[list[tuple[Any, Any]]]:
    name = str(op)
    if name == "SUBPATTERN":
        return [arg[-1].data]
    if name == "BRANCH":
        return [p.data for p in arg[1]]
    if name in ("ASSERT", "ASSERT_NOT", "ATOMIC_GROUP"):
        sub = arg[-1] if isinstance(arg, tuple) else arg
        return [sub.data]
    if name in _REPEATS:
        return [arg[2].data]
    return []
