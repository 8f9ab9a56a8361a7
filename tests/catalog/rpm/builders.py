"""Real rpm databases for the tests: RPMs built by rpmbuild, installed by rpm, in each format.

- rpmdb.sqlite: written by rpm itself (`rpm -i --justdb`, sqlite backend), plus a
  gpg-pubkey imported with `rpmkeys --import`.
- Berkeley DB `Packages`: Debian's rpm 4.18 has only `bdb_ro` (it reads, never writes
  Berkeley DB), so the same header blobs are loaded into hash files by Berkeley DB itself
  (`db_load -t hash`, libdb 5.3) in several page sizes, both byte orders and with page
  checksums; rpm's `bdb_ro` then reads them back as the oracle. Real CentOS 5-8 `Packages`
  files come from Debian's golang-github-knqyf263-go-rpmdb-dev (see `centos_databases`).
- ndb `Packages.db`: Debian's rpm is built without ndb (its backends are sqlite, bdb_ro and
  dummy), so `write_ndb` lays the blobs out as rpm's lib/backend/ndb/rpmpkg.c describes.

Everything is cached under ~/.cache/stackwarden-tests/rpm-<hash of the specs and tools>.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import random
import shutil
import sqlite3
import struct
import subprocess
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

BUILDER_VERSION = "4"  # bump when the layout of the cache changes
CACHE_ROOT = Path(os.environ.get("STACKWARDEN_TEST_CACHE",
                                 Path.home() / ".cache" / "stackwarden-tests"))
CENTOS_TESTDATA = Path("/usr/share/gocode/src/github.com/knqyf263/go-rpmdb/pkg/testdata")
DBPATH = "/var/lib/rpm"

QUERY_FORMAT = ("@@%{NAME}\\t%{EPOCH}\\t%{VERSION}\\t%{RELEASE}\\t%{ARCH}\\t%{SOURCERPM}\\t"
                "%{LICENSE}\\t%{VENDOR}\\t%{LONGSIZE}\\t%{MODULARITYLABEL}\\n"
                "[F\\t%{FILENAMES}\\n]")

HAND_SPECS = {
    # An epoch, a compound license, a vendor, config files, an owned directory, and a
    # subpackage whose source rpm is named after the main package.
    "hello-tool": """\
Name: hello-tool
Version: 1.2.3
Release: 4.el9
Epoch: 2
Summary: A test tool
License: MIT and (GPLv2+ or BSD)
Vendor: StackWarden Tests
%description
A tool.
%package libs
Summary: Its libraries
License: LGPLv2+
BuildArch: noarch
%description libs
Libraries.
%install
mkdir -p %{buildroot}/usr/bin %{buildroot}/etc/hello %{buildroot}/usr/lib/hello
echo hi > %{buildroot}/usr/bin/hello
echo conf > %{buildroot}/etc/hello/hello.conf
echo lib > %{buildroot}/usr/lib/hello/libhello.so
%files
/usr/bin/hello
%config /etc/hello/hello.conf
%dir /etc/hello
%files libs
/usr/lib/hello
""",
    # "Epoch: 0" is an EPOCH tag holding 0: Syft prints "0:" and the PURL has epoch=0.
    "zero-epoch": """\
Name: zero-epoch
Version: 0.9
Release: 1
Epoch: 0
Summary: Explicit epoch zero
License: BSD-3-Clause
BuildArch: noarch
%description
Zero.
%install
mkdir -p %{buildroot}/usr/share/zero
echo 0 > %{buildroot}/usr/share/zero/a
%files
/usr/share/zero/a
""",
    # Tilde and caret versions, no vendor, no files at all.
    "tilde-caret": """\
Name: tilde-caret
Version: 2.0~rc1^git20240101
Release: 0.1.fc40
Summary: Odd version characters
License: ASL 2.0
BuildArch: noarch
%description
Odd.
%files
""",
    # Thousands of files: a header far bigger than a Berkeley DB page (overflow chains).
    "many-files": """\
Name: many-files
Version: 3.1
Release: 7
Summary: Lots of files
License: GPL-2.0-or-later
%description
Many.
%install
for d in $(seq 1 40); do
  mkdir -p %{buildroot}/usr/share/many/dir$d
  for f in $(seq 1 60); do echo $d$f > %{buildroot}/usr/share/many/dir$d/file-$f.txt; done
