"""OS packages of a host (the catalogers' own dpkg, apk and rpm readers) and file ownership."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from stackwarden.core.models import SBOM, Package

# Where the OS catalogers' databases live; listing these few directories is all a host
# inventory needs (walking the whole root for them takes minutes on a big host).
OS_DB_DIRS = ("/var/lib/dpkg", "/var/lib/dpkg/status.d", "/lib/apk/db", "/var/lib/rpm",
              "/usr/share/rpm", "/usr/lib/sysimage/rpm")
_USRMERGE = ("/bin/", "/sbin/", "/lib/", "/lib32/", "/lib64/", "/libx32/")


def os_package_files(root: str) -> list[str]:
    """The package database files under `root` that the OS catalogers read."""
    from stackwarden.artifact.base import FileEntry, FileType
    from stackwarden.catalog.engine import Dispatcher
    from stackwarden.catalog.registry import select_catalogers

    dispatcher = Dispatcher(select_catalogers("rootfs", ["os"]))
    found = []
    for directory in OS_DB_DIRS:
        host = os.path.join(root, directory.lstrip("/"))
        try:
            names = sorted(os.listdir(host))
        except OSError:
            continue
        for name in names:
            path = f"{directory}/{name}"
            entry = FileEntry(path, FileType.REG)
            if os.path.isfile(os.path.join(host, name)) and dispatcher.wanted_by(entry):
                found.append(path)
    return found


def os_sbom(root: str, *, all_packages: bool = False) -> SBOM:
    """The SBOM of the root's packages: OS packages from their databases, or (all_packages)
    every ecosystem from one walk of the whole root."""
    from stackwarden.artifact.directory import DirectoryArtifact, FileListArtifact
    from stackwarden.catalog.engine import catalog_artifact
    from stackwarden.catalog.registry import default_catalogers, select_catalogers

    if all_packages:
        with DirectoryArtifact(root, kind="rootfs", reference=f"rootfs:{root}") as artifact:
            return catalog_artifact(artifact, default_catalogers("rootfs"))
    relative = [p.lstrip("/") for p in os_package_files(root)]  # paths inside the root
    with FileListArtifact(root, relative) as artifact:
        return catalog_artifact(artifact, select_catalogers("rootfs", ["os"]))


def package_items(packages: Iterable[Package]) -> list[dict[str, Any]]:
    """Packages as inventory items (sorted)."""
    items = [{"type": str(p.type), "name": p.name, "version": p.version, "arch": p.arch,
              "purl": p.purl, "source": p.source_name, "files": len(p.files)}
             for p in packages]
    return sorted(items, key=lambda i: (i["type"], i["name"], i["arch"] or "", i["version"]))


class FileOwners:
    """Which package owns a path (usr-merged aliases tried too)."""

    def __init__(self, packages: Iterable[Package]) -> None:
        self._owner: dict[str, Package] = {}
        for pkg in packages:
            for path in pkg.files:
                self._owner.setdefault(path, pkg)

    def owner(self, path: str) -> dict[str, str] | None:
        """{type, name, version} of the package owning `path`, or None."""
        pkg = self._owner.get(path)
        if pkg is None and path.startswith("/usr/") and path[4:].startswith(_USRMERGE):
            pkg = self._owner.get(path[4:])
        elif pkg is None and path.startswith(_USRMERGE):
            pkg = self._owner.get("/usr" + path)
        if pkg is None:
            return None
        return {"type": str(pkg.type), "name": pkg.name, "version": pkg.version}
