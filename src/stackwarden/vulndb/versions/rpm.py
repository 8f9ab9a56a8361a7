"""RPM versions: `[epoch:]version[-release]`, compared like rpm's rpmvercmp and rpmverCmp.

rpmvercmp walks both strings segment by segment: separators (anything but ASCII letters,
digits, `~` and `^`) are skipped, `~` sorts before everything (even the end of the string),
`^` sorts after the end of the string but before any further segment, digit runs compare as
numbers and beat letter runs, letter runs compare as bytes. Position by position the order is
therefore `~` < end < `^` < letters < digits, which the key below encodes as a tuple of tokens
ending with an explicit end token.

**Missing epoch.** A version without an epoch (`1.2-3`) and the same version with epoch 0
(`0:1.2-3`) compare EQUAL. That is what rpm itself does (rpmverCmp substitutes "0" for a missing
epoch, and rpm's own header comparison says "missing epoch becomes zero here, which is what we
want"), what dnf/libsolv do, and what OSV and osv-scalibr assume for the Red Hat, Rocky, Alma
and SUSE ecosystems, whose advisories write `0:` inconsistently: treating a missing epoch as
lower than 0 would report every installed package without an Epoch tag as vulnerable to an
advisory fixed in `0:` the same version. The state is still explicit: `parse_evr` returns
`Evr.epoch` as None when the text had no epoch, for display and for callers that must know.

**Missing release.** As in rpmverCmp (rpm >= 4.16), a version without release sorts before the
same version with any release (`1.0` < `1.0-1`, and `1.0` < `1.0-`).

Like rpm, only an all-digit prefix before the first `:` is an epoch (`a:1` is version "a:1").
Rejected as invalid: the empty string, whitespace or control characters, an empty version part.
"""

from __future__ import annotations

from dataclasses import dataclass

from stackwarden.vulndb.versions.base import CachedScheme

_TILDE, _END, _CARET, _ALPHA, _NUM = 0, 1, 2, 3, 4
_END_TOKEN = (_END,)


@dataclass(frozen=True, slots=True)
class Evr:
    """An RPM version: epoch (None when absent), version, release (None when absent)."""

    epoch: int | None
    version: str
    release: str | None

    def __str__(self) -> str:
        epoch = "" if self.epoch is None else f"{self.epoch}:"
        release = "" if self.release is None else f"-{self.release}"
        return f"{epoch}{self.version}{release}"


def rpmvercmp_key(text: str) -> tuple[tuple, ...]:
    """A tuple key for one version or release string, ordered exactly as rpmvercmp."""
    tokens: list[tuple] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "~":
            tokens.append((_TILDE,))
            i += 1
        elif c == "^":
            tokens.append((_CARET,))
            i += 1
        elif "0" <= c <= "9":
            j = i + 1
            while j < n and "0" <= text[j] <= "9":
                j += 1
            tokens.append((_NUM, int(text[i:j])))
            i = j
        elif ("a" <= c <= "z") or ("A" <= c <= "Z"):
            j = i + 1
            while j < n and (("a" <= text[j] <= "z") or ("A" <= text[j] <= "Z")):
                j += 1
            tokens.append((_ALPHA, text[i:j]))
            i = j
        else:
            i += 1  # a separator: only ends the current segment
    tokens.append(_END_TOKEN)
    return tuple(tokens)


def parse_evr(text: str) -> Evr:
    """Split an RPM EVR string the way rpm does; ValueError when it cannot be a version."""
    if not text or any(c.isspace() or not c.isprintable() for c in text):
        raise ValueError("empty, or contains whitespace or control characters")
    digits = 0
    while digits < len(text) and "0" <= text[digits] <= "9":
        digits += 1
    epoch: int | None = None
    rest = text
    if digits < len(text) and text[digits] == ":":
        epoch = int(text[:digits]) if digits else 0  # rpm reads ":1" as epoch 0
        rest = text[digits + 1:]
    release: str | None = None
    hyphen = rest.rfind("-")
    if hyphen >= 0:
        rest, release = rest[:hyphen], rest[hyphen + 1:]
    if not rest:
        raise ValueError("the version part is empty")
    return Evr(epoch, rest, release)


def parse_rpm(text: str) -> tuple[int, tuple, tuple]:
    """The sort key of an RPM EVR: (epoch or 0, version key, release key or () when absent)."""
    evr = parse_evr(text)
    release = () if evr.release is None else rpmvercmp_key(evr.release)
    return (evr.epoch or 0), rpmvercmp_key(evr.version), release


SCHEME = CachedScheme("rpm", parse_rpm, "RPM package versions (Red Hat, Rocky, Alma, SUSE)")
