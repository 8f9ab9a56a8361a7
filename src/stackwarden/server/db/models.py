"""The server's tables (SQLAlchemy 2 declarative); Alembic migrations in `migrations/` match."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets 64-bit ids.
Id = BigInteger().with_variant(Integer(), "sqlite")
NAMING = {"ix": "ix_%(table_name)s_%(column_0_N_name)s", "uq": "uq_%(table_name)s_%(column_0_N_name)s",
          "fk": "fk_%(table_name)s_%(column_0_name)s", "pk": "pk_%(table_name)s"}


class Base(DeclarativeBase):
    """Declarative base with stable constraint names (so migrations can refer to them)."""

    metadata = MetaData(naming_convention=NAMING)


class User(Base):
    """A person (or service) who signs in; the role decides what they may do."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(32))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class ApiToken(Base):
    """A bearer token: only the SHA-256 of its secret is kept; scopes limit what it can do."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16), default="api")  # "api" or "session"
    secret_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[str] = mapped_column(String(200))  # space-separated
    created_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class LoginFailure(Base):
    """One failed sign-in, per user name and per client address (for rate limiting)."""

    __tablename__ = "login_failures"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    key: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(DateTime)
    __table_args__ = (Index("ix_login_failures_key_at", "key", "at"),)


class Asset(Base):
    """Something that gets scanned: an image (by digest), a repository, a host or a cluster."""

    __tablename__ = "assets"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(500))  # digest for images, else the name
    name: Mapped[str] = mapped_column(String(500))
    digest: Mapped[str | None] = mapped_column(String(100), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    last_scan_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    last_scan_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    __table_args__ = (UniqueConstraint("kind", "key"),)


class AssetTag(Base):
    """A tag (repository:tag) an image was seen under."""

    __tablename__ = "asset_tags"
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"),
                                          primary_key=True)
    tag: Mapped[str] = mapped_column(String(500), primary_key=True)
    last_seen: Mapped[datetime] = mapped_column(DateTime)


class Scan(Base):
    """One submitted scan report, kept byte for byte (compressed) as evidence."""

    __tablename__ = "scans"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id"), index=True)
    target: Mapped[str] = mapped_column(String(1000))
    tool_version: Mapped[str] = mapped_column(String(64))
    report_created: Mapped[str] = mapped_column(String(40))
    received_at: Mapped[datetime] = mapped_column(DateTime)
    submitted_by: Mapped[str] = mapped_column(String(64))
    kinds: Mapped[str] = mapped_column(String(200))  # finding kinds this scan looked for
    summary: Mapped[str] = mapped_column(Text)  # JSON
    findings_count: Mapped[int] = mapped_column(Integer)
    report_sha256: Mapped[str] = mapped_column(String(64))
    report_size: Mapped[int] = mapped_column(BigInteger)
    report: Mapped[bytes] = mapped_column(LargeBinary)  # zlib


class Sbom(Base):
    """One submitted SBOM document (compressed), attached to an asset."""

    __tablename__ = "sboms"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id"), index=True)
    format: Mapped[str] = mapped_column(String(32))
    received_at: Mapped[datetime] = mapped_column(DateTime)
    submitted_by: Mapped[str] = mapped_column(String(64))
    packages: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)  # zlib


class FindingRow(Base):
    """One issue on one asset, deduplicated by fingerprint across scans, with its lifecycle."""

    __tablename__ = "findings"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id"))
    fingerprint: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    vuln_id: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(500))
    severity: Mapped[str] = mapped_column(String(16))
    severity_rank: Mapped[int] = mapped_column(SmallInteger)
    package_name: Mapped[str] = mapped_column(String(300), default="")
    package_version: Mapped[str] = mapped_column(String(200), default="")
    purl: Mapped[str] = mapped_column(String(1000), default="")
    path: Mapped[str] = mapped_column(String(1000), default="")
    fix_available: Mapped[bool] = mapped_column(Boolean, default=False)
    kev: Mapped[bool] = mapped_column(Boolean, default=False)
    epss: Mapped[float | None] = mapped_column(Float, nullable=True)
    state: Mapped[str] = mapped_column(String(16))  # new, open, fixed, reopened
    first_seen: Mapped[datetime] = mapped_column(DateTime)
    last_seen: Mapped[datetime] = mapped_column(DateTime)
    fixed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    first_scan_id: Mapped[int] = mapped_column(BigInteger)
    last_scan_id: Mapped[int] = mapped_column(BigInteger)
    triage: Mapped[str] = mapped_column(String(16), default="")  # "", ignored, risk_accepted
    triage_reason: Mapped[str] = mapped_column(Text, default="")
    triage_by: Mapped[str] = mapped_column(String(64), default="")
    triage_approver: Mapped[str] = mapped_column(String(64), default="")
    triage_expires: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    triage_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    data: Mapped[str] = mapped_column(Text)  # the finding's JSON form from the latest scan
    __table_args__ = (
        UniqueConstraint("asset_id", "fingerprint"),
        # keyset pagination walks id descending; each index serves one common filter.
        Index("ix_findings_severity_rank_id", "severity_rank", "id"),
        Index("ix_findings_state_id", "state", "id"),
        Index("ix_findings_kind_id", "kind", "id"),
        Index("ix_findings_kev_id", "kev", "id"),
        Index("ix_findings_asset_id_id", "asset_id", "id"),
        Index("ix_findings_vuln_id", "vuln_id"),
        Index("ix_findings_package_name", "package_name"),
    )


class Job(Base):
    """A unit of background work, whichever runner executes it."""

    __tablename__ = "jobs"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), index=True)  # queued running succeeded failed
    created_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    started_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    submitted_by: Mapped[str] = mapped_column(String(64))
    params: Mapped[str] = mapped_column(Text, default="{}")
    payload: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    result: Mapped[str | None] = mapped_column(Text, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)


class AuditEntryRow(Base):
    """One audit log entry; never updated or deleted by the server."""

    __tablename__ = "audit_entries"
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    time: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    object: Mapped[str] = mapped_column(String(200))
    details: Mapped[str] = mapped_column(Text)  # canonical JSON
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditCheckpointRow(Base):
    """A signed Merkle tree head over the first `tree_size` entries."""

    __tablename__ = "audit_checkpoints"
    tree_size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root_hash: Mapped[str] = mapped_column(String(64))
    time: Mapped[str] = mapped_column(String(40))
    key_id: Mapped[str] = mapped_column(String(32))
    signature: Mapped[str] = mapped_column(String(200))


class AuditHead(Base):
    """The single row every audit append locks: the last sequence number and hash."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
    peaks: Mapped[str] = mapped_column(Text, default="")  # Merkle peaks, hex, comma-separated


# --- registry monitoring (server/registry_watch.py) ------------------------------------------
from stackwarden.server.db.registry_models import (  # noqa: E402,F401  (registers the tables)
    GoldenDiff,
    GoldenRule,
    RegistryAlert,
    RegistryNotification,
    WatchedImage,
    WatchedRegistry,
    WatchedTag,
    WatchState,
)

# Host agents' tables live in their own module (migration 0003_agent); importing it here
# registers them on Base.metadata wherever the models are loaded.
from stackwarden.server.db import agent_models as _agent_models  # noqa: E402,F401

# The dashboard's tables (risk triage, compliance, notifications) live in their own module.
from stackwarden.server.db import models_dashboard as _models_dashboard  # noqa: E402,F401
