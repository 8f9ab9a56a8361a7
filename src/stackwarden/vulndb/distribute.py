"""Getting a database where it is used: download and rebuild, import a file, or carry it as an
OCI artifact through a registry. Every path ends in an atomic rename: a failed or interrupted
step leaves the previous database in use."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import httpx
import zstandard

from stackwarden.core.errors import StackWardenError, UsageError
from stackwarden.vulndb.build import SOURCE_KINDS, BuildReport, build_database
from stackwarden.vulndb.store import VulnDB, VulnDBError

OSV_BUCKET = "https://osv-vulnerabilities.storage.googleapis.com"
OSV_ECOSYSTEMS = ("Debian", "Ubuntu", "Alpine", "Red Hat", "Rocky Linux", "AlmaLinux", "PyPI",
                  "npm", "Go", "crates.io", "Maven", "RubyGems", "Packagist", "NuGet")
KEV_URL = ("https://www.cisa.gov/sites/default/files/feeds/"
           "known_exploited_vulnerabilities.json")
EPSS_URL = "https://epss.cyentia.com/epss_scores-current.csv.gz"
MAX_DOWNLOAD_BYTES = 4 * 1024**3
ARTIFACT_TYPE = "application/vnd.stackwarden.vulndb.v1"
CONFIG_TYPE = "application/vnd.stackwarden.vulndb.config.v1+json"
LAYER_TYPE = "application/vnd.stackwarden.vulndb.layer.v1.sqlite+zstd"
Progress = Callable[[str, int, int], None]


class DownloadError(StackWardenError):
    """A source could not be downloaded; the previous database stays in use."""


def default_sources(osv_base: str = OSV_BUCKET) -> list[str]:
    """The public sources `db update` reads: osv.dev's per-ecosystem zips, CISA KEV, FIRST EPSS."""
    from urllib.parse import quote

    osv = [f"osv:{osv_base.rstrip('/')}/{quote(e)}/all.zip" for e in OSV_ECOSYSTEMS]
    return [*osv, f"kev:{KEV_URL}", f"epss:{EPSS_URL}"]


def _file_name(url: str, kind: str, number: int) -> str:
    # keep what the readers use to recognise a file (epss_*.csv.gz, *.zip, *.json)
    base = url.rstrip("/").rsplit("/", 1)[-1] or "source"
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in base)
    return f"{number:02d}-{kind}-{safe}" if kind != "epss" else f"{number:02d}-epss_{safe}"


def download(url: str, dest: Path, *, timeout: float = 60.0, retries: int = 3) -> str:
    """Stream `url` to `dest` (size-capped, retried with back-off); returns its SHA-256."""
    last: Exception | None = None
    for attempt in range(retries):
        try:
            digest = hashlib.sha256()
            size = 0
            with httpx.stream("GET", url, timeout=timeout, follow_redirects=True) as response:
                if response.status_code != 200:
                    raise DownloadError(f"HTTP {response.status_code}", source=url)
                expected = response.headers.get("content-length")
                with open(dest, "wb") as out:
                    for chunk in response.iter_bytes(1 << 20):
                        size += len(chunk)
                        if size > MAX_DOWNLOAD_BYTES:
                            raise DownloadError("larger than the download limit", source=url)
                        digest.update(chunk)
                        out.write(chunk)
            if expected is not None and expected.isdigit() and int(expected) != size:
                raise DownloadError(f"connection ended after {size} of {expected} bytes",
                                    source=url)
            return digest.hexdigest()
        except (httpx.HTTPError, DownloadError, OSError) as exc:
            last = exc
            if isinstance(exc, DownloadError) and "HTTP 4" in exc.message:
                break
            time.sleep(min(2 ** attempt * 0.5, 5))
    message = last.message if isinstance(last, StackWardenError) else f"{type(last).__name__}: " \
        f"{last}"
    raise DownloadError(f"download failed: {message}", source=url)


def update_database(target: Path, sources: list[str] | None = None, *,
                    progress: Progress | None = None, timeout: float = 60.0) -> BuildReport:
    """Download every source, build a new database beside `target`, then rename it into place.

    Nothing replaces `target` unless every download and the build succeeded.
    """
    specs = sources or default_sources()
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".stackwarden-update-", dir=target.parent) as tmp:
        local = []
        for number, spec in enumerate(specs):
            kind, sep, location = spec.partition(":")
            if not sep or kind not in SOURCE_KINDS:
                kind, location = "", spec
            if location.startswith(("http://", "https://")):
                if progress:
                    progress(f"downloading {location}", number, len(specs))
                path = Path(tmp) / _file_name(location, kind or "osv", number)
                download(location, path, timeout=timeout)
            else:
                path = Path(location)
            local.append(f"{kind}:{path}" if kind else str(path))
        report = build_database(local, target, progress=progress)
    return report


