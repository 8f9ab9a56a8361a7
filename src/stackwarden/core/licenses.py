"""License strings as SPDX expressions where they can be, as written where they cannot."""

from __future__ import annotations

import re
from functools import cache, lru_cache

# Debian copyright short names and common spellings that are not SPDX identifiers.
ALIASES = {
    "expat": "MIT",
    "mit/x11": "MIT",
    "x11": "X11",
    "apache 2.0": "Apache-2.0",
    "apache-2": "Apache-2.0",
    "apache2": "Apache-2.0",
    "apache license 2.0": "Apache-2.0",
    "apache license, version 2.0": "Apache-2.0",
    "apache software license": "Apache-2.0",
    "psf": "PSF-2.0",
    "python": "Python-2.0",
    "artistic": "Artistic-1.0-Perl",
    "perl": "Artistic-1.0-Perl OR GPL-1.0-or-later",
    "bsd-3": "BSD-3-Clause",
    "bsd-2": "BSD-2-Clause",
    "new bsd": "BSD-3-Clause",
    "simplified bsd": "BSD-2-Clause",
    "zlib/libpng": "Zlib",
    "public domain": "",
    "public-domain": "",
}
# GPL-2, GPL-2+, LGPL-2.1+, AGPL-3, GFDL-1.3+ (Debian) -> GPL-2.0-only, GPL-2.0-or-later, ...
_FSF_SHORT = re.compile(r"^(?P<family>A?L?GPL|GFDL|LGPL)-?(?P<version>\d(?:\.\d)?)(?P<plus>\+)?$",
                        re.IGNORECASE)


@cache
def _licensing():  # type: ignore[no-untyped-def]
    from license_expression import get_spdx_licensing

    return get_spdx_licensing()


def _alias(term: str) -> str | None:
    lowered = term.strip().lower()
    if lowered in ALIASES:
        return ALIASES[lowered] or None
    match = _FSF_SHORT.match(term.strip())
    if match:
        version = match.group("version")
        version = version if "." in version else version + ".0"
        family = match.group("family").upper()
        return f"{family}-{version}-{'or-later' if match.group('plus') else 'only'}"
    return None


_OPERATOR = re.compile(r"\s+(or|and)\s+", re.IGNORECASE)


def _single(term: str) -> str | None:
    aliased = _alias(term)
    candidate = aliased if aliased is not None else term
    licensing = _licensing()
    try:
        if not licensing.validate(candidate).errors:
            return str(licensing.parse(candidate, validate=False))
    except Exception:  # noqa: BLE001 - license_expression raises many types on garbage
        return None
    return None


@lru_cache(maxsize=4096)
def to_spdx(text: str) -> str | None:
    """The SPDX expression a license string means, or None when it is not one we can name.

    Debian's `GPL-2+ or Artistic` becomes `GPL-2.0-or-later OR Artistic-1.0-Perl`.
    """
    text = text.strip()
    if not text:
        return None
    whole = _single(text)
    if whole is not None:
        return whole
    pieces = _OPERATOR.split(text)
    if len(pieces) < 3:
        return None
    terms = [_single(t) for t in pieces[0::2]]
    if any(t is None for t in terms):
        return None
    out = [f"({terms[0]})" if " " in str(terms[0]) else str(terms[0])]
    for op, term in zip(pieces[1::2], terms[1:], strict=True):
        out.append(op.upper())
        out.append(f"({term})" if " " in str(term) else str(term))
    return " ".join(out)
