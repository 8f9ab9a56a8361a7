"""Build the sample image: real Debian packages, real wheels and real npm tarballs, three layers.

Nothing is faked: the .deb files come from `apt-get download`, the wheels from `pip download`,
the npm tarballs from registry.npmjs.org. dpkg's status and info files are written exactly as
dpkg writes them when it installs those packages (without running maintainer scripts).
"""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterable
from pathlib import Path

import httpx

from stackwarden.artifact.build import ImageSpec, write_oci_layout
from stackwarden.core.config import cache_dir
from stackwarden.core.errors import ArtifactError
from stackwarden.sample.debs import DebPackage, read_deb
from stackwarden.sample.planted import cleanup_layer, planted_layer

SAMPLE_DEBS = ("base-files", "libc6", "zlib1g", "libssl3", "openssl", "libexpat1")
SAMPLE_WHEELS = ("requests==2.19.0", "urllib3==1.24.1", "idna==2.7", "chardet==3.0.4",
                 "certifi==2018.4.16", "Jinja2==2.10", "Flask==0.12", "Werkzeug==0.14.1")
SAMPLE_NPM = (("lodash", "4.17.15"), ("minimist", "1.2.0"), ("ms", "2.0.0"),
              ("debug", "2.6.8"), ("qs", "6.5.1"))
SITE_PACKAGES = "usr/local/lib/python3.11/site-packages"
# Real vulnerabilities of the sample's packages, as OSV records (facts: ids, fixed versions).
SAMPLE_ADVISORIES = Path(__file__).with_name("advisories.json")
NPM_REGISTRY = "https://registry.npmjs.org"


def _run(cmd: list[str], cwd: Path, what: str) -> None:
    try:
        done = subprocess.run(cmd, cwd=cwd, capture_output=True, timeout=600, check=False)
    except FileNotFoundError as exc:
        raise ArtifactError(f"{cmd[0]} is not installed; it is needed to fetch {what}",
                            source="sample image") from exc
    if done.returncode != 0:
        tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:]
        raise ArtifactError(f"fetching {what} failed: {' '.join(tail)}", source="sample image")


def fetch_debs(names: Iterable[str], dest: Path) -> list[Path]:
    """`apt-get download` each package (once; kept in `dest`)."""
    dest.mkdir(parents=True, exist_ok=True)
    missing = [n for n in names if not list(dest.glob(f"{n}_*.deb"))]
    if missing:
        _run(["apt-get", "download", *missing], dest, "Debian packages")
    return [sorted(dest.glob(f"{n}_*.deb"))[-1] for n in names]


def fetch_wheels(specs: Iterable[str], dest: Path) -> list[Path]:
    """`pip download` each pinned wheel (no dependencies, binary only)."""
    dest.mkdir(parents=True, exist_ok=True)
    _run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary",
          ":all:", "--python-version", "3.11", "--dest", str(dest), *specs], dest, "wheels")
    return sorted(dest.glob("*.whl"))


def fetch_npm(packages: Iterable[tuple[str, str]], dest: Path) -> list[Path]:
    """Download npm tarballs from the public registry."""
    dest.mkdir(parents=True, exist_ok=True)
    paths = []
    with httpx.Client(timeout=60, follow_redirects=True) as client:
        for name, version in packages:
            path = dest / f"{name}-{version}.tgz"
            if not path.exists():
                try:
                    response = client.get(f"{NPM_REGISTRY}/{name}/-/{name}-{version}.tgz")
                    response.raise_for_status()
                except httpx.HTTPError as exc:
                    raise ArtifactError(f"fetching npm package {name}@{version} failed: {exc}",
                                        source="sample image") from exc
                path.write_bytes(response.content)
            paths.append(path)
    return paths


