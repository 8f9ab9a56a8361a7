"""Debian packages: `/var/lib/dpkg/status` and the distroless `status.d/` directory."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Iterator

from stackwarden.artifact.base import FileEntry
from stackwarden.catalog.base import Cataloger, CatalogContext, FilePatterns, purl
from stackwarden.core.errors import CatalogError, StackWardenError
from stackwarden.core.models import Package, PackageType

STATUS = "/var/lib/dpkg/status"
STATUS_D = "/var/lib/dpkg/status.d"
INFO_DIR = "/var/lib/dpkg/info"
# Package states whose files are on disk; "config-files" and "not-installed" have none.
PRESENT_STATES = frozenset({"installed", "half-configured", "unpacked", "half-installed",
                            "triggers-awaited", "triggers-pending"})
_SOURCE = re.compile(r"^(?P<name>\S+)(?:\s+\((?P<version>[^)]+)\))?\s*$")
_LICENSE_FIELD = re.compile(r"^License:[ \t]*(?P<license>\S[^\n]*?)[ \t]*$", re.MULTILINE)
_COMMON_LICENSE = re.compile(r"/usr/share/common-licenses/(?P<license>[0-9A-Za-z_.+\-]+)")
COPYRIGHT_LIMIT = 4 * 1024 * 1024


def parse_control(text: str) -> Iterator[dict[str, str]]:
    """Parse deb822 stanzas (blank-line separated, continuation lines start with whitespace)."""
    for block in re.split(r"\n[ \t]*\n", text):
        fields: dict[str, str] = {}
        key = ""
        for line in block.splitlines():
            if not line or line.startswith("#"):
                continue
            if line[0] in " \t":
                if key:
                    fields[key] += "\n" + line.strip()
                continue
            key, sep, value = line.partition(":")
            if not sep:
                key = ""
                continue
            key = key.strip()
            fields[key] = value.strip()
        if fields:
            yield fields


def parse_source(field: str, name: str, version: str) -> tuple[str, str]:
    """`Source: glibc (2.36-9)` -> ("glibc", "2.36-9"); absent -> the binary's own name/version."""
    match = _SOURCE.match(field.strip()) if field else None
    if not match:
        return name, version
    return match.group("name"), match.group("version") or version


def copyright_licenses(text: str) -> tuple[str, ...]:
    """License short names named in a Debian copyright file (DEP-5 fields, common-licenses)."""
    found = [m.group("license").rstrip(".,;") for m in _LICENSE_FIELD.finditer(text)]
    found += [m.group("license").rstrip(".,;") for m in _COMMON_LICENSE.finditer(text)]
    return tuple(dict.fromkeys(x for x in found if x))


class DpkgCataloger(Cataloger):
    """Packages dpkg installed, with source package, owned files and copyright licenses."""

    name = "dpkg-db-cataloger"
    tags = frozenset({"os", "installed", "deb"})
    package_type = PackageType.DEB
    patterns = FilePatterns(
        names=frozenset({"status"}),
        parents=frozenset({STATUS_D}),
        accept=lambda p: p.endswith(STATUS)
        or (p.startswith(STATUS_D + "/") and not p.endswith(".md5sums")),
    )

    def parse(self, entry: FileEntry, ctx: CatalogContext) -> Iterable[Package]:
        text = ctx.text(entry)
        if "Package:" not in text:
            raise CatalogError("no Package stanzas", source=entry.path)
        distroless = not entry.path.endswith(STATUS)
        # A status file may sit in a nested root (a chroot inside a directory target).
        root = "" if distroless else entry.path[: -len(STATUS)]
        packages = []
        for stanza in parse_control(text):
            pkg = self._package(stanza, entry, ctx, root, distroless)
            if pkg is not None:
                packages.append(pkg)
        return packages

    def _package(self, stanza: dict[str, str], entry: FileEntry, ctx: CatalogContext,
                 root: str, distroless: bool) -> Package | None:
        name = stanza.get("Package", "")
        version = stanza.get("Version", "")
        if not name or not version:
            return None
        status = stanza.get("Status", "")
        if status and status.split()[-1] not in PRESENT_STATES:
            return None
        arch = stanza.get("Architecture", "")
        source_name, source_version = parse_source(stanza.get("Source", ""), name, version)
        distro = ctx.os.id if ctx.os else "debian"
        upstream = source_name if source_version == version else f"{source_name}@{source_version}"
        qualifiers = {"arch": arch,
                      "upstream": upstream if source_name != name or source_version != version
                      else "",
                      "distro": ctx.os.purl_distro if ctx.os else ""}
        package_url = purl("deb", name, version, namespace=distro, qualifiers=qualifiers)
        files: tuple[str, ...] = ()
        licenses: tuple[str, ...] = ()
        if not ctx.identity_only:
            files = self._owned_files(ctx, root, name, arch, entry, distroless)
            licenses = self._licenses(ctx, root, name)
        return self.package(
            ctx, entry, name, version, package_url, licenses=licenses, arch=arch or None,
            source_name=source_name, source_version=source_version, files=files,
            metadata={"maintainer": stanza.get("Maintainer", ""),
                      "installed_size_kib": stanza.get("Installed-Size", ""),
                      "provides": stanza.get("Provides", ""),
                      "depends": stanza.get("Depends", ""),
                      "pre_depends": stanza.get("Pre-Depends", "")},
        )

    def _owned_files(self, ctx: CatalogContext, root: str, name: str, arch: str,
                     entry: FileEntry, distroless: bool) -> tuple[str, ...]:
        candidates = [f"{root}{INFO_DIR}/{name}:{arch}.list", f"{root}{INFO_DIR}/{name}.list",
                      f"{root}{INFO_DIR}/{name}:{arch}.md5sums",
                      f"{root}{INFO_DIR}/{name}.md5sums"]
        if distroless:
            candidates.insert(0, posixpath.join(posixpath.dirname(entry.path),
                                                posixpath.basename(entry.path) + ".md5sums"))
            candidates.insert(1, f"{root}{STATUS_D}/{name}.md5sums")
        for path in candidates:
            found = ctx.artifact.resolve(path)
            if found is None or not found.is_file:
                continue
            try:
                text = ctx.text(found)
            except StackWardenError as exc:
                ctx.skip(path, exc.message, self.name)
                continue
            if path.endswith(".md5sums"):
                lines = ("/" + line.split(None, 1)[1].strip()
                         for line in text.splitlines() if len(line.split(None, 1)) == 2)
            else:
                lines = (line.strip() for line in text.splitlines())
            return tuple(sorted({p for p in lines if p and p not in ("/.", "/")}))
        return ()

    def _licenses(self, ctx: CatalogContext, root: str, name: str) -> tuple[str, ...]:
        found = ctx.artifact.resolve(f"{root}/usr/share/doc/{name}/copyright")
        if found is None or not found.is_file:
            return ()
        try:
            return copyright_licenses(ctx.text(found, COPYRIGHT_LIMIT))
        except StackWardenError:
            return ()
