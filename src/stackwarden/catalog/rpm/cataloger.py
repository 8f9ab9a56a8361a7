"""Installed rpm packages, read from rpm's database in any of its three formats."""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator

from stackwarden.artifact.base import FileEntry
from stackwarden.catalog.base import CatalogContext, Cataloger, FilePatterns, purl
from stackwarden.catalog.rpm.bdb import HASH_MAGIC, read_bdb
from stackwarden.catalog.rpm.header import HeaderError, PackageHeader, parse_package
from stackwarden.catalog.rpm.ndb import read_ndb
from stackwarden.catalog.rpm.records import DatabaseError, Record
from stackwarden.catalog.rpm.sqlite import SQLITE_MAGIC, read_sqlite
from stackwarden.core.models import OSRelease, Package, PackageType

# Syft's RpmDBGlob: **/{var/lib,usr/share,usr/lib/sysimage}/rpm/{Packages,Packages.db,rpmdb.sqlite}
DB_NAMES = frozenset({"Packages", "Packages.db", "rpmdb.sqlite"})
DB_DIRS = ("/var/lib/rpm", "/usr/share/rpm", "/usr/lib/sysimage/rpm")
PSEUDO_PACKAGES = frozenset({"gpg-pubkey"})  # imported signing keys, not software
# purl-spec's rpm namespaces name the vendor; os-release IDs that differ from it.
PURL_NAMESPACES = {"rhel": "redhat", "hummingbird": "redhat"}


def _in_rpm_dir(path: str) -> bool:
    return path[:path.rfind("/")].endswith(DB_DIRS)


def database_format(data: bytes) -> str:
    """Which rpm database format `data` holds: "sqlite", "ndb" or "bdb"."""
    if data.startswith(SQLITE_MAGIC):
        return "sqlite"
    if data[:4] == b"RpmP":
        return "ndb"
    if len(data) >= 16 and HASH_MAGIC in (int.from_bytes(data[12:16], "little"),
                                          int.from_bytes(data[12:16], "big")):
        return "bdb"
    raise DatabaseError("not an rpm database: neither SQLite, Berkeley DB hash nor ndb")


def read_records(data: bytes, wal: bytes | None = None) -> tuple[str, Iterator[Record]]:
    """The database's format and its records, whatever the format."""
    kind = database_format(data)
    if kind == "sqlite":
        return kind, read_sqlite(data, wal)
    if kind == "ndb":
        return kind, read_ndb(data)
    return kind, read_bdb(data)


def rpm_version(epoch: int | None, version: str, release: str) -> str:
    """Syft's version for rpm packages: `[epoch:]version-release` (no epoch when unset)."""
    evr = f"{version}-{release}" if release else version
    return f"{epoch}:{evr}" if epoch is not None else evr


def split_source_rpm(sourcerpm: str) -> tuple[str, str] | None:
    """`name-version-release.src.rpm` -> (name, "version-release"); None if it is not one."""
    for suffix in (".src.rpm", ".nosrc.rpm"):
        if sourcerpm.endswith(suffix):
            stem = sourcerpm[:-len(suffix)]
            break
    else:
        return None
    parts = stem.rsplit("-", 2)
    if len(parts) != 3 or not all(parts):
        return None
    return parts[0], f"{parts[1]}-{parts[2]}"


def rpm_purl(head: PackageHeader, os_release: OSRelease | None) -> str:
    """The package URL Syft builds for an installed rpm (epoch is a qualifier, not version)."""
    namespace = None
    if os_release is not None:
        namespace = PURL_NAMESPACES.get(os_release.id, os_release.id)
        if namespace.startswith("opensuse"):
            namespace = "opensuse"
    version = f"{head.version}-{head.release}" if head.release else head.version
    return purl("rpm", head.name, version, namespace=namespace, qualifiers={
        "arch": head.arch,
        "epoch": str(head.epoch) if head.epoch is not None else "",
        "upstream": head.sourcerpm,
        "distro": os_release.purl_distro if os_release is not None else "",
    })


class RpmDBCataloger(Cataloger):
    """Packages recorded in rpm's database: rpmdb.sqlite, Berkeley DB `Packages`, ndb."""

    name = "rpm-db-cataloger"
    tags = frozenset({"os", "installed", "rpm"})
    patterns = FilePatterns(names=DB_NAMES, accept=_in_rpm_dir)
    package_type = PackageType.RPM

    def parse(self, entry: FileEntry, ctx: CatalogContext) -> Iterable[Package]:
        """Every package in one rpm database; bad records are skipped with their reason."""
        data = ctx.read(entry)
        if not data:
            return []  # an empty placeholder (some images keep one), not a database
        wal = None
        if not ctx.identity_only and entry.path.endswith("/rpmdb.sqlite"):
            log = ctx.sibling(entry, "rpmdb.sqlite-wal")
            wal = ctx.read(log) if log is not None and log.size else None
        kind, records = read_records(data, wal)
        packages: list[Package] = []
        try:
            for record in records:
                found = self._package(entry, ctx, kind, record)
                if found is not None:
                    packages.append(found)
        except (DatabaseError, struct.error) as exc:
            reason = (exc.message if isinstance(exc, DatabaseError)
                      else f"truncated structure: {exc}")
            if not packages:
                raise DatabaseError(reason, source=entry.path) from exc
            # A structure broken half-way: keep what was read, say what was not.
            ctx.skip(entry.path, f"{kind} database partly read: {reason}", self.name)
        return packages

    def _package(self, entry: FileEntry, ctx: CatalogContext, kind: str,
                 record: Record) -> Package | None:
        label = f"record {record.key}" if record.key >= 0 else "a record"
        if record.blob is None:
            ctx.skip(entry.path, f"{label}: {record.problem}", self.name)
            return None
        try:
            head = parse_package(record.blob, with_files=not ctx.identity_only)
        except (HeaderError, struct.error) as exc:
            reason = exc.message if isinstance(exc, HeaderError) else str(exc)
            ctx.skip(entry.path, f"{label}: bad header: {reason}", self.name)
            return None
        if head.name in PSEUDO_PACKAGES:
            return None
        source = split_source_rpm(head.sourcerpm)
        return self.package(
            ctx, entry, head.name, rpm_version(head.epoch, head.version, head.release),
            rpm_purl(head, ctx.os),
            licenses=(head.license,) if head.license else (),
            source_name=source[0] if source else None,
            source_version=source[1] if source else None,
            arch=head.arch or None,
            files=head.files,
            metadata={
                "epoch": head.epoch,  # None: no EPOCH tag; 0: an explicit "Epoch: 0"
                "version": head.version,
                "release": head.release,
                "sourcerpm": head.sourcerpm,
                "vendor": head.vendor,
                "size": head.size,
                "modularity_label": head.modularity_label,
                "db_format": kind,
                "db_key": record.key,
            },
        )
