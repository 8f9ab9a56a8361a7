"""Tables of the dashboard, risk triage, compliance and notifications (migration 0004_dashboard).

Kept apart from `models.py` (which imports this module at its end) so the core tables stay
readable; everything here hangs off the core tables by id.
"""

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
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from stackwarden.server.db.models import Base, Id


class Team(Base):
    """A group of users owning the assets whose names match its patterns (globs)."""

    __tablename__ = "teams"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    patterns: Mapped[str] = mapped_column(Text, default="")  # one asset-name glob a line
    created_at: Mapped[datetime] = mapped_column(DateTime)


class TeamMember(Base):
    """A user's membership of a team."""

    __tablename__ = "team_members"
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"),
                                         primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         primary_key=True)


class AssetLabel(Base):
    """A label on an asset that the risk formula or notifications read (`internet-facing`,
    `golden`, `monitored-host`)."""

    __tablename__ = "asset_labels"
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"),
                                          primary_key=True)
    label: Mapped[str] = mapped_column(String(64), primary_key=True)
    added_by: Mapped[str] = mapped_column(String(64))
    added_at: Mapped[datetime] = mapped_column(DateTime)


class FindingScore(Base):
    """Inputs of a finding's priority that live only in its JSON (the highest CVSS score)."""

    __tablename__ = "finding_scores"
    finding_id: Mapped[int] = mapped_column(ForeignKey("findings.id", ondelete="CASCADE"),
                                            primary_key=True)
    cvss: Mapped[float | None] = mapped_column(Float, nullable=True)


class FindingAssignment(Base):
    """Who is to fix a finding."""

    __tablename__ = "finding_assignments"
    finding_id: Mapped[int] = mapped_column(ForeignKey("findings.id", ondelete="CASCADE"),
                                            primary_key=True)
    assignee: Mapped[str] = mapped_column(String(64), index=True)
    assigned_by: Mapped[str] = mapped_column(String(64))
    assigned_at: Mapped[datetime] = mapped_column(DateTime)


class ScanGate(Base):
    """The pipeline gate's decision a scan report carried (`gate` key of an upload)."""

    __tablename__ = "scan_gates"
    scan_id: Mapped[int] = mapped_column(ForeignKey("scans.id", ondelete="CASCADE"),
                                         primary_key=True)
    passed: Mapped[bool] = mapped_column(Boolean)
    rules: Mapped[str] = mapped_column(Text, default="")  # failed rules, one a line
    at: Mapped[datetime] = mapped_column(DateTime, index=True)


class ServerPolicy(Base):
    """A named setting changed from the dashboard (SLA days, last verification), as JSON."""

    __tablename__ = "server_policies"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class ComplianceSnapshot(Base):
    """One evaluation of a framework (for the trend over time)."""

    __tablename__ = "compliance_snapshots"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    framework: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime)
    passed: Mapped[int] = mapped_column(Integer)
    failed: Mapped[int] = mapped_column(Integer)
    not_assessed: Mapped[int] = mapped_column(Integer)
    result: Mapped[str] = mapped_column(Text)  # control id -> status, JSON
    __table_args__ = (Index("ix_compliance_snapshots_framework_at", "framework", "at"),)


class NotificationChannel(Base):
    """Where notifications go: a webhook, Slack, email or syslog, and which events it wants."""

    __tablename__ = "notification_channels"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # webhook slack email syslog
    config: Mapped[str] = mapped_column(Text)  # JSON; holds secrets (HMAC key, SMTP password)
    events: Mapped[str] = mapped_column(String(500))  # event kinds, space-separated
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    created_by: Mapped[str] = mapped_column(String(64))


class NotificationDelivery(Base):
    """One message to one channel, retried with back-off until sent or given up."""

    __tablename__ = "notification_deliveries"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("notification_channels.id",
                                                       ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(64))
    group_key: Mapped[str] = mapped_column(String(200), default="")
    payload: Mapped[str] = mapped_column(Text)  # JSON
    state: Mapped[str] = mapped_column(String(16))  # pending sending sent failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    __table_args__ = (Index("ix_notification_deliveries_state_next", "state", "next_attempt_at"),
                      Index("ix_notification_deliveries_channel_id_id", "channel_id", "id"))


class DeliveryAttempt(Base):
    """One try at sending a delivery, kept so every attempt is visible."""

    __tablename__ = "notification_attempts"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("notification_deliveries.id",
                                                        ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime)
    ok: Mapped[bool] = mapped_column(Boolean)
    detail: Mapped[str] = mapped_column(Text)  # status code or error, never a secret
    duration_ms: Mapped[int] = mapped_column(BigInteger)
