"""Java archives (JAR, WAR, EAR, Jenkins plugins...) and the archives nested inside them.

Which packages an archive yields, and their names, follow Syft's java-archive-cataloger so
the two inventories agree: the archive itself is one package (named by the pom.properties
whose artifactId matches the file name, else by its manifest and file name); every other
pom.properties inside it (shaded and OSGi bundles carry several) is one more package; nested
archives (WEB-INF/lib, BOOT-INF/lib, jars in EARs, jars in plain .zip files) are read the
same way from memory, within depth, size and ratio limits.
"""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from stackwarden.artifact.base import FileEntry
from stackwarden.catalog.base import Cataloger, CatalogContext, FilePatterns
from stackwarden.catalog.java.manifest import (
    ARCHIVE_SUFFIXES,
    JENKINS_SUFFIXES,
    ArchiveName,
    Manifest,
    parse_archive_name,
    parse_manifest,
    select_licenses,
    select_name,
    select_version,
)
from stackwarden.catalog.java.maven import (
    PomProperties,
    group_id_for,
    maven_purl,
    parse_pom_properties,
    pom_licenses,
)
from stackwarden.catalog.java.zipsafe import open_zip, read_member
from stackwarden.core.config import MiB
from stackwarden.core.errors import CatalogError, StackWardenError
from stackwarden.core.models import Package, PackageType

MANIFEST = "META-INF/MANIFEST.MF"
METADATA_LIMIT = 16 * MiB  # one manifest / pom file (signed jars list a digest per class)
WRAPPER_SUFFIX = ".zip"  # plain zips are searched for the Java archives they hold, as Syft does


@dataclass
class _Draft:
    """A package while its archive is being read (pom.properties may still rename it)."""

    name: str
    version: str
    type: PackageType
    virtual_path: str
    parent: str | None
    manifest: Manifest | None = None
    pom: PomProperties | None = None
    licenses: list[str] = field(default_factory=list)
    sha1: str = ""


