"""Go module versions: `vMAJOR[.MINOR[.PATCH]][-prerelease][+build]`, as golang.org/x/mod/semver.

Ordering is SemVer's (`v1` = `v1.0` = `v1.0.0`); build metadata such as `+incompatible` is
ignored, as the go command does. Pseudo-versions (`v0.0.0-20191109021931-daa7c04131f5`,
`v1.2.4-0.20191109021931-daa7c04131f5`) are pre-releases whose fixed-width timestamp makes
SemVer order them chronologically, below the release they precede. Numbers may not have
leading zeros. The leading `v` is optional on input because OSV's Go advisories omit it.
"""

from __future__ import annotations

import re

from stackwarden.vulndb.versions.base import CachedScheme
from stackwarden.vulndb.versions.semver import prerelease_key

_NUM = r"(?:0|[1-9]\d*)"
_IDENT = r"(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)"
_GO = re.compile(
    rf"v?(?P<major>{_NUM})(?:\.(?P<minor>{_NUM})(?:\.(?P<patch>{_NUM})"
    rf"(?:-(?P<pre>{_IDENT}(?:\.{_IDENT})*))?"
    r"(?:\+(?P<build>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?)?)?")
_PSEUDO = re.compile(r"(?:^|[.-])(?:0\.)?\d{14}-[0-9a-f]{12}$")


def parse_go(text: str) -> tuple:
    """The sort key of a Go module version: (major, minor, patch, pre-release key)."""
    match = _GO.fullmatch(text)
    if match is None:
        raise ValueError("not a Go module version")
    return (int(match["major"]), int(match["minor"] or 0), int(match["patch"] or 0),
            prerelease_key(match["pre"]))


def is_pseudo_version(text: str) -> bool:
    """Whether `text` is a Go pseudo-version (a commit, not a tagged release)."""
    match = _GO.fullmatch(text)
    return bool(match and match["pre"] and _PSEUDO.search(match["pre"]))


SCHEME = CachedScheme("go", parse_go, "Go module versions (x/mod/semver)")
