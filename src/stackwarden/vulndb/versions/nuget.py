"""NuGet package versions: SemVer 2.0 with up to four numeric parts (NuGet.Versioning).

`1.0` = `1.0.0` = `1.0.0.0`, leading zeros in the numeric parts are normalised away
(`1.0.01` = `1.0.1`), pre-release labels compare case-insensitively (`1.0.0-BETA` =
`1.0.0-beta`), numeric labels numerically and below alphanumeric ones, and build metadata is
ignored. Pre-release labels may not have leading zeros, as NuGet's parser requires.
"""

from __future__ import annotations

import re

from stackwarden.vulndb.versions.base import CachedScheme
from stackwarden.vulndb.versions.semver import RELEASE

_INT32_MAX = 2**31 - 1
_NUGET = re.compile(
    r"(?P<numbers>\d+(?:\.\d+){0,3})"
    r"(?:-(?P<pre>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
    r"(?:\+(?P<build>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?")
_NUMERIC_LABEL = re.compile(r"-?\d+")


def _label_key(label: str) -> tuple:
    # NuGet treats a label as numeric when Int32.TryParse accepts it.
    if _NUMERIC_LABEL.fullmatch(label) and abs(int(label)) <= _INT32_MAX:
        return (0, int(label))
    return (1, label.upper())


def parse_nuget(text: str) -> tuple:
    """The sort key of a NuGet version: (major, minor, patch, revision, pre-release key)."""
    match = _NUGET.fullmatch(text.strip())
    if match is None:
        raise ValueError("not a NuGet version")
    numbers = [int(part) for part in match["numbers"].split(".")]
    if any(number > _INT32_MAX for number in numbers):
        raise ValueError("a numeric part is larger than a 32-bit integer")
    numbers += [0] * (4 - len(numbers))
    pre = match["pre"]
    if not pre:
        return (*numbers, RELEASE)
    labels = pre.split(".")
    if any(len(label) > 1 and label[0] == "0" and label.isdigit() for label in labels):
        raise ValueError("a numeric pre-release label has a leading zero")
    return (*numbers, (0, *(_label_key(label) for label in labels)))


SCHEME = CachedScheme("nuget", parse_nuget, "NuGet package versions (NuGet.Versioning)")
