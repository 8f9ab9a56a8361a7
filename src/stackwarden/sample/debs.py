"""Read Debian `.deb` files (ar + control.tar + data.tar) to lay packages into image layers."""

from __future__ import annotations

import io
import lzma
import tarfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import zstandard

from stackwarden.artifact.base import normalize_path
from stackwarden.core.errors import ArtifactError

AR_MAGIC = b"!<arch>\n"


def ar_members(data: bytes, where: str) -> Iterator[tuple[str, bytes]]:
    """The (name, bytes) members of a Unix `ar` archive (the container of a .deb)."""
    if not data.startswith(AR_MAGIC):
        raise ArtifactError("not an ar archive", source=where)
    pos = len(AR_MAGIC)
    while pos + 60 <= len(data):
        header = data[pos:pos + 60]
        name = header[:16].decode("ascii", "replace").strip().rstrip("/")
        try:
            size = int(header[48:58].decode("ascii").strip())
        except ValueError as exc:
            raise ArtifactError("corrupt ar member header", source=where) from exc
        start = pos + 60
        yield name, data[start:start + size]
        pos = start + size + (size % 2)


def _decompress(blob: bytes, name: str) -> bytes:
    if name.endswith(".xz"):
        return lzma.decompress(blob)
    if name.endswith(".gz"):
        return zlib.decompress(blob, 31)
    if name.endswith(".zst"):
        return zstandard.ZstdDecompressor().decompressobj().decompress(blob)
    return blob


@dataclass(frozen=True)
class DebPackage:
    """A .deb's control stanza, its md5sums and its data tar (bytes)."""

    control: str
    md5sums: str
    data_tar: bytes  # uncompressed

    @property
    def fields(self) -> dict[str, str]:
        """The control fields (continuation lines kept)."""
        from stackwarden.catalog.dpkg import parse_control

        return next(parse_control(self.control), {})

    def file_list(self) -> list[str]:
        """What `/var/lib/dpkg/info/<pkg>.list` would hold: every path the package ships."""
        paths = []
        with tarfile.open(fileobj=io.BytesIO(self.data_tar), mode="r:") as tar:
            for member in tar:
                path = normalize_path(member.name)
                if path is not None:
                    paths.append("/." if path == "/" else path)
        return paths


def read_deb(path: Path) -> DebPackage:
    """Read a .deb file."""
    data = path.read_bytes()
    control = md5sums = ""
    data_tar = b""
    for name, blob in ar_members(data, str(path)):
        if name.startswith("control.tar"):
            with tarfile.open(fileobj=io.BytesIO(_decompress(blob, name)), mode="r:") as tar:
                for member in tar:
                    base = member.name.rsplit("/", 1)[-1]
                    if base in ("control", "md5sums") and member.isfile():
                        handle = tar.extractfile(member)
                        text = handle.read().decode("utf-8", "replace") if handle else ""
                        if base == "control":
                            control = text
                        else:
                            md5sums = text
        elif name.startswith("data.tar"):
            data_tar = _decompress(blob, name)
    if not control:
        raise ArtifactError("no control file", source=str(path))
    return DebPackage(control, md5sums, data_tar)