done
%files
/usr/share/many
""",
}


def generated_specs(count: int = 30, seed: int = 20241129) -> dict[str, str]:
    """Deterministic random specs: names, versions, epochs, licenses, file trees."""
    rng = random.Random(seed)
    licenses = ["MIT", "GPLv2+", "BSD", "ASL 2.0", "LGPLv2+ and MIT", "Public Domain", "ISC"]
    specs = {}
    for number in range(count):
        name = f"gen{number:02d}-{rng.choice(['lib', 'tool', 'py3', 'perl'])}"
        version = ".".join(str(rng.randint(0, 20)) for _ in range(rng.randint(1, 4)))
        if rng.random() < 0.15:
            version += rng.choice(["~beta1", "^post1", "a"])
        release = f"{rng.randint(1, 30)}.{rng.choice(['el8', 'el9', 'fc39', 'mga9', 'lp155'])}"
        epoch = rng.choice([None, None, None, 0, 1, 3, 17])
        arch_line = "BuildArch: noarch\n" if rng.random() < 0.5 else ""
        dirs = rng.randint(0, 4)
        install = []
        files = []
        for d in range(dirs):
            path = f"/usr/share/{name}/d{d}"
            install.append(f"mkdir -p %{{buildroot}}{path}")
            for f in range(rng.randint(1, 5)):
                install.append(f"echo {d}{f} > %{{buildroot}}{path}/f{f}")
                files.append(f"{path}/f{f}")
        sub = rng.random() < 0.3
        spec = (f"Name: {name}\nVersion: {version}\nRelease: {release}\n"
                + (f"Epoch: {epoch}\n" if epoch is not None else "")
                + f"Summary: generated {number}\nLicense: {rng.choice(licenses)}\n"
                + (f"Vendor: Vendor {number % 3}\n" if rng.random() < 0.5 else "")
                + arch_line + "%description\nGenerated.\n")
        if sub:
            spec += "%package extra\nSummary: extra\nLicense: MIT\n%description extra\nExtra.\n"
        spec += "%install\n" + "\n".join(install) + "\n%files\n" + "\n".join(files) + "\n"
        if sub:
            spec += "%files extra\n"
        specs[name] = spec
    return specs


def all_specs() -> dict[str, str]:
    """Every spec the test databases are built from."""
    return {**HAND_SPECS, **generated_specs()}


@dataclass(frozen=True)
class BuiltDatabases:
    """Paths of one cached build: RPMs, and a root per database variant."""

    root: Path

    @property
    def rpms(self) -> list[Path]:
        """The built binary RPMs."""
        return sorted((self.root / "rpms").glob("*.rpm"))

    def db_root(self, variant: str) -> Path:
        """The root directory holding variant's database under /var/lib/rpm."""
        return self.root / "roots" / variant

    def db_file(self, variant: str) -> Path:
        """The database file itself."""
        names = {"sqlite": "rpmdb.sqlite", "ndb": "Packages.db"}
        name = names.get(variant, "Packages")
        return self.db_root(variant) / DBPATH.lstrip("/") / name

    @property
    def variants(self) -> list[str]:
        """Every database variant built."""
        return sorted(p.name for p in (self.root / "roots").iterdir())


def _tool_versions() -> str:
    out = []
    for cmd in (["rpm", "--version"], ["db_load", "-V"]):
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        out.append(done.stdout.strip())
    return "|".join(out)


def built_databases() -> BuiltDatabases:
    """Build (once, cached, under a lock) the RPMs and every database variant."""
    specs = all_specs()
    key = hashlib.sha256(repr((BUILDER_VERSION, sorted(specs.items()), _tool_versions()))
                         .encode()).hexdigest()[:16]
    target = CACHE_ROOT / f"rpm-{key}"
    if (target / "done").exists():
        return BuiltDatabases(target)
    CACHE_ROOT.mkdir(parents=True, exist_ok=True)
    with _locked(CACHE_ROOT / f"rpm-{key}.lock"):
        if not (target / "done").exists():
            staging = CACHE_ROOT / f"rpm-{key}.tmp{os.getpid()}"
            shutil.rmtree(staging, ignore_errors=True)
            _build(staging, specs)
            (staging / "done").write_text(key)
            shutil.rmtree(target, ignore_errors=True)
            staging.rename(target)
    return BuiltDatabases(target)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, **kwargs)  # type: ignore[call-overload]
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {done.stderr[-2000:]}")
    return done


