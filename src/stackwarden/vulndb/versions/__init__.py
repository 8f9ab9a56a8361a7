"""Version schemes: one module per ordering, and the registry that maps ecosystems to them.

    from stackwarden.vulndb.versions import scheme_for
    scheme = scheme_for("Debian:12")          # OSV ecosystem, scheme name or PURL type
    scheme.compare("1:2.0", "2.5")            # 1
    key = scheme.parse(installed)             # cached; keys compare with < and ==
    scheme.parse(introduced) <= key < scheme.parse(fixed)

Adding a scheme is one module exposing `SCHEME` plus one line in `SCHEMES` below (a test fails
when a module is not registered).
"""

from __future__ import annotations

from stackwarden.vulndb.versions import (
    apk,
    composer,
    dpkg,
    golang,
    maven,
    npm,
    nuget,
    pep440,
    pub,
    rpm,
    rubygems,
    semver,
)
from stackwarden.vulndb.versions.base import InvalidVersion, UnknownEcosystem, VersionScheme

__all__ = ["ECOSYSTEMS", "SCHEMES", "InvalidVersion", "UnknownEcosystem", "VersionScheme",
           "ecosystem_names", "scheme_for"]

SCHEMES: dict[str, VersionScheme] = {module.SCHEME.name: module.SCHEME for module in (
    dpkg, rpm, apk, pep440, semver, npm, golang, maven, rubygems, composer, nuget, pub)}

# OSV ecosystem names (the part before any ":release" suffix) -> scheme name.
ECOSYSTEMS: dict[str, str] = {
    "Debian": "dpkg", "Ubuntu": "dpkg",
    "Alpine": "apk", "Wolfi": "apk", "Chainguard": "apk",
    "Red Hat": "rpm", "Rocky Linux": "rpm", "AlmaLinux": "rpm", "openSUSE": "rpm",
    "SUSE": "rpm", "Mageia": "rpm", "openEuler": "rpm", "Photon OS": "rpm",
    "Azure Linux": "rpm",
    "PyPI": "pep440",
    "npm": "npm",
    "Go": "go",
    "crates.io": "semver", "Hex": "semver", "SwiftURL": "semver", "Bitnami": "semver",
    "Pub": "pub",
    "Maven": "maven",
    "RubyGems": "rubygems",
    "Packagist": "composer",
    "NuGet": "nuget",
}

# Package URL types -> scheme name (a matcher holding a PURL needs no ecosystem table).
PURL_TYPES: dict[str, str] = {
    "deb": "dpkg", "rpm": "rpm", "apk": "apk", "pypi": "pep440", "npm": "npm",
    "golang": "go", "cargo": "semver", "hex": "semver", "pub": "pub", "maven": "maven",
    "gem": "rubygems", "composer": "composer", "nuget": "nuget",
}


def _lookup() -> dict[str, VersionScheme]:
    table: dict[str, VersionScheme] = {}
    for names in (PURL_TYPES, ECOSYSTEMS):
        for name, scheme in names.items():
            table[name.lower()] = SCHEMES[scheme]
    for name, scheme in SCHEMES.items():
        table[name] = scheme
    return table


_LOOKUP = _lookup()


def scheme_for(name: str) -> VersionScheme:
    """The scheme for an OSV ecosystem ("Debian:12", "Alpine:v3.20"), scheme name or PURL type.

    The part after the first ':' (OSV's release suffix) is ignored and names match
    case-insensitively. Raises UnknownEcosystem for anything else.
    """
    base = name.split(":", 1)[0].strip()
    scheme = SCHEMES.get(base) or _LOOKUP.get(base.lower())
    if scheme is None:
        raise UnknownEcosystem(f"no version scheme for ecosystem {name!r} (known: "
                               f"{', '.join(ecosystem_names())})")
    return scheme


def ecosystem_names() -> list[str]:
    """The OSV ecosystem names and scheme names that `scheme_for` accepts, sorted."""
    return sorted(set(ECOSYSTEMS) | set(SCHEMES))
