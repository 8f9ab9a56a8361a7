"""Alpine package versions (apk-tools 3): `digits{.digits}{letter}{_suffix{digits}}{~hash}{-rN}`.

Versions are read as a sequence of typed tokens — initial number, `.number`, one letter,
`_suffix[number]` (pre-release suffixes alpha < beta < pre < rc sort before the bare version,
post-release cvs < svn < git < hg < p after it), `~commit-hash` and `-rN` — and compared token
by token as apk-tools' apk_version_compare does:

* tokens of the same type compare by value: numbers numerically, except that a `.number`
  with a leading zero compares as a string (Gentoo's rule); letters, suffixes and hashes by
  their text or rank;
* where the types differ, a pre-release suffix is lower than anything, and otherwise the
  token type further along the grammar is lower; the end of the string counts as a type
  beyond all others, so `1.0_rc1` < `1.0` < `1.0-r1` < `1.0_p1` < `1.0.1`;
* a string that breaks the grammar stops at an INVALID token that sorts below everything but
  pre-release suffixes; two versions invalid at the same point compare equal from there on.

`is_valid` is apk-tools 3's validity check (the whole string parses to the end); `parse`
accepts invalid versions too, because apk compares them (advisory data does contain some), and
only refuses the empty string. One accommodation: digits right after the letter (`5.7.1p1`)
continue as a number, as apk-tools 2 (Alpine up to 3.22, and the secdb that OSV's Alpine
records come from) reads them; apk-tools 3 would stop there as invalid and call
`5.7.1p1-r0` = `5.7.1p1-r1`.
"""

from __future__ import annotations

from stackwarden.vulndb.versions.base import CachedScheme, InvalidVersion

# Token types in grammar order (apk-tools' enum PARTS).
INITIAL, DIGIT, LETTER, SUFFIX, SUFFIX_NO, HASH, REVISION, END, INVALID = range(9)

# Suffix ranks: pre-release ones below NONE (the bare version), post-release ones above.
_SUFFIXES = {"alpha": 1, "beta": 2, "pre": 3, "rc": 4, "cvs": 6, "svn": 7, "git": 8, "hg": 9,
             "p": 10}
_SUFFIX_NONE = 5

# Rank of a token when the two versions have different token types at the same position:
# apk returns LESS for the side whose type is further along the grammar (END and INVALID
# included), except that a pre-release suffix is LESS than anything. Same-type tokens compare
# by value, so a pre-release and a post-release suffix (both SUFFIX) order by suffix rank.
_PRE_RELEASE_RANK = -1
_RANK = {t: 8 - t for t in range(9)}  # INITIAL 8 ... INVALID 0
_HEX = frozenset("0123456789abcdef")
_END_KEY = (_RANK[END], 0)


def _digits(text: str, i: int) -> int:
    j = i
    while j < len(text) and "0" <= text[j] <= "9":
        j += 1
    return j


def tokenize(text: str, strict: bool = False) -> list[tuple[int, object]]:
    """The (type, value) tokens of an apk version, ending with END or INVALID.

    Not `strict`, digits right after the letter (`5.7.1p1`) continue as a number, as
    apk-tools 2 reads them; apk-tools 3 calls that invalid (see the module docstring).
    """
    tokens: list[tuple[int, object]] = []
    n = len(text)
    j = _digits(text, 0)
    if j == 0:
        return [(INVALID, None)]
    tokens.append((INITIAL, int(text[:j])))
    i, last = j, INITIAL
    while True:
        if i >= n:
            tokens.append((END, None))
            return tokens
        c = text[i]
        if "a" <= c <= "z" and last <= DIGIT:
            tokens.append((LETTER, c))
            i, last = i + 1, LETTER
        elif (c == "." and last <= DIGIT) or ("0" <= c <= "9" and (
                last in (INITIAL, DIGIT, SUFFIX) or (last == LETTER and not strict))):
            start = i + 1 if c == "." else i
            j = _digits(text, start)
            if j == start:
                break
            if last == SUFFIX:
                tokens.append((SUFFIX_NO, int(text[start:j])))
                last = SUFFIX_NO
            else:
                digits = text[start:j]
                # A leading zero makes apk compare the run as a string: such runs sort below
                # every number without one, and among themselves by text.
                value = (0, digits) if digits[0] == "0" else (1, int(digits))
                tokens.append((DIGIT, value))
                last = DIGIT
            i = j
        elif c == "_" and last <= SUFFIX_NO:
            j = i + 1
            while j < n and "a" <= text[j] <= "z":
                j += 1
            rank = _SUFFIXES.get(text[i + 1:j])
            if rank is None:
                break
            tokens.append((SUFFIX, rank))
            i, last = j, SUFFIX
        elif c == "~" and last < HASH:
            j = i + 1
            while j < n and text[j] in _HEX:
                j += 1
            if j == i + 1:
                break
            tokens.append((HASH, text[i + 1:j]))
            i, last = j, HASH
        elif c == "-" and last < REVISION and text.startswith("-r", i):
            j = _digits(text, i + 2)
            if j == i + 2:
                break
            tokens.append((REVISION, int(text[i + 2:j])))
            i, last = j, REVISION
        else:
            break
    tokens.append((INVALID, None))
    return tokens


def parse_apk(text: str) -> tuple[tuple, ...]:
    """The sort key of an apk version (a tuple of (rank, value) per token)."""
    if not text:
        raise ValueError("empty version")
    key = []
    for kind, value in tokenize(text):
        if kind == SUFFIX and value < _SUFFIX_NONE:  # type: ignore[operator]
            key.append((_PRE_RELEASE_RANK, value))
        elif kind in (END, INVALID):
            key.append((_RANK[kind], 0))
        else:
            key.append((_RANK[kind], value))
    return tuple(key)


def fuzzy_compare(a: str, b: str) -> int:
    """apk's fuzzy comparison (the `~` in `a~b` dependencies): `a` equals `b` when `b`'s
    tokens are a prefix of `a`'s (`3.6.9` ~ `3.6`); otherwise the normal comparison."""
    ka, kb = SCHEME.parse(a), SCHEME.parse(b)
    if kb[-1] == _END_KEY and ka[:len(kb) - 1] == kb[:-1]:
        return 0
    return (ka > kb) - (ka < kb)


def fuzzy_match(a: str, b: str) -> bool:
    """Whether `a` fuzzily matches `b` (apk's `~` operator)."""
    return fuzzy_compare(a, b) == 0


def is_valid_apk(text: str) -> bool:
    """apk-tools' own validity check: the whole string follows the version grammar."""
    return bool(text) and tokenize(text, strict=True)[-1][0] == END


class ApkScheme(CachedScheme):
    """apk versions; `is_valid` is apk's strict check although invalid versions still compare."""

    def is_valid(self, text: str) -> bool:
        """Whether apk-tools considers `text` a valid version."""
        return isinstance(text, str) and is_valid_apk(text)

    def parse_strict(self, text: str) -> tuple[tuple, ...]:
        """The sort key, raising InvalidVersion for versions apk calls invalid."""
        if not self.is_valid(text):
            raise InvalidVersion(text, self.name, "does not follow apk's version grammar")
        return self.parse(text)


SCHEME = ApkScheme("apk", parse_apk, "Alpine (and Wolfi/Chainguard) package versions (apk-tools)")
