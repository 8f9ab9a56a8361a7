"""Database access: engines for SQLite (embedded) and PostgreSQL, sessions, the write lock."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

from stackwarden.core.errors import UsageError
from stackwarden.server.db.models import AuditHead


def normalise_url(url: str) -> str:
    """Accept postgres:// and postgresql:// as the psycopg 3 driver the server ships with."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for `url`, tuned for the backend (SQLite: WAL, busy timeout, foreign keys)."""
    url = normalise_url(url)
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise UsageError("not a database URL (expected sqlite:///FILE or "
                         "postgresql+psycopg://USER@HOST/DB)", source="--database-url") from None
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False},
                               hide_parameters=True, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if parsed.get_backend_name() != "postgresql":
        raise UsageError(f"unsupported database {parsed.get_backend_name()!r} (SQLite or "
                         "PostgreSQL)", source="--database-url")
    # pre-ping: a connection PostgreSQL dropped is replaced on the next checkout, so a lost
    # database costs one failed request (503), not a restart.
    # hide_parameters: bound values (password hashes, token hashes) never reach error text.
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10,
                         hide_parameters=True, connect_args={"connect_timeout": 5}, **kwargs)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def is_sqlite(engine: Engine) -> bool:
    """Whether the engine is the embedded SQLite backend."""
    return engine.dialect.name == "sqlite"


class Database:
    """An engine and its session factory."""

    def __init__(self, url: str, **kwargs: Any) -> None:
        self.engine = make_engine(url, **kwargs)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A read session (rolled back at the end)."""
        with self.sessions() as session:
            yield session

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A write transaction: everything in it commits together, or nothing does."""
        with self.sessions() as session, session.begin():
            begin_write(session)
            yield session

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def begin_write(session: Session) -> None:
    """Take SQLite's write lock first, so a transaction never fails to upgrade a read lock.

    (A SQLite transaction that read first and writes later gets SQLITE_BUSY without waiting
    when another writer committed in between; writing first makes it wait its turn instead.
    PostgreSQL needs no such step: the audit append locks the head row.)
    """
    if session.get_bind().dialect.name == "sqlite":
        session.execute(update(AuditHead).where(AuditHead.id == 1)
                        .values(seq=AuditHead.seq))
