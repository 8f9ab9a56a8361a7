"""Alpine packages: the apk installed database, `/lib/apk/db/installed`."""

from __future__ import annotations

from collections.abc import Iterable

from stackwarden.artifact.base import FileEntry
from stackwarden.catalog.base import Cataloger, CatalogContext, FilePatterns, purl
from stackwarden.core.errors import CatalogError
from stackwarden.core.models import Package, PackageType

INSTALLED = "/lib/apk/db/installed"


def parse_installed(text: str) -> list[dict[str, list[str]]]:
    """Split the apk database into records: `X:value` lines, records separated by blank lines.

    Values are kept as lists because F:/R: (directories and files) repeat within a record.
    """
    records: list[dict[str, list[str]]] = []
    current: dict[str, list[str]] = {}
    for line in text.splitlines():
        if not line.strip():
            if current:
                records.append(current)
                current = {}
            continue
        if len(line) < 2 or line[1] != ":":
            continue
        current.setdefault(line[0], []).append(line[2:])
    if current:
        records.append(current)
    return records


def owned_files(raw_lines: list[str]) -> tuple[str, ...]:
    """The paths a record owns, from its F: (directory) and R: (file) lines, in order."""
    files: list[str] = []
    directory = ""
    for line in raw_lines:
        if line.startswith("F:"):
            directory = line[2:]
        elif line.startswith("R:"):
            files.append("/" + (directory + "/" if directory else "") + line[2:])
    return tuple(files)


class ApkCataloger(Cataloger):
    """Packages apk installed, with origin (source) package, license and owned files."""

    name = "apk-db-cataloger"
    tags = frozenset({"os", "installed", "apk"})
    package_type = PackageType.APK
    patterns = FilePatterns(names=frozenset({"installed"}),
                            accept=lambda p: p.endswith(INSTALLED))

    def parse(self, entry: FileEntry, ctx: CatalogContext) -> Iterable[Package]:
        text = ctx.text(entry)
        if "P:" not in text:
            raise CatalogError("no package records", source=entry.path)
        packages = []
        # Keep each record's raw lines too: F:/R: pairing depends on their order.
        blocks = [b for b in text.replace("\r\n", "\n").split("\n\n") if b.strip()]
        for block in blocks:
            lines = block.splitlines()
            records = parse_installed(block)
            if not records:
                continue
            record = records[0]
            name = (record.get("P") or [""])[0]
            version = (record.get("V") or [""])[0]
            if not name or not version:
                continue
            arch = (record.get("A") or [""])[0]
            origin = (record.get("o") or [name])[0]
            license_field = (record.get("L") or [""])[0]
            qualifiers = {"arch": arch, "upstream": origin,
                          "distro": ctx.os.purl_distro if ctx.os else ""}
            package_url = purl("apk", name, version,
                               namespace=ctx.os.id if ctx.os else "alpine", qualifiers=qualifiers)
            packages.append(self.package(
                ctx, entry, name, version, package_url,
                licenses=(license_field,) if license_field else (),
                arch=arch or None, source_name=origin, source_version=version,
                files=() if ctx.identity_only else owned_files(lines),
                metadata={"origin": origin, "maintainer": (record.get("m") or [""])[0],
                          "url": (record.get("U") or [""])[0],
                          "commit": (record.get("c") or [""])[0],
                          "depends": " ".join(record.get("D") or []),
                          "provides": " ".join(record.get("p") or [])},
            ))
        return packages
