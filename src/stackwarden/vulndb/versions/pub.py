"""Dart Pub versions: SemVer, except that build metadata orders too (pub_semver's rule).

After major, minor, patch and pre-release compare equal, a version without build metadata sorts
before one with it, and build identifiers compare like pre-release identifiers
(`1.0.0` < `1.0.0+1` < `1.0.0+a`). Parsing is the lenient SemVer parsing of `semver.py`.
"""

from __future__ import annotations

from stackwarden.vulndb.versions.base import CachedScheme
from stackwarden.vulndb.versions.semver import identifiers_key, prerelease_key, split_semver


def parse_pub(text: str) -> tuple:
    """The sort key of a Pub version: SemVer's key plus the build identifiers."""
    match = split_semver(text)
    build = match["build"]
    return (int(match["major"]), int(match["minor"] or 0), int(match["patch"] or 0),
            prerelease_key(match["pre"]), identifiers_key(build) if build else ())


SCHEME = CachedScheme("pub", parse_pub, "Dart Pub package versions")
