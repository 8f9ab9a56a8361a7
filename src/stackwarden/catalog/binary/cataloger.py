"""Runtimes and libraries installed outside any package manager, found by their version strings.

A file is read only when its name matches a classifier; it is then scanned in bounded windows
(see catalog.contents) for the classifier's byte patterns. A CPython executable linked against
libpython takes its version from that library, found where the dynamic loader would look
(RUNPATH, then the system and /usr/local library directories). Binaries that an OS package owns
are dropped later by the engine (drop_owned_binaries): only unmanaged copies remain.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable
from dataclasses import dataclass, replace

from stackwarden.artifact.base import FileEntry
from stackwarden.catalog.base import Cataloger, CatalogContext, FilePatterns, purl
from stackwarden.catalog.binary.classifiers import (NAMES, PREFIXES, Classifier, classifiers_for,
                                                    cpe, wanted)
from stackwarden.catalog.contents import first_matches
from stackwarden.catalog.elf import library_dirs, open_elf
from stackwarden.core.errors import CatalogError
from stackwarden.core.models import Package, PackageType


@dataclass(frozen=True, slots=True)
class Evidence:
    """What a classifier found: the version and the files it was read from."""

    classifier: Classifier
    version: str
    files: tuple[FileEntry, ...]


class BinaryClassifierCataloger(Cataloger):
    """CPython, Node.js, OpenSSL and the Go toolchain, recognised by the version strings their
    executables and shared libraries embed."""

    name = "binary-classifier-cataloger"
    tags = frozenset({"installed", "binary"})
    patterns = FilePatterns(names=NAMES, prefixes=PREFIXES, accept=wanted)
    package_type = PackageType.BINARY

    def parse(self, entry: FileEntry, ctx: CatalogContext) -> Iterable[Package]:
        for classifier, name_version in classifiers_for(posixpath.basename(entry.path)):
            evidence = self.classify(ctx, entry, classifier, name_version)
            if evidence is not None:
                return [self._package(ctx, entry, evidence)]
        return []

    def classify(self, ctx: CatalogContext, entry: FileEntry, classifier: Classifier,
                 name_version: str | None) -> Evidence | None:
        """The version `classifier` reads from `entry` (or from the library it needs)."""
        if classifier.needed is not None:
            evidence = self._from_needed_library(ctx, entry, classifier)
            if evidence is not None:
                return evidence
        version = self._scan(ctx, entry, classifier, name_version)
        if version is not None:
            return Evidence(classifier, version, (entry,))
        if classifier.sibling is not None:
            old, new = classifier.sibling
            base = posixpath.basename(entry.path)
            other = ctx.sibling(entry, new + base[len(old):]) if base.startswith(old) else None
            if other is not None:
                version = self._scan(ctx, other, classifier, name_version)
                if version is not None:
                    return Evidence(classifier, version, (entry, other))
        return None

    def _scan(self, ctx: CatalogContext, entry: FileEntry, classifier: Classifier,
              name_version: str | None) -> str | None:
        patterns = classifier.patterns(name_version)
        if not patterns:
            return None
        limit = classifier.max_bytes or ctx.limits.max_package_file_bytes
        if entry.size > limit:
            if classifier.max_bytes:
                return None  # a big file called VERSION is some other project's
            raise CatalogError(f"{entry.size} bytes, over the {limit}-byte limit for version "
                               "scans", source=entry.path)
        with ctx.open(entry) as handle:
            results = first_matches(handle, entry.size, patterns)
        hit = next((r for r in results if r is not None), None)
        return hit.groups.get("version") if hit is not None else None

    def _from_needed_library(self, ctx: CatalogContext, entry: FileEntry,
                             classifier: Classifier) -> Evidence | None:
        assert classifier.needed is not None
        try:
            with ctx.open(entry) as handle:
                elf = open_elf(handle, entry.size, entry.path)
                needed, runpaths = elf.dynamic() if elf is not None else ([], [])
        except CatalogError:
            return None  # not a usable ELF file: the file's own bytes are still scanned
        for library in needed:
            if not classifier.needed.fullmatch(library):
                continue
            for directory in library_dirs(entry.path, runpaths):
                found = ctx.artifact.resolve(posixpath.join(directory, library))
                if found is None or not found.is_file:
                    continue
                for lib_classifier, lib_version in classifiers_for(library):
                    version = self._scan(ctx, found, lib_classifier, lib_version)
                    if version is not None:
                        return Evidence(classifier, version, (entry, found))
                break  # the loader stops at the first directory holding the library
        return None

    def _package(self, ctx: CatalogContext, entry: FileEntry, evidence: Evidence) -> Package:
        classifier, version = evidence.classifier, evidence.version
        pkg = self.package(
            ctx, entry, classifier.package, version, purl("generic", classifier.package, version),
            cpes=tuple(cpe(product, version) for product in classifier.cpes),
            metadata={"classifier": classifier.cls,
                      "evidence": [f.path for f in evidence.files]})
        extra = tuple(ctx.location(f) for f in evidence.files[1:])
        return replace(pkg, locations=pkg.locations + extra) if extra else pkg
