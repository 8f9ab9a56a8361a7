""".NET: `*.deps.json` of published applications (installed) and NuGet `packages.lock.json`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from stackwarden.artifact.base import FileEntry
from stackwarden.catalog.base import Cataloger, CatalogContext, FilePatterns, purl
from stackwarden.catalog.jsondoc import load_json
from stackwarden.core.errors import CatalogError
from stackwarden.core.models import Package, PackageType

# deps.json library types that are components of the application: NuGet packages and the
# application's own projects. Reference assemblies and runtime packs are the SDK's.
DEPS_LIBRARY_TYPES = frozenset({"package", "project"})


def nuget_purl(name: str, version: str) -> str:
    """`pkg:nuget/<Name>@<version>`."""
    return purl("nuget", name, version)


def _object(value: Any, what: str, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise CatalogError(f"{what} is not an object", source=path)
    return value


class DotnetDepsCataloger(Cataloger):
    """Libraries a published .NET application ships, from its `<app>.deps.json`."""

    name = "dotnet-deps-cataloger"
    tags = frozenset({"installed", "language", "dotnet"})
    package_type = PackageType.DOTNET
    patterns = FilePatterns(suffixes=(".deps.json",))

    def parse(self, entry: FileEntry, ctx: CatalogContext) -> Iterable[Package]:
        document = _object(load_json(entry, ctx), "the document", entry.path)
        libraries = _object(document.get("libraries", {}), "`libraries`", entry.path)
        packages = []
        for key, library in libraries.items():
            name, sep, version = key.partition("/")
            if not sep or not name or not isinstance(library, dict):
                continue
            kind = library.get("type")
            if kind not in DEPS_LIBRARY_TYPES:
                continue
            metadata = {"library_type": kind}
            for field, label in (("sha512", "sha512"), ("path", "path"), ("hashPath", "hash_path")):
                if isinstance(library.get(field), str) and library[field]:
                    metadata[label] = library[field]
            packages.append(self.package(ctx, entry, name, version, nuget_purl(name, version),
                                         metadata=metadata))
        return packages


class DotnetPackagesLockCataloger(Cataloger):
    """NuGet packages a project's `packages.lock.json` pins, across all its target frameworks."""

    name = "dotnet-packages-lock-cataloger"
    tags = frozenset({"declared", "language", "dotnet"})
    package_type = PackageType.DOTNET
    patterns = FilePatterns(names=frozenset({"packages.lock.json"}))

    def parse(self, entry: FileEntry, ctx: CatalogContext) -> Iterable[Package]:
        document = _object(load_json(entry, ctx), "the document", entry.path)
        targets = _object(document.get("dependencies", {}), "`dependencies`", entry.path)
        found: dict[tuple[str, str], Package] = {}
        for target, dependencies in targets.items():
            for name, dep in _object(dependencies, f"target {target!r}", entry.path).items():
                if not isinstance(dep, dict):
                    continue
                version = dep.get("resolved")
                # Project references have no resolved version: they are not NuGet packages.
                if not isinstance(version, str) or not version or (name, version) in found:
                    continue
                metadata = {"dependency_type": str(dep.get("type", "")), "target": target}
                if isinstance(dep.get("contentHash"), str):
                    metadata["content_hash"] = dep["contentHash"]
                found[(name, version)] = self.package(ctx, entry, name, version,
                                                      nuget_purl(name, version),
                                                      metadata=metadata)
        return list(found.values())