def _build(staging: Path, specs: dict[str, str]) -> None:
    top = staging / "rpmbuild"
    (staging / "rpms").mkdir(parents=True)
    for name, text in specs.items():
        spec = staging / "specs" / f"{name}.spec"
        spec.parent.mkdir(parents=True, exist_ok=True)
        spec.write_text("%define debug_package %{nil}\n" + text)
        _run(["rpmbuild", "--define", f"_topdir {top}", "--define", "_build_id_links none",
              "-bb", str(spec)])
    for rpm in top.glob("RPMS/*/*.rpm"):
        shutil.copy2(rpm, staging / "rpms" / rpm.name)
    rpms = sorted(str(p) for p in (staging / "rpms").glob("*.rpm"))
    sqlite_root = staging / "roots" / "sqlite"
    rpm_cmd = ["rpm", "--root", str(sqlite_root), "--dbpath", DBPATH,
               "--define", "_db_backend sqlite"]
    sqlite_root.mkdir(parents=True)
    _run([*rpm_cmd, "--initdb"])
    _run([*rpm_cmd, "-i", "--nodeps", "--justdb", "--noscripts", *rpms])
    _import_key(staging, sqlite_root)
    for lock in sqlite_root.rglob(".rpm.lock"):
        lock.unlink()
    blobs = sqlite_blobs(sqlite_root / DBPATH.lstrip("/") / "rpmdb.sqlite")
    for variant, options in BDB_VARIANTS.items():
        out = staging / "roots" / variant / DBPATH.lstrip("/") / "Packages"
        out.parent.mkdir(parents=True)
        db_load_hash(blobs, out, options)
    ndb = staging / "roots" / "ndb" / DBPATH.lstrip("/") / "Packages.db"
    ndb.parent.mkdir(parents=True)
    ndb.write_bytes(write_ndb(blobs))


# name -> db_load -c options; little-endian is what rpm on x86 writes. With 64 KiB pages
# most headers fit inline (H_KEYDATA) instead of in overflow chains.
BDB_VARIANTS = {
    "bdb-4k": {"db_pagesize": "4096"},
    "bdb-512-be": {"db_pagesize": "512", "db_lorder": "4321"},
    "bdb-64k": {"db_pagesize": "65536"},
    "bdb-1k-chksum": {"db_pagesize": "1024", "chksum": "1"},
}
# rpm's bdb_ro cannot read checksummed pages (rpm never writes them): for that variant,
# and for ndb, the oracle is rpm's reading of the sqlite database holding the same blobs.
ORACLE_BACKEND = {"sqlite": "sqlite", "bdb-4k": "bdb_ro", "bdb-512-be": "bdb_ro",
                  "bdb-64k": "bdb_ro"}


def _import_key(staging: Path, root: Path) -> None:
    """Import a fresh OpenPGP key, which rpm records as a gpg-pubkey pseudo-package."""
    home = staging / "gnupg"
    home.mkdir(mode=0o700)
    env = {**os.environ, "GNUPGHOME": str(home)}
    _run(["gpg", "--batch", "--passphrase", "", "--quick-gen-key",
          "StackWarden Test <test@example.invalid>", "rsa2048", "sign", "never"], env=env)
    key = staging / "key.asc"
    key.write_text(_run(["gpg", "--armor", "--export"], env=env).stdout)
    _run(["rpmkeys", "--root", str(root), "--dbpath", DBPATH, "--define", "_db_backend sqlite",
          "--import", str(key)])
    shutil.rmtree(home, ignore_errors=True)


def sqlite_blobs(path: Path) -> list[tuple[int, bytes]]:
    """(hnum, header blob) rows of an rpmdb.sqlite file."""
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        return [(h, bytes(b)) for h, b in conn.execute("SELECT hnum, blob FROM Packages")]


