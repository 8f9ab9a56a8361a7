"""Go package identities shared by the go.mod and binary catalogers: PURLs, versions, CPEs."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from stackwarden.catalog.base import purl

_SEMVER = re.compile(r"^v(0|[1-9]\d*)(?:\.(0|[1-9]\d*))?(?:\.(0|[1-9]\d*))?"
                     r"(-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$")
_STDLIB_VERSION = re.compile(r"(?P<version>\d+(\.\d+)?(\.\d+)?)(?P<candidate>\w*)", re.ASCII)


def golang_purl(module: str, version: str) -> str:
    """`pkg:golang/<namespace>/<name>@<version>`: the last path element is the name."""
    namespace, _, name = module.rpartition("/")
    return purl("golang", name or module, version, namespace=namespace or None)


def canonical_version(version: str) -> str | None:
    """Go's module.CanonicalVersion: `v1.2` becomes `v1.2.0`, build metadata is dropped except
    `+incompatible`; None when the string is not semantic-version shaped (go.mod rejects it)."""
    match = _SEMVER.match(version)
    if match is None:
        return None
    major, minor, patch, pre, build = match.groups()
    if (minor is None or patch is None) and (pre or build):
        return None  # shorthand versions cannot carry a prerelease or build suffix
    prerelease = pre or ""
    for ident in prerelease[1:].split(".") if prerelease else ():
        if ident.isdigit() and len(ident) > 1 and ident[0] == "0":
            return None
    canonical = f"v{major}.{minor or 0}.{patch or 0}{prerelease}"
    return canonical + "+incompatible" if build == "+incompatible" else canonical


def pseudo_version(revision: str, timestamp: str) -> str:
    """The `v0.0.0-<UTC yyyymmddhhmmss>-<12-char revision>` form Go gives untagged commits
    (an unparsable time gives Go's zero time, as Syft does)."""
    try:
        when = datetime.fromisoformat(timestamp.replace("Z", "+00:00")).astimezone(UTC)
        stamp = when.strftime("%Y%m%d%H%M%S")
    except ValueError:
        stamp = "00010101000000"
    return f"v0.0.0-{stamp}-{revision[:12]}"


def split_go_version(raw: str) -> tuple[str, list[str]]:
    """`go1.21.0 X:boringcrypto` -> (`go1.21.0`, [`boringcrypto`])."""
    version, _, rest = raw.partition(" ")
    experiments = [e for chunk in rest.split() if chunk.startswith("X:")
                   for e in chunk[2:].split(",") if e]
    return version, experiments


def stdlib_cpe(go_version: str) -> str | None:
    """The NVD CPE of the Go toolchain that compiled a binary (`go1.21rc2` -> `...:1.21:rc2`)."""
    version = go_version.removeprefix("go").split("+", 1)[0]
    match = _STDLIB_VERSION.search(version)
    if match is None or not match.group("version"):
        return None
    update = match.group("candidate") or "-"
    return f"cpe:2.3:a:golang:go:{match.group('version')}:{update}:*:*:*:*:*:*"
