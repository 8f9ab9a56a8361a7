"""What every advisory source shares: the reader interface and the bad-record result."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path

from stackwarden.vulndb.model import Advisory

MAX_RECORD_BYTES = 8 * 1024 * 1024


class BadRecord(Exception):
    """A record that could not be used: skipped, counted, and its reason shown in the summary."""

    def __init__(self, reason: str, where: str) -> None:
        super().__init__(f"{where}: {reason}")
        self.reason = reason
        self.where = where


class SourceReader(ABC):
    """Reads one kind of advisory feed from a local path (file, directory or archive)."""

    kind: str

    def source_name(self, path: Path) -> str:
        """The name the database records this source under."""
        return f"{self.kind}:{path.name}"

    @abstractmethod
    def read(self, path: Path) -> Iterator[Advisory | BadRecord]:
        """Every advisory in `path`, or a BadRecord for each one that could not be read."""


class FilePerRecordReader(SourceReader):
    """A feed with one advisory per file: subclasses list the files and parse one."""

    @abstractmethod
    def files(self, path: Path) -> list[Path]:
        """The record files under `path` (or `path` itself)."""

    @abstractmethod
    def parse(self, data: bytes, where: str) -> Advisory:
        """One record; raise BadRecord when it cannot be used."""

    def read(self, path: Path) -> Iterator[Advisory | BadRecord]:
        for file in self.files(path):
            try:
                data = file.read_bytes()
                if len(data) > MAX_RECORD_BYTES:
                    raise BadRecord("over the record size limit", str(file))
                yield self.parse(data, str(file))
            except BadRecord as bad:
                yield bad
            except OSError as exc:
                yield BadRecord(f"cannot read: {exc.strerror}", str(file))