def db_load_hash(blobs: list[tuple[int, bytes]], out: Path, options: dict[str, str]) -> None:
    """Write a Berkeley DB hash file with libdb's own db_load, keyed like rpm's Packages."""
    order = "<" if options.get("db_lorder", "1234") == "1234" else ">"
    records = [(0, struct.pack(order + "I", max(h for h, _ in blobs) + 1))]  # rpm's counter
    records += blobs
    lines = []
    for hnum, blob in records:
        lines.append(_escape(struct.pack(order + "I", hnum)))
        lines.append(_escape(blob))
    cmd = ["db_load", "-T", "-t", "hash"]
    for name, value in options.items():
        cmd += ["-c", f"{name}={value}"]
    _run([*cmd, str(out)], input="\n".join(lines) + "\n")


def _escape(data: bytes) -> str:
    return "".join(f"\\{b:02x}" for b in data)


def write_ndb(blobs: list[tuple[int, bytes]], *, slot_pages: int = 1) -> bytes:
    """An ndb Packages.db holding `blobs` (pkgidx, header), laid out as rpmpkg.c writes it."""
    page, block = 4096, 16
    head = struct.pack("<5I", int.from_bytes(b"RpmP", "little"), 0, 1, slot_pages,
                       max((i for i, _ in blobs), default=0) + 1) + bytes(12)
    slots = bytearray(head)
    body = bytearray()
    next_block = slot_pages * page // block
    entries = []
    for pkgidx, blob in blobs:
        blkcnt = -(-(16 + len(blob) + 12) // block)
        blob_head = struct.pack("<4I", int.from_bytes(b"BlbS", "little"), pkgidx, 0, len(blob))
        padding = bytes(blkcnt * block - 16 - len(blob) - 12)
        checksum = zlib.adler32(blob_head + blob + padding)
        tail = struct.pack("<3I", checksum, len(blob), int.from_bytes(b"BlbE", "little"))
        body += blob_head + blob + padding + tail
        entries.append((pkgidx, next_block, blkcnt))
        next_block += blkcnt
    capacity = slot_pages * page // 16 - 2
    if len(entries) > capacity:
        raise ValueError(f"{len(entries)} blobs need more than {slot_pages} slot pages")
    for pkgidx, blkoff, blkcnt in entries:
        slots += struct.pack("<4I", int.from_bytes(b"Slot", "little"), pkgidx, blkoff, blkcnt)
    while len(slots) < slot_pages * page:
        slots += struct.pack("<4I", int.from_bytes(b"Slot", "little"), 0, 0, 0)
    return bytes(slots + body)


def rpm_query(root: Path, backend: str) -> dict[tuple[str, str], dict[str, object]]:
    """rpm's own view of a database: {(name, evr-with-arch): fields}, gpg-pubkey included."""
    done = _run(["rpm", "--root", str(root), "--dbpath", DBPATH, "--define",
                 f"_db_backend {backend}", "-qa", "--qf", QUERY_FORMAT])
    packages: dict[tuple[str, str], dict[str, object]] = {}
    for chunk in done.stdout.split("@@")[1:]:
        lines = chunk.rstrip("\n").split("\n")
        fields = lines[0].split("\t")
        none = lambda v: "" if v == "(none)" else v  # noqa: E731
        record = {
            "name": fields[0],
            "epoch": None if fields[1] == "(none)" else int(fields[1]),
            "version": fields[2], "release": fields[3], "arch": none(fields[4]),
            "sourcerpm": none(fields[5]), "license": none(fields[6]),
            "vendor": none(fields[7]), "size": int(fields[8]) if fields[8] != "(none)" else None,
            "modularity_label": none(fields[9]),
            "files": tuple(line[2:] for line in lines[1:] if line.startswith("F\t")),
        }
        packages[(record["name"], f"{fields[1]}:{fields[2]}-{fields[3]}.{fields[4]}")] = record
    return packages


def centos_databases() -> list[Path]:
    """Real CentOS 5-8 Berkeley DB `Packages` files shipped in a Debian package's test data."""
    return sorted(CENTOS_TESTDATA.glob("*/Packages"))


def file_digest(path: Path) -> str:
    """sha256 of a file (cache keys)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
