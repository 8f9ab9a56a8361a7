"""PHP/Composer package versions (Packagist), ordered as PHP's version_compare().

The version is canonicalised like version_compare does — `-`, `_`, `+` and any other
non-alphanumeric character become `.` (runs collapse to one), and a `.` is inserted wherever
digits meet letters (`1.0rc1` -> `1.0.rc.1`) — after dropping a leading `v`/`V`, as Composer
does. Parts compare pairwise: numbers numerically; words by stability rank: anything unknown <
`dev` < `alpha` = `a` < `beta` = `b` < `RC` = `rc` < (a number) < `pl` = `p`, matched by prefix
as PHP does (`patch` ranks as `p`; `b1` splits into `b.1`). Composer's `stable` is
the release itself: Composer's normaliser drops the `stable` suffix (`1.0-stable` = `1.0`, so
dev < alpha < beta < RC < stable < patch). When one version has parts left, a next numeric part makes it
greater (`1.0` > `1`), and otherwise its next word is ranked against a number.

Digits compare as big integers where PHP's strtol would saturate, so `999...1 < 999...9` holds.
Two deliberate departures keep the order total (PHP's is not): every non-alphanumeric character
is a separator (PHP keeps one right after a digit, e.g. `1#`, as a word equal to any number), and
a version ending in a separator compares equal to itself (PHP says `1.` < `1.`).
"""

from __future__ import annotations

from stackwarden.vulndb.versions.base import CachedScheme

# PHP's special forms, matched by prefix in this order; "#" is a number's rank.
_FORMS = (("dev", 0), ("alpha", 1), ("a", 1), ("beta", 2), ("b", 2), ("RC", 3), ("rc", 3),
          ("#", 4), ("pl", 5), ("p", 5))
_NUMBER_RANK = 4


def _form_rank(word: str) -> int:
    for prefix, rank in _FORMS:
        if word.startswith(prefix):
            return rank
    return -1


def canonicalize(version: str) -> str:
    """PHP's php_canonicalize_version(), except that every non-alphanumeric is a separator."""
    if not version:
        return version
    out = [version[0]]
    previous = version[0]
    for c in version[1:]:
        digit = "0" <= c <= "9"
        if not (digit or ("a" <= c <= "z") or ("A" <= c <= "Z")):
            if out[-1] != ".":
                out.append(".")
        else:
            if previous != "." and digit != ("0" <= previous <= "9") and out[-1] != ".":
                out.append(".")
            out.append(c)
        previous = c
    return "".join(out)


# Where one version runs out of parts, PHP compares the next part of the other with a bare
# number "#N#": any number wins (even 0: `1.0` > `1`), a word wins or loses by its rank. So the
# end of a version sorts between words ranked below a number and numbers.
_END = (_NUMBER_RANK, -1)


def parse_composer(text: str) -> tuple:
    """The sort key of a PHP version: one (rank, number) per part, then the end marker."""
    version = text.strip()
    if version[:1] in ("v", "V"):
        version = version[1:]
    if not version:
        raise ValueError("empty version")
    key = []
    for part in canonicalize(version).split("."):
        if part.lower() == "stable":
            continue  # Composer's normaliser drops it: `1.0-stable` is `1.0`
        if part and "0" <= part[0] <= "9":
            key.append((_NUMBER_RANK, int(part)))
        else:
            key.append((_form_rank(part), 0))  # words compare by rank only, as in PHP
    key.append(_END)
    return tuple(key)


SCHEME = CachedScheme("composer", parse_composer, "PHP Composer / Packagist versions")
