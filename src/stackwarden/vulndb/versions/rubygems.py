"""RubyGems versions (Gem::Version): dot-separated numbers and letter runs.

`-` stands for `.pre.`, letter and digit runs are separate segments (`1.0.a10` = `1.0.a.10`),
trailing zeros of the numeric part and of the pre-release part are dropped (`1.0` = `1`), a
letter segment marks a pre-release and sorts below any number (`1.0.a` < `1.0` < `1.0.0.1`),
letter segments compare as strings, and the shorter version is padded with zeros. Strings that
Gem::Version.new rejects ("Malformed version number string") raise InvalidVersion.
"""

from __future__ import annotations

import re

from stackwarden.vulndb.versions.base import CachedScheme
from stackwarden.vulndb.versions.padding import zero_padded_key

_GEM = re.compile(r"\s*([0-9]+(?:\.[0-9a-zA-Z]+)*(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?)?\s*")
_SEGMENT = re.compile(r"[0-9]+|[a-z]+", re.IGNORECASE)


def canonical_segments(text: str) -> list[int | str]:
    """Gem::Version#canonical_segments: segments with trailing zeros of each part dropped."""
    match = _GEM.fullmatch(text)
    if match is None:
        raise ValueError("malformed version number string")
    version = (match.group(1) or "0").replace("-", ".pre.")
    segments: list[int | str] = [int(s) if s.isdigit() else s for s in _SEGMENT.findall(version)]
    first_string = next((i for i, s in enumerate(segments) if isinstance(s, str)), len(segments))
    parts = []
    for part in (segments[:first_string], segments[first_string:]):
        while part and part[-1] == 0:
            part.pop()
        parts.extend(part)
    return parts


def parse_rubygems(text: str) -> tuple:
    """The sort key of a Gem::Version: canonical segments compared with zero padding."""
    return zero_padded_key(canonical_segments(text), is_zero=lambda s: s == 0,
                           below_zero=lambda s: isinstance(s, str))


SCHEME = CachedScheme("rubygems", parse_rubygems, "RubyGems versions (Gem::Version)")
