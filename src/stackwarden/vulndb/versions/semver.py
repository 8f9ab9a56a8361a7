"""Semantic Versioning 2.0: `MAJOR.MINOR.PATCH[-prerelease][+build]`.

Ordering is SemVer's: numeric fields numerically, a pre-release below its release, pre-release
identifiers dot by dot (numeric ones numerically and below alphanumeric ones, which compare as
ASCII), a shorter identifier list below a longer one it prefixes; build metadata is ignored.

Parsing is as lenient as advisory data needs (crates.io, Hex, Pub, SwiftURL... as OSV writes
them): a leading `v`, missing minor or patch (taken as 0) and leading zeros are accepted.
Anything else — four numeric fields, empty identifiers, characters outside `[0-9A-Za-z-]` —
raises InvalidVersion. npm has its own, stricter module (`npm.py`), as do Go and NuGet.
"""

from __future__ import annotations

import re

from stackwarden.vulndb.versions.base import CachedScheme

_SEMVER = re.compile(
    r"[vV]?(?P<major>\d+)(?:\.(?P<minor>\d+)(?:\.(?P<patch>\d+))?)?"
    r"(?:-(?P<pre>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
    r"(?:\+(?P<build>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?")

RELEASE = (1,)  # the pre-release key of a release: above every (0, ...) pre-release key


def identifiers_key(identifiers: str, numeric_leading_zeros: bool = True) -> tuple:
    """SemVer precedence key of dot-separated identifiers: numbers (0, n) before text (1, s)."""
    parts = []
    for ident in identifiers.split("."):
        if ident.isdigit() and ident.isascii():
            parts.append((0, int(ident)))
        else:
            parts.append((1, ident))
    return tuple(parts)


def prerelease_key(prerelease: str | None) -> tuple:
    """(1,) for a release, (0, identifiers...) for a pre-release: releases sort after."""
    if not prerelease:
        return RELEASE
    return (0, *identifiers_key(prerelease))


def split_semver(text: str) -> re.Match[str]:
    """The regex match of a lenient SemVer string; ValueError when it is not one."""
    match = _SEMVER.fullmatch(text)
    if match is None:
        raise ValueError("not a semantic version")
    return match


def parse_semver(text: str) -> tuple:
    """The sort key of a SemVer version: (major, minor, patch, pre-release key)."""
    match = split_semver(text)
    return (int(match["major"]), int(match["minor"] or 0), int(match["patch"] or 0),
            prerelease_key(match["pre"]))


SCHEME = CachedScheme("semver", parse_semver, "Semantic Versioning 2.0 (crates.io, Hex, ...)")
