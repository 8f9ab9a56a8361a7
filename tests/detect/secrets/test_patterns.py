"""Go/RE2 and Python patterns: translation for `re`, relaxation for Hyperscan, refusals."""

from __future__ import annotations

import re

import hyperscan
import pytest

from stackwarden.detect.secrets.patterns import PatternError, translate

TRANSLATIONS = [  # (pattern, dialect, python rendering)
    (r"\b(p8e-(?i)[a-z0-9]{32})\b", "go", r"\b(p8e-(?i:[a-z0-9]{32}))\b"),
    (r"a(?i)b|c", "go", r"a(?i:b)|(?i:c)"),  # flags reach later alternatives of the group
    (r"(?i)key(?-i:ABC)", "go", r"(?i)key(?-i:ABC)"),
    (r"pat[[:alnum:]]{14}\z", "go", r"pat[a-zA-Z0-9]{14}\Z"),
    (r"(?<name>ab)", "go", r"(?P<name>ab)"),
    (r"\x{60}", "go", r"\x60"),
    (r"\Qa.b\E", "go", r"(?:a\.b)"),
    (r"x{2,}y?", "python", r"x{2,}y?"),
]


@pytest.mark.parametrize(("pattern", "dialect", "python"), TRANSLATIONS)
def test_translation(pattern: str, dialect: str, python: str) -> None:
    assert translate(pattern, dialect=dialect).python == python


def test_mid_pattern_flags_keep_go_semantics() -> None:
    regex = re.compile(translate(r"x(?i)abc|def", dialect="go").python.encode())
    assert regex.fullmatch(b"xABC") and regex.fullmatch(b"DEF")
    assert not regex.fullmatch(b"XABC")


RELAXED = [  # exact pattern -> what Hyperscan gets (a superset of the matches)
    (r"(?i:[\w.\-]{0,40}?(?:pwd)[\w.]{0,20})=([a-z]{8,128})", r"(?i:(?:pwd)[\w.]{0,20})=([a-z]{8})"),
    (r"k:([A-Za-z0-9+/]{64,16384}={0,2})", r"k:([A-Za-z0-9+/]{64})"),
    (r"ops_[a-z]{250,2000}x", r"ops_[a-z]{250,}x"),
    (r"\b(AIza[\w\-]{35})(?:[^\w\-]|$)", r"\b(AIza[\w\-]{35})(?:[^\w\-]|$)"),
]


@pytest.mark.parametrize(("pattern", "hyper"), RELAXED)
def test_hyperscan_relaxation(pattern: str, hyper: str) -> None:
    translated = translate(pattern)
    assert translated.hyperscan == hyper
    db = hyperscan.Database()
    db.compile(expressions=[hyper.encode()], ids=[0], elements=1, flags=[0])


def test_width_is_known_for_bounded_patterns() -> None:
    assert translate(r"ghp_[A-Za-z0-9]{36}").max_width == 40
    assert translate(r"a.*b").max_width is None
    assert translate(r"x(?=y)").needs_prefilter


REFUSED = [
    (r"(a+)+b", "python", "backtrack"),
    (r"(?:x[a-z]{1,5})*y", "python", "backtrack"),
    (r"\p{Greek}", "go", "Unicode classes"),
    (r"x(?=y)", "go", "lookaround"),
    (r"(?U)a+", "go", "unsupported flag"),
    (r"[[:^alpha:]]", "go", "negated POSIX"),
    (r"(ab", "python", "missing"),
    (r"ab)", "python", "unbalanced"),
    (r"*a", "python", "follows nothing"),
    (r"a{5,2}", "python", "bad repeat"),
    (r"[é]", "python", "non-ASCII"),
]


@pytest.mark.parametrize(("pattern", "dialect", "reason"), REFUSED)
def test_refused_patterns(pattern: str, dialect: str, reason: str) -> None:
    with pytest.raises(PatternError, match=reason):
        translate(pattern, dialect=dialect)
