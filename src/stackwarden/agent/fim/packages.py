"""What the package manager recorded for a file, so its own updates are not called tampering.

dpkg keeps an MD5 per shipped file in `/var/lib/dpkg/info/PKG[:ARCH].md5sums` (rewritten when
the package is upgraded); rpm keeps per-file digests (FILEDIGESTS, algorithm FILEDIGESTALGO,
SHA-256 on current distributions) in its database. A changed file whose content matches the
digest its package records now was written by the package manager.
"""

from __future__ import annotations

import glob
import hashlib
import os
from dataclasses import dataclass

from stackwarden.core.errors import StackWardenError

# The package databases are read with the catalogers' own parsers, imported when first needed
# (a check that finds no change never loads them).

TAG_FILEDIGESTS = 1035
TAG_FILEDIGESTALGO = 5011
# rpm's PGPHASHALGO numbers; MD5 when the header has no FILEDIGESTALGO.
RPM_DIGEST_ALGOS = {1: "md5", 2: "sha1", 8: "sha256", 9: "sha384", 10: "sha512", 11: "sha224"}
_USRMERGE = ("/bin/", "/sbin/", "/lib/", "/lib32/", "/lib64/", "/libx32/")
MAX_DB_BYTES = 512 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class PackageFile:
    """A file as its package records it."""

    manager: str  # "dpkg" or "rpm"
    package: str
    version: str
    algorithm: str  # hashlib name
    digest: str  # hex

    def to_dict(self) -> dict[str, str]:
        """The `package` field of a change."""
        return {"manager": self.manager, "name": self.package, "version": self.version}


class PackageDigests:
    """Per-file digests of dpkg and rpm under a system root, loaded on first use."""

    def __init__(self, root: str = "/") -> None:
        self.root = os.path.abspath(root)
        self._files: dict[str, PackageFile] | None = None
        self.notes: list[str] = []

    def _host(self, path: str) -> str:
        return path if self.root == "/" else self.root + path

    def _load(self) -> dict[str, PackageFile]:
        files: dict[str, PackageFile] = {}
        self._load_rpm(files)
        self._load_dpkg(files)
        return files

    def _dpkg_versions(self) -> dict[str, str]:
        from stackwarden.catalog.dpkg import STATUS, parse_control

        try:
            with open(self._host(STATUS), encoding="utf-8", errors="replace") as handle:
                text = handle.read()
        except OSError:
            return {}
        return {s.get("Package", ""): s.get("Version", "") for s in parse_control(text)}

    def _load_dpkg(self, files: dict[str, PackageFile]) -> None:
        from stackwarden.catalog.dpkg import INFO_DIR, STATUS_D

        lists = glob.glob(glob.escape(self._host(INFO_DIR)) + "/*.md5sums")
        lists += glob.glob(glob.escape(self._host(STATUS_D)) + "/*.md5sums")
        if not lists:
            return
        versions = self._dpkg_versions()
        for path in sorted(lists):
            name = os.path.basename(path)[:-len(".md5sums")].split(":", 1)[0]
            try:
                with open(path, encoding="utf-8", errors="surrogateescape") as handle:
                    for line in handle:
                        digest, _, rel = line.rstrip("\n").partition("  ")
                        if len(digest) == 32 and rel:
                            files["/" + rel.lstrip("/")] = PackageFile(
                                "dpkg", name, versions.get(name, ""), "md5", digest.lower())
            except OSError as exc:
                self.notes.append(f"{path}: cannot read: {exc.strerror}")

    def _load_rpm(self, files: dict[str, PackageFile]) -> None:
        from stackwarden.catalog.rpm.cataloger import DB_DIRS, DB_NAMES

        for directory in DB_DIRS:
            for name in sorted(DB_NAMES):
                path = self._host(f"{directory}/{name}")
                if os.path.isfile(path):
                    self._read_rpmdb(path, files)
                    return

    def _read_rpmdb(self, path: str, files: dict[str, PackageFile]) -> None:
        from stackwarden.catalog.rpm.cataloger import read_records

        try:
            if os.path.getsize(path) > MAX_DB_BYTES:
                self.notes.append(f"{path}: larger than {MAX_DB_BYTES} bytes; not read")
                return
            with open(path, "rb") as handle:
                data = handle.read()
            wal_path = path + "-wal"
            wal = None
            if path.endswith(".sqlite") and os.path.isfile(wal_path):
                with open(wal_path, "rb") as handle:
                    wal = handle.read()
            _, records = read_records(data, wal)
            for record in records:
                if record.blob is not None:
                    self._rpm_header(record.blob, files)
        except (OSError, StackWardenError) as exc:
            self.notes.append(f"{path}: cannot read the rpm database: {exc}")

    def _rpm_header(self, blob: bytes, files: dict[str, PackageFile]) -> None:
        from stackwarden.catalog.rpm.header import (
            TAG_NAME,
            TAG_RELEASE,
            TAG_VERSION,
            Header,
            HeaderError,
            owned_files,
        )

        try:
            header = Header(blob)
            digests = header.strings(TAG_FILEDIGESTS) if header.has(TAG_FILEDIGESTS) else []
            if not digests:
                return
            algo = RPM_DIGEST_ALGOS.get(header.integer(TAG_FILEDIGESTALGO) or 1)
            names = owned_files(header)
            name = header.string(TAG_NAME) or ""
            version = f"{header.string(TAG_VERSION) or ''}-{header.string(TAG_RELEASE) or ''}"
        except (HeaderError, ValueError):
            return
        if algo is None or len(names) != len(digests):
            return
        for file, digest in zip(names, digests, strict=True):
            if digest:  # directories, symlinks and ghosts have none
                files[file] = PackageFile("rpm", name, version, algo, digest.lower())

    def lookup(self, path: str) -> PackageFile | None:
        """The package record for a path inside the root (usr-merged aliases tried too)."""
        if self._files is None:
            self._files = self._load()
        found = self._files.get(path)
        if found is None and path.startswith("/usr/") and path[4:].startswith(_USRMERGE):
            found = self._files.get(path[4:])
        elif found is None and path.startswith(_USRMERGE):
            found = self._files.get("/usr" + path)
        return found

    def relative(self, host_path: str) -> str | None:
        """A host path as a path inside the root (None when outside it)."""
        if self.root == "/":
            return host_path
        if host_path == self.root or host_path.startswith(self.root + "/"):
            return host_path[len(self.root):] or "/"
        return None


def file_digest(path: str, algorithm: str) -> str | None:
    """The hex digest of a file with a hashlib algorithm (None when unreadable)."""
    try:
        with open(path, "rb", buffering=0) as handle:
            return hashlib.file_digest(handle, algorithm).hexdigest()
    except (OSError, ValueError):
        return None
