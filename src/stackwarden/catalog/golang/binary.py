"""Go modules compiled into executables, read from the linker's embedded build info.

Every executable of an artifact comes through here, so a non-ELF file costs one 4-byte read and
an ELF file without a `.go.buildinfo` section a few header reads. For each Go binary the main
module, every dependency (replacements applied) and the Go standard library are reported, as
Syft's go-module-binary-cataloger reports them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, BinaryIO

from stackwarden.artifact.base import FileEntry
from stackwarden.catalog.base import Cataloger, CatalogContext, FilePatterns
from stackwarden.catalog.contents import first_anchored
from stackwarden.catalog.elf import open_elf
from stackwarden.catalog.golang.buildinfo import DEVEL, BuildInfo, Module, read_build_info
from stackwarden.catalog.golang.package import (golang_purl, pseudo_version, split_go_version,
                                               stdlib_cpe)
from stackwarden.core.models import Package, PackageType

MIN_ELF = 52  # smaller files cannot hold an ELF header

# Syft's patterns for a version set with `-ldflags -X ...version=` / `...tag=`.
_LDFLAGS = (
    re.compile(r"\.[a-zA-Z0-9]*([rR]elease)?([gG]it)?([bB]uild)?[vV]er(sion)?="
               r"(\S+/)*(?P<version>v?\d+.\d+.\d+[-\w]*)", re.ASCII | re.MULTILINE),
    re.compile(r"\.[a-zA-Z0-9]*([tT]ag)=(\S+/)*(?P<version>v?\d+.\d+.\d+[-\w]*)",
               re.ASCII | re.MULTILINE),
)
# Syft's guess from the binary's bytes: a NUL-terminated semantic version after a NUL or a
# non-UTF-8 byte (Go's regexp sees invalid UTF-8 as U+FFFD, approximated by any high byte).
CONTENTS_VERSION = re.compile(rb"(?:\x00|[\x80-\xff])(?:[^\n]L)?(?P<version>v?\d+\.\d+\.\d+[-\w]*"
                       rb"[+\w]*)\x00", re.ASCII)


class GoModuleBinaryCataloger(Cataloger):
    """Go modules and the Go standard library recorded in Go executables' build info."""

    name = "go-module-binary-cataloger"
    tags = frozenset({"installed", "language", "binary", "go"})
    patterns = FilePatterns(executables=True)
    package_type = PackageType.GO

    def parse(self, entry: FileEntry, ctx: CatalogContext) -> Iterable[Package]:
        if entry.size < MIN_ELF:
            return []
        with ctx.open(entry) as handle:
            elf = open_elf(handle, entry.size, entry.path)
            if elf is None:
                return []
            info = read_build_info(elf)
            if info is None:
                return []
            arch = info.setting("GOARCH") or elf.arch
            return self._packages(ctx, entry, info, arch, handle)

    def _packages(self, ctx: CatalogContext, entry: FileEntry, info: BuildInfo, arch: str,
                  handle: BinaryIO) -> list[Package]:
        go_version, experiments = split_go_version(info.go_version)
        main, deps = settle_main_module(info)
        common: dict[str, Any] = {"go_version": go_version, "architecture": arch,
                                  "main_module": main.path if main else ""}
        if experiments:
            common["go_experiments"] = experiments
        found: list[Package] = []
        for dep in deps:
            module = dep.replace or dep
            if not module.path:
                continue
            meta = {**common, "h1_digest": module.sum}
            if dep.replace is not None:
                meta["replaces"] = f"{dep.path}@{dep.version}" if dep.version else dep.path
            found.append(self.package(ctx, entry, module.path, module.version,
                                      golang_purl(module.path, module.version), metadata=meta))
        if main is not None:
            version, source = main.version, "build-info"
            if version == DEVEL:
                version, source = self._main_version(ctx, entry, info, handle)
            settings = dict(info.settings)
            meta = {**common, "h1_digest": main.sum, "version_source": source,
                    "build_settings": settings}
            for key in ("GOOS", "vcs.revision", "vcs.time", "vcs.modified", "-ldflags"):
                if key in settings:
                    meta[key.replace("vcs.", "vcs_").lstrip("-").lower()] = settings[key]
            found.append(self.package(ctx, entry, main.path, version,
                                      golang_purl(main.path, version), metadata=meta))
        cpe = stdlib_cpe(go_version)
        if found and cpe is not None:
            found.append(self.package(
                ctx, entry, "stdlib", go_version,
                golang_purl("stdlib", go_version.removeprefix("go")), cpes=(cpe,),
                licenses=("BSD-3-Clause",), metadata={**common, "h1_digest": ""}))
        return found

    def _main_version(self, ctx: CatalogContext, entry: FileEntry, info: BuildInfo,
                      handle: BinaryIO) -> tuple[str, str]:
        """A better version than `(devel)`, tried in Syft's order: a version set with
        -ldflags, a version string in the binary, then a pseudo-version from the VCS stamp."""
        ldflags = info.setting("-ldflags") or ""
        for pattern in _LDFLAGS:
            match = pattern.search(ldflags)
            if match:
                return _v(match.group("version")), "ldflags"
        if entry.size <= ctx.limits.max_package_file_bytes:
            hit = first_anchored(handle, entry.size, CONTENTS_VERSION, b"0.0")
            if hit is not None:
                return _v(hit.groups["version"]), "contents"
        revision, when = info.setting("vcs.revision"), info.setting("vcs.time")
        if revision and when:
            return pseudo_version(revision, when), "vcs"
        return DEVEL, "build-info"


def settle_main_module(info: BuildInfo) -> tuple[Module | None, tuple[Module, ...]]:
    """The main module and the dependencies, as Syft settles them when the build info has no
    usable `mod` line: `go build file.go` records `path command-line-arguments` and lists the
    real main module as the one `(devel)` dependency; GOPATH builds name only the package."""
    main, deps = info.main, info.deps
    partial = main is not None and main == Module("command-line-arguments")
    if (main is None and info.path) or partial:
        candidates = [i for i, dep in enumerate(deps) if dep.version == DEVEL]
        if len(candidates) == 1:
            index = candidates[0]
            return deps[index], deps[:index] + deps[index + 1:]
        return Module(info.path, DEVEL), deps
    return main, deps


def _v(version: str) -> str:
    return version if version.startswith("v") else "v" + version