class _LayerWriter:
    """An uncompressed layer tar built entry by entry; parent directories added once."""

    def __init__(self) -> None:
        self.buffer = io.BytesIO()
        self.tar = tarfile.open(fileobj=self.buffer, mode="w", format=tarfile.PAX_FORMAT)
        self.dirs: set[str] = set()

    def _parents(self, path: str) -> None:
        parts = path.strip("/").split("/")[:-1]
        for i in range(1, len(parts) + 1):
            directory = "/".join(parts[:i])
            if directory not in self.dirs:
                self.dirs.add(directory)
                info = tarfile.TarInfo(directory)
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                self.tar.addfile(info)

    def add_bytes(self, path: str, data: bytes, mode: int = 0o644) -> None:
        """Add a regular file."""
        path = path.strip("/")
        self._parents(path)
        info = tarfile.TarInfo(path)
        info.size, info.mode = len(data), mode
        self.tar.addfile(info, io.BytesIO(data))

    def add_tar(self, data: bytes, prefix: str = "", strip: int = 0) -> None:
        """Copy every member of another tar (e.g. a .deb's data.tar), optionally re-rooted."""
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as source:
            for member in source:
                parts = [p for p in member.name.split("/") if p not in ("", ".")][strip:]
                if not parts:
                    continue
                name = "/".join([prefix.strip("/"), *parts]).strip("/")
                if member.isdir():
                    if name in self.dirs:
                        continue
                    self._parents(name)
                    self.dirs.add(name)
                else:
                    self._parents(name)
                handle = source.extractfile(member) if member.isfile() else None
                member.name = name
                member.mtime = 0
                member.uname = member.gname = ""
                self.tar.addfile(member, handle)

    def finish(self) -> bytes:
        """The finished tar's bytes."""
        self.tar.close()
        return self.buffer.getvalue()


def debian_layer(debs: list[DebPackage]) -> bytes:
    """Packages unpacked as dpkg would, with the status database and info files it keeps."""
    layer = _LayerWriter()
    stanzas = []
    for deb in debs:
        fields = deb.fields
        name, arch = fields["Package"], fields.get("Architecture", "")
        layer.add_tar(deb.data_tar)
        info = f"var/lib/dpkg/info/{name}{':' + arch if fields.get('Multi-Arch') == 'same' else ''}"
        layer.add_bytes(f"{info}.list", ("\n".join(deb.file_list()) + "\n").encode())
        if deb.md5sums:
            layer.add_bytes(f"{info}.md5sums", deb.md5sums.encode())
        control = deb.control.strip().splitlines()
        control.insert(1, "Status: install ok installed")
        stanzas.append("\n".join(control))
    layer.add_bytes("var/lib/dpkg/status", ("\n\n".join(stanzas) + "\n").encode())
    return layer.finish()


def python_layer(wheels: list[Path]) -> bytes:
    """Wheels unpacked into site-packages (what `pip install` leaves, minus compiled files)."""
    layer = _LayerWriter()
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as archive:
            for info in archive.infolist():
                if not info.is_dir():
                    layer.add_bytes(f"{SITE_PACKAGES}/{info.filename}", archive.read(info))
    return layer.finish()


def node_layer(tarballs: list[Path]) -> bytes:
    """An application directory with npm packages unpacked into node_modules."""
    layer = _LayerWriter()
    dependencies = {}
    for tarball in tarballs:
        name, _, version = tarball.name[: -len(".tgz")].rpartition("-")
        dependencies[name] = version
        layer.add_tar(tarball.read_bytes(), prefix=f"app/node_modules/{name}", strip=1)
    import json

    manifest = {"name": "sample-app", "version": "1.0.0", "private": True,
                "dependencies": dependencies}
    layer.add_bytes("app/package.json", json.dumps(manifest, indent=2).encode())
    return layer.finish()


def build_sample_image(dest: Path, *, downloads: Path | None = None) -> Path:
    """Build the sample OCI layout in `dest` (replacing it) and return its path."""
    downloads = downloads or cache_dir() / "sample-downloads"
    debs = [read_deb(p) for p in fetch_debs(SAMPLE_DEBS, downloads / "debs")]
    wheels = fetch_wheels(SAMPLE_WHEELS, downloads / "wheels")
    tarballs = fetch_npm(SAMPLE_NPM, downloads / "npm")
    spec = ImageSpec(
        layers=[debian_layer(debs), python_layer(wheels), node_layer(tarballs),
                planted_layer(), cleanup_layer()],
        config={"Env": ["PATH=/usr/local/bin:/usr/bin:/bin"], "WorkingDir": "/app",
                "ExposedPorts": {"22/tcp": {}, "5000/tcp": {}},
                "Cmd": ["python3", "-m", "flask", "run"]},
        history=[f"ADD debian packages: {' '.join(SAMPLE_DEBS)}",
                 f"RUN pip install {' '.join(SAMPLE_WHEELS)}",
                 f"RUN npm install {' '.join(n + '@' + v for n, v in SAMPLE_NPM)}",
                 "COPY . /app", "RUN rm /tmp/eicar.com"],
    )
    if dest.exists():
        shutil.rmtree(dest)
    write_oci_layout(dest, spec, tag="latest")
    return dest