@dataclass
class _Reader:
    """Reads one top-level file and everything nested in it, sharing one inflation budget."""

    cataloger: JavaArchiveCataloger
    ctx: CatalogContext
    entry: FileEntry
    budget: int
    found: list[Package] = field(default_factory=list)

    def archive(self, data: bytes, vpath: str, depth: int, parent: str | None) -> None:
        """Catalog one archive: its own package, its pom.properties packages, its nested ones."""
        zf = open_zip(data, vpath)
        members = [i for i in zf.infolist() if not i.is_dir()]
        manifest = self.manifest(zf, members, vpath)
        main: _Draft | None = None
        if manifest is not None:
            filename = parse_archive_name(vpath.rsplit(":", 1)[-1])
            poms = self.pom_properties(zf, members, vpath)
            xml_dirs = {i.filename.rpartition("/")[0]: i for i in members
                        if i.filename.endswith("pom.xml")}
            main = self.main_package(zf, manifest, filename, poms, xml_dirs, vpath, parent)
            if main.name and not self.ctx.identity_only:
                main.sha1 = hashlib.sha1(data, usedforsecurity=False).hexdigest()
            for pom in poms:
                self.pom_package(zf, main, pom, xml_dirs, vpath)
            if main.name:
                self.emit(main)
        self.nested(zf, members, vpath, depth, main.virtual_path if main and main.name else parent)

    def manifest(self, zf: zipfile.ZipFile, members: list[zipfile.ZipInfo],
                 vpath: str) -> Manifest | None:
        """The archive's manifest; None when it has none (then it is no package of its own)."""
        found = [i for i in members if i.filename == MANIFEST]
        if len(found) > 1:
            raise CatalogError(f"{len(found)} copies of {MANIFEST}", source=vpath)
        if not found:
            return None
        text = self.text(zf, found[0], vpath)
        manifest = parse_manifest(text) if text is not None else None
        if manifest is not None and "Weave-Classes" in manifest.main:
            return None  # New Relic instrumentation jars name the library they instrument
        return manifest

    def pom_properties(self, zf: zipfile.ZipFile, members: list[zipfile.ZipInfo],
                       vpath: str) -> list[PomProperties]:
        """Every usable pom.properties, by path (one directory holds at most one)."""
        found: dict[str, PomProperties] = {}
        for info in members:
            if not info.filename.endswith("pom.properties"):
                continue
            text = self.text(zf, info, vpath)
            pom = parse_pom_properties(info.filename, text) if text is not None else None
            if pom is not None:
                found[pom.parent_dir] = pom
        return [found[k] for k in sorted(found)]

    def main_package(self, zf: zipfile.ZipFile, manifest: Manifest, filename: ArchiveName,
                     poms: list[PomProperties], xml_dirs: dict[str, zipfile.ZipInfo],
                     vpath: str, parent: str | None) -> _Draft:
        """The archive's own package: named by the pom.properties that matches its file name,
        else by its manifest and file name."""
        ids = {p.artifact_id for p in poms}
        chosen: PomProperties | None = None
        for pom in poms:
            if _names_match(pom.artifact_id, filename.name, ids):
                chosen = pom
                if pom.parent_dir in xml_dirs:
                    break
        name = chosen.artifact_id if chosen else select_name(manifest, filename)
        version = chosen.version if chosen else select_version(manifest, filename)
        kind = (PackageType.JENKINS_PLUGIN if filename.extension.lower() in JENKINS_SUFFIXES
                else PackageType.JAVA)
        draft = _Draft(name, version, kind, vpath, parent, manifest=manifest)
        if not self.ctx.identity_only:
            draft.licenses = select_licenses(manifest)
            if not draft.licenses and chosen is not None:
                draft.licenses = self.pom_xml_licenses(zf, xml_dirs.get(chosen.parent_dir), vpath)
        return draft

    def pom_package(self, zf: zipfile.ZipFile, main: _Draft, pom: PomProperties,
                    xml_dirs: dict[str, zipfile.ZipInfo], vpath: str) -> None:
        """A pom.properties either renames the archive's own package or is a package inside it."""
        kind = PackageType.JENKINS_PLUGIN if pom.is_jenkins_plugin else PackageType.JAVA
        if pom.artifact_id == main.name:
            main.version, main.type = pom.version, kind
            main.pom = main.pom or pom
            return
        draft = _Draft(pom.artifact_id, pom.version, kind,
                       f"{vpath}:{pom.group_id}:{pom.artifact_id}", main.virtual_path, pom=pom)
        if not self.ctx.identity_only:
            draft.licenses = self.pom_xml_licenses(zf, xml_dirs.get(pom.parent_dir), vpath)
        self.emit(draft)

    def nested(self, zf: zipfile.ZipFile, members: list[zipfile.ZipInfo], vpath: str,
               depth: int, parent: str | None) -> None:
        """Catalog the Java archives inside this one; a bad one is skipped with its reason."""
        limits = self.ctx.limits
        for info in members:
            if not info.filename.endswith(ARCHIVE_SUFFIXES):
                continue
            inner = f"{vpath}:{info.filename}"
            if depth + 1 > limits.max_archive_depth:
                self.skip(inner, f"nested deeper than {limits.max_archive_depth} archives")
                continue
            try:
                limit = min(limits.max_nested_archive_bytes, self.budget)
                data = read_member(zf, info, limit, limits.max_compression_ratio, inner)
                self.budget -= len(data)
                self.archive(data, inner, depth + 1, parent)
            except StackWardenError as exc:
                self.skip(inner, exc.message)

    def pom_xml_licenses(self, zf: zipfile.ZipFile, info: zipfile.ZipInfo | None,
                         vpath: str) -> list[str]:
        """Licenses from the pom.xml beside a pom.properties."""
        text = self.text(zf, info, vpath) if info is not None else None
        return pom_licenses(text) if text else []

    def text(self, zf: zipfile.ZipFile, info: zipfile.ZipInfo, vpath: str) -> str | None:
        """A small metadata member as text; None (with a skip entry) if it cannot be read."""
        source = f"{vpath}:{info.filename}"
        try:
            data = read_member(zf, info, METADATA_LIMIT, self.ctx.limits.max_compression_ratio,
                               source)
        except StackWardenError as exc:
            self.skip(source, exc.message)
            return None
        return data.decode("utf-8", "replace")

    def emit(self, draft: _Draft) -> None:
        """Turn a finished draft into a Package."""
        group = group_id_for(draft.name, draft.pom, draft.manifest)
        metadata: dict[str, str] = {"virtual_path": draft.virtual_path, "group_id": group,
                                    "artifact_id": draft.name}
        if draft.parent:
            metadata["parent"] = draft.parent
        if draft.pom is not None:
            metadata["pom_properties"] = draft.pom.path
        if draft.sha1:
            metadata["sha1"] = draft.sha1
        pkg = self.cataloger.package(self.ctx, self.entry, draft.name, draft.version,
                                     maven_purl(group, draft.name, draft.version),
                                     licenses=tuple(dict.fromkeys(draft.licenses)),
                                     metadata=metadata)
        self.found.append(replace(pkg, type=draft.type) if draft.type is not pkg.type else pkg)

    def skip(self, path: str, reason: str) -> None:
        """Record a nested archive or member that was not analysed."""
        self.ctx.skip(path, reason, self.cataloger.name)


def _names_match(artifact_id: str, file_name: str, ids: set[str]) -> bool:
    """Whether a pom.properties describes the archive itself, judging by the file name."""
    if not artifact_id or not file_name:
        return False
    if file_name in ids:
        return artifact_id == file_name
    return artifact_id.startswith(file_name) or file_name.endswith(artifact_id)


class JavaArchiveCataloger(Cataloger):
    """Java archives and the archives nested in them (pom.properties, MANIFEST.MF, file name)."""

    name = "java-archive-cataloger"
    tags = frozenset({"installed", "language", "java", "maven"})
    package_type = PackageType.JAVA
    patterns = FilePatterns(suffixes=(*ARCHIVE_SUFFIXES, WRAPPER_SUFFIX))

    def parse(self, entry: FileEntry, ctx: CatalogContext) -> Iterable[Package]:
        data = ctx.read(entry)
        if entry.path.endswith(".rar") and data.startswith(b"Rar!"):
            return []  # a RAR archive, not a Java resource adapter
        reader = _Reader(self, ctx, entry, budget=2 * ctx.limits.max_nested_archive_bytes)
        if entry.path.endswith(WRAPPER_SUFFIX):
            zf = open_zip(data, entry.path)
            reader.nested(zf, [i for i in zf.infolist() if not i.is_dir()], entry.path, 0, None)
        else:
            reader.archive(data, entry.path, 0, None)
        return reader.found
