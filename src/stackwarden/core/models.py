"""The result models every layer shares: packages, their locations, the OS, the SBOM."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class PackageType(StrEnum):
    """What kind of package a package is; the names follow Syft's so SBOMs compare easily."""

    DEB = "deb"
    APK = "apk"
    RPM = "rpm"
    PYTHON = "python"
    NPM = "npm"
    GO = "go-module"
    RUST = "rust-crate"
    JAVA = "java-archive"
    JENKINS_PLUGIN = "jenkins-plugin"
    GEM = "gem"
    COMPOSER = "php-composer"
    DOTNET = "dotnet"
    BINARY = "binary"

    @property
    def ecosystem(self) -> str | None:
        """The OSV ecosystem name advisories use for this type (OS types depend on the distro)."""
        return _ECOSYSTEMS.get(self)

    @property
    def is_os(self) -> bool:
        """True for packages a distribution's package manager installed."""
        return self in (PackageType.DEB, PackageType.APK, PackageType.RPM)


_ECOSYSTEMS = {
    PackageType.PYTHON: "PyPI",
    PackageType.NPM: "npm",
    PackageType.GO: "Go",
    PackageType.RUST: "crates.io",
    PackageType.JAVA: "Maven",
    PackageType.JENKINS_PLUGIN: "Maven",
    PackageType.GEM: "RubyGems",
    PackageType.COMPOSER: "Packagist",
    PackageType.DOTNET: "NuGet",
}


@dataclass(frozen=True, slots=True, order=True)
class Location:
    """Where a package was found: a path inside the artifact and the layer that wrote it."""

    path: str
    layer: str | None = None  # the layer's diff_id (uncompressed digest); None outside images


@dataclass(frozen=True, slots=True)
class Package:
    """One package of one ecosystem, as a cataloger found it."""

    name: str
    version: str
    type: PackageType
    purl: str
    found_by: tuple[str, ...]
    locations: tuple[Location, ...]
    licenses: tuple[str, ...] = ()
    cpes: tuple[str, ...] = ()
    source_name: str | None = None  # OS packages: the source package advisories are keyed by
    source_version: str | None = None
    arch: str | None = None
    layer: str | None = None  # the layer that introduced this package (diff_id)
    files: tuple[str, ...] = field(default=(), repr=False)  # files an OS package owns
    metadata: dict[str, Any] = field(default_factory=dict, compare=False, hash=False, repr=False)

    @property
    def id(self) -> str:
        """A stable identifier for this package inside one SBOM (used for bom-refs)."""
        key = "\0".join([self.type, self.name, self.version, self.purl,
                         *(loc.path for loc in self.locations)])
        return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()[:16]

    @property
    def ecosystem(self) -> str | None:
        """The OSV ecosystem for language packages (OS packages: see the SBOM's OS)."""
        return self.type.ecosystem


@dataclass(frozen=True, slots=True)
class OSRelease:
    """The distribution an artifact runs, read from os-release and friends."""

    id: str  # "debian", "ubuntu", "alpine", "rhel", ...
    version_id: str = ""
    version_codename: str = ""
    name: str = ""
    pretty_name: str = ""
    id_like: tuple[str, ...] = ()
    source: str = ""  # the file it was read from

    @property
    def purl_distro(self) -> str:
        """The `distro` qualifier PURLs carry, e.g. `debian-12`."""
        return f"{self.id}-{self.version_id}" if self.version_id else self.id


@dataclass(frozen=True, slots=True)
class Skipped:
    """A file or entry that was not analysed, and why (shown in every report's summary)."""

    path: str
    reason: str
    by: str = ""  # the stage or cataloger that skipped it


@dataclass(frozen=True, slots=True)
class LayerInfo:
    """One image layer: its blob digest, its uncompressed digest, and the command that made it."""

    index: int
    digest: str
    diff_id: str
    size: int = 0
    media_type: str = ""
    created_by: str = ""


@dataclass(frozen=True, slots=True)
class ArtifactInfo:
    """What was inventoried: the target as given and the identity of the bytes read."""

    kind: str  # "oci-dir", "oci-archive", "docker-archive", "registry", "rootfs", "dir"
    reference: str  # the target as the user wrote it
    name: str = ""  # repository:tag, or the directory's path
    digest: str | None = None  # manifest digest for images
    config_digest: str | None = None  # image id
    platform: str | None = None  # os/arch[/variant]
    layers: tuple[LayerInfo, ...] = ()
    repo_tags: tuple[str, ...] = ()
    config: dict[str, Any] = field(default_factory=dict, compare=False, hash=False, repr=False)


@dataclass(frozen=True, slots=True)
class SBOM:
    """The inventory of one artifact: its identity, its OS and every package found in it."""

    artifact: ArtifactInfo
    packages: tuple[Package, ...]
    os: OSRelease | None = None
    skipped: tuple[Skipped, ...] = ()
    catalogers: tuple[str, ...] = ()
    created: str = ""  # RFC 3339 UTC
    tool_version: str = ""
    timings: dict[str, float] = field(default_factory=dict, compare=False, hash=False)
