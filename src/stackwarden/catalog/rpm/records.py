"""What every rpm database reader yields: one stored header blob, or why one was unreadable."""

from __future__ import annotations

from dataclasses import dataclass

from stackwarden.core.errors import CatalogError


class DatabaseError(CatalogError):
    """The database file as a whole cannot be read (wrong format, broken metadata)."""


@dataclass(frozen=True, slots=True)
class Record:
    """One package record: its key in the database and its header blob, or a problem."""

    key: int  # hnum (sqlite, Berkeley DB) or pkgidx (ndb); -1 when the record has no key
    blob: bytes | None = None
    problem: str | None = None  # set instead of blob when the record could not be read
