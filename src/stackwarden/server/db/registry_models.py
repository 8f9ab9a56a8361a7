"""Registry monitoring tables (docs/registry-monitoring.md); imported by `models.py`.

Kept in their own module so the registry watcher's schema merges cleanly with other work.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from stackwarden.server.db.models import Base, Id


class WatchedRegistry(Base):
    """A registry the server sweeps on an interval and takes push notifications from."""

    __tablename__ = "watched_registries"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    host: Mapped[str] = mapped_column(String(300))  # host[:port], what the client dials
    username: Mapped[str] = mapped_column(String(200), default="")
    secret: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)  # AES-GCM sealed
    insecure: Mapped[bool] = mapped_column(Boolean, default=False)
    ca_cert: Mapped[str] = mapped_column(Text, default="")  # PEM, extra CAs for this host
    include: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of globs
    exclude: Mapped[str] = mapped_column(Text, default="[]")
    interval_seconds: Mapped[int] = mapped_column(Integer)
    scanners: Mapped[str] = mapped_column(String(200))  # comma-separated
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    notify_token_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    created_by: Mapped[str] = mapped_column(String(64))
    next_sweep_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True, index=True)
    sweep_state: Mapped[str] = mapped_column(String(16), default="idle")
    sweep_job_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    last_sweep_started: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    last_sweep_finished: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    last_success_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    last_error_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    repositories: Mapped[int] = mapped_column(Integer, default=0)
    tags: Mapped[int] = mapped_column(Integer, default=0)
    problems: Mapped[str] = mapped_column(Text, default="[]")  # JSON [{repository, error}]


class WatchedImage(Base):
    """One image manifest digest: scanned once, ever (whichever registry or tag showed it)."""

    __tablename__ = "watched_images"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    digest: Mapped[str] = mapped_column(String(100), unique=True)
    registry_id: Mapped[int] = mapped_column(
        ForeignKey("watched_registries.id", ondelete="CASCADE"), index=True)
    repository: Mapped[str] = mapped_column(String(300))
    state: Mapped[str] = mapped_column(String(16))  # queued scanning scanned failed
    job_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    asset_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    sbom_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    scan_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    config: Mapped[str] = mapped_column(Text, default="{}")  # the image config's `config`
    golden: Mapped[bool] = mapped_column(Boolean, default=False)
    queued_at: Mapped[datetime] = mapped_column(DateTime)
    scanned_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    error: Mapped[str] = mapped_column(Text, default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)


class WatchedTag(Base):
    """Tag history: which digest a repository:tag pointed at, and when."""

    __tablename__ = "watched_tags"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    registry_id: Mapped[int] = mapped_column(
        ForeignKey("watched_registries.id", ondelete="CASCADE"))
    repository: Mapped[str] = mapped_column(String(300))
    tag: Mapped[str] = mapped_column(String(200))
    digest: Mapped[str] = mapped_column(String(100))
    first_seen: Mapped[datetime] = mapped_column(DateTime)
    last_seen: Mapped[datetime] = mapped_column(DateTime)
    current: Mapped[bool] = mapped_column(Boolean, default=True)
    __table_args__ = (
        UniqueConstraint("registry_id", "repository", "tag", "digest"),
        Index("ix_watched_tags_registry_id_repository_tag", "registry_id", "repository", "tag"),
        Index("ix_watched_tags_digest", "digest"),
    )


class GoldenRule(Base):
    """Images whose repository and tag match these globs are golden."""

    __tablename__ = "golden_rules"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    registry_id: Mapped[int] = mapped_column(
        ForeignKey("watched_registries.id", ondelete="CASCADE"), index=True)
    repository: Mapped[str] = mapped_column(String(300))
    tag: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    created_by: Mapped[str] = mapped_column(String(64))


class GoldenDiff(Base):
    """What changed between two consecutive builds of a golden image."""

    __tablename__ = "golden_diffs"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    registry_id: Mapped[int] = mapped_column(
        ForeignKey("watched_registries.id", ondelete="CASCADE"), index=True)
    repository: Mapped[str] = mapped_column(String(300))
    tag: Mapped[str] = mapped_column(String(200))
    previous_digest: Mapped[str] = mapped_column(String(100))
    digest: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    summary: Mapped[str] = mapped_column(Text)  # JSON counts
    diff: Mapped[str] = mapped_column(Text)  # JSON


class RegistryAlert(Base):
    """An alert the watcher raised (the notification channels read these)."""

    __tablename__ = "registry_alerts"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    registry_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True, index=True)
    digest: Mapped[str] = mapped_column(String(100), default="")
    golden: Mapped[bool] = mapped_column(Boolean, default=False)
    title: Mapped[str] = mapped_column(String(500))
    payload: Mapped[str] = mapped_column(Text)  # JSON


class RegistryNotification(Base):
    """A push notification received, accepted or rejected (and why)."""

    __tablename__ = "registry_notifications"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    received_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    registry_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    remote: Mapped[str] = mapped_column(String(100), default="")
    format: Mapped[str] = mapped_column(String(32), default="")
    accepted: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(String(500), default="")
    events: Mapped[int] = mapped_column(Integer, default=0)
    queued: Mapped[int] = mapped_column(Integer, default=0)


class WatchState(Base):
    """Small key/value facts the watcher keeps (the database build last re-matched)."""

    __tablename__ = "watch_state"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