def validate_file(path: Path) -> dict[str, str]:
    """Open a database file fully (schema, tables, SQLite integrity) or raise VulnDBError."""
    with VulnDB(path) as db:
        try:
            problems = db.conn.execute("PRAGMA quick_check").fetchall()
        except sqlite3.DatabaseError as exc:
            raise VulnDBError(f"corrupt database: {exc}", source=str(path)) from exc
        if problems != [("ok",)]:
            raise VulnDBError(f"corrupt database: {problems[0][0]}", source=str(path))
        db.counts()
        return dict(db.meta)


def install_file(source: Path, target: Path) -> dict[str, str]:
    """Validate `source`, copy it next to `target`, and rename it into place (`db import`)."""
    meta = validate_file(source)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    os.close(fd)
    try:
        shutil.copyfile(source, tmp)
        validate_file(Path(tmp))
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return meta


@dataclass(frozen=True)
class PushResult:
    """Where a database was pushed."""

    reference: str
    digest: str
    size: int


def _chunks(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            yield chunk


def push_database(db_path: Path, reference: str, *, options: object | None = None
                  ) -> PushResult:
    """Push a database as an OCI artifact (zstd layer + metadata config) to `reference`."""
    from stackwarden.artifact.registry import RegistryClient, RegistryOptions, parse_reference

    meta = validate_file(db_path)
    ref = parse_reference(reference)
    with tempfile.TemporaryDirectory(prefix="stackwarden-push-") as tmp:
        layer = Path(tmp) / "vulndb.sqlite.zst"
        with open(db_path, "rb") as src, open(layer, "wb") as dst:
            zstandard.ZstdCompressor(level=10, threads=-1).copy_stream(src, dst)
        layer_digest = "sha256:" + hashlib.sha256(layer.read_bytes()).hexdigest()
        config = json.dumps({"schema_version": meta.get("schema_version"),
                             "built_at": meta.get("built_at"),
                             "tool_version": meta.get("tool_version")},
                            sort_keys=True).encode()
        config_digest = "sha256:" + hashlib.sha256(config).hexdigest()
        manifest = json.dumps({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "artifactType": ARTIFACT_TYPE,
            "config": {"mediaType": CONFIG_TYPE, "digest": config_digest, "size": len(config)},
            "layers": [{"mediaType": LAYER_TYPE, "digest": layer_digest,
                        "size": layer.stat().st_size,
                        "annotations": {"org.opencontainers.image.title": "vulndb.sqlite.zst"}}],
            "annotations": {"org.opencontainers.image.created": meta.get("built_at", "")},
        }, sort_keys=True).encode()
        opts = options if isinstance(options, RegistryOptions) else RegistryOptions()
        with RegistryClient(ref.registry, options=opts) as client:
            client.upload_blob(ref.repository, config_digest, len(config), config)
            client.upload_blob(ref.repository, layer_digest, layer.stat().st_size,
                               partial(_chunks, layer))
            digest = client.put_manifest(ref.repository, ref.reference, manifest,
                                         "application/vnd.oci.image.manifest.v1+json")
    return PushResult(str(ref), digest, len(manifest))


def pull_database(reference: str, target: Path, *, options: object | None = None) -> dict[str,
                                                                                          str]:
    """Pull a database artifact, verify it, and rename it into place at `target`."""
    from stackwarden.artifact.image import Descriptor
    from stackwarden.artifact.registry import RegistryClient, RegistryOptions, parse_reference

    ref = parse_reference(reference)
    opts = options if isinstance(options, RegistryOptions) else RegistryOptions()
    target.parent.mkdir(parents=True, exist_ok=True)
    with RegistryClient(ref.registry, options=opts) as client:
        manifest = client.get_manifest(ref.repository, ref.reference)
        doc = manifest.document
        config = doc.get("config") or {}
        layers = doc.get("layers") or []
        if config.get("mediaType") != CONFIG_TYPE or len(layers) != 1 \
                or layers[0].get("mediaType") != LAYER_TYPE:
            raise UsageError("not a StackWarden vulnerability database artifact (config "
                             f"{config.get('mediaType')!r})", source=str(ref))
        desc = Descriptor.parse(layers[0], str(ref))
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        os.close(fd)
        try:
            hasher = hashlib.sha256()
            with client.open_blob(ref.repository, desc) as blob, open(tmp, "wb") as out:
                reader = zstandard.ZstdDecompressor().stream_reader(_Tee(blob, hasher))
                shutil.copyfileobj(reader, out, 1 << 20)
            got = "sha256:" + hasher.hexdigest()
            if got != desc.digest:
                raise VulnDBError(f"database blob hashes to {got}, manifest says {desc.digest}",
                                  source=str(ref))
            meta = validate_file(Path(tmp))
            os.replace(tmp, target)
        except zstandard.ZstdError as exc:
            Path(tmp).unlink(missing_ok=True)
            raise VulnDBError(f"database blob is not valid zstd: {exc}", source=str(ref)) from exc
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return meta


class _Tee:
    """A reader that hashes what passes through it (the compressed blob)."""

    def __init__(self, raw: object, hasher: hashlib._Hash) -> None:
        self.raw = raw
        self.hasher = hasher

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)  # type: ignore[attr-defined]
        self.hasher.update(data)
        return data
