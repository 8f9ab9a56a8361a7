"""Ecosystem names and package-name normalisation, the same on the advisory and package side."""

from __future__ import annotations

import re

# OSV base ecosystem names StackWarden matches (the part before any ':release').
LANGUAGE_ECOSYSTEMS = ("PyPI", "npm", "Go", "crates.io", "Maven", "RubyGems", "Packagist",
                       "NuGet")
DISTRO_ECOSYSTEMS = ("Debian", "Ubuntu", "Alpine", "Red Hat", "Rocky Linux", "AlmaLinux",
                     "openSUSE", "SUSE")
ECOSYSTEMS = LANGUAGE_ECOSYSTEMS + DISTRO_ECOSYSTEMS
_CANONICAL = {e.lower(): e for e in ECOSYSTEMS}
_PEP503 = re.compile(r"[-_.]+")


def split_ecosystem(text: str) -> tuple[str, str] | None:
    """`Debian:12` -> ("Debian", "12"); `PyPI` -> ("PyPI", ""); unknown -> None."""
    base, _, release = text.partition(":")
    canonical = _CANONICAL.get(base.strip().lower())
    if canonical is None:
        return None
    return canonical, release.strip()


def normalize_name(ecosystem: str, name: str) -> str:
    """The form a package name is stored and looked up in (PEP 503 for PyPI, and so on)."""
    name = name.strip()
    if ecosystem == "PyPI":
        return _PEP503.sub("-", name).lower()
    if ecosystem in ("npm", "Packagist", "NuGet", "crates.io", "RubyGems"):
        return name.lower()
    return name


def distro_ecosystem(os_id: str, id_like: tuple[str, ...] = ()) -> str | None:
    """The OSV ecosystem for a distribution's `os-release` ID."""
    table = {"debian": "Debian", "ubuntu": "Ubuntu", "alpine": "Alpine",
             "rhel": "Red Hat", "centos": "Red Hat", "rocky": "Rocky Linux",
             "almalinux": "AlmaLinux", "opensuse-leap": "openSUSE", "opensuse": "openSUSE",
             "opensuse-tumbleweed": "openSUSE", "sles": "SUSE"}
    if os_id in table:
        return table[os_id]
    for like in id_like:
        if like in ("debian", "ubuntu", "rhel", "alpine"):
            return table[like]
    return None


def distro_release(ecosystem: str, version_id: str) -> str:
    """The release part of the OSV ecosystem an OS version maps to (`Alpine:v3.20`, …)."""
    if ecosystem == "Alpine":
        parts = version_id.split(".")
        return "v" + ".".join(parts[:2]) if parts and parts[0] else ""
    if ecosystem in ("Debian", "Red Hat", "Rocky Linux", "AlmaLinux"):
        return version_id.split(".")[0]
    return version_id


def release_matches(ecosystem: str, stored: str, wanted: str) -> bool:
    """Whether an advisory's release (`22.04:LTS`, `enterprise_linux:9::appstream`) is `wanted`."""
    if not stored:
        return True
    if ecosystem in ("Red Hat", "Rocky Linux", "AlmaLinux"):
        numbers = re.findall(r"\d+(?:\.\d+)?", stored)
        return any(n.split(".")[0] == wanted.split(".")[0] for n in numbers)
    if ecosystem in ("openSUSE", "SUSE"):
        return wanted in re.findall(r"\d+(?:\.\d+)?", stored)
    return stored.split(":")[0] == wanted
