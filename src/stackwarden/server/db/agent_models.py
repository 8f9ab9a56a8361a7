"""Host agents' tables: enrollment tokens, agents, their events, host alerts, cross-host
incidents, FIM changes and inventory snapshots (migration 0003_agent).

Hosts themselves are `assets` of kind `host`; their vulnerabilities are ordinary `findings`.
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
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from stackwarden.server.db.models import Base, Id


class EnrollmentToken(Base):
    """A one-time, expiring token an agent exchanges for its own credential."""

    __tablename__ = "enrollment_tokens"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    used_by: Mapped[str | None] = mapped_column(String(36), nullable=True)  # the agent's uid
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class Agent(Base):
    """An enrolled agent: its host (asset), its credential (an API token of its own service
    user), when it was last heard from, and its configuration override."""

    __tablename__ = "agents"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    uid: Mapped[str] = mapped_column(String(36), unique=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    token_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    hostname: Mapped[str] = mapped_column(String(255))
    machine_id: Mapped[str] = mapped_column(String(64), default="")
    os: Mapped[str] = mapped_column(String(200), default="")
    agent_version: Mapped[str] = mapped_column(String(64), default="")
    enrolled_at: Mapped[datetime] = mapped_column(DateTime)
    enrollment_token_id: Mapped[int] = mapped_column(BigInteger)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime)
    last_address: Mapped[str] = mapped_column(String(64), default="")
    silent_since: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    status: Mapped[str] = mapped_column(Text, default="{}")  # the last heartbeat (JSON)
    config: Mapped[str] = mapped_column(Text, default="{}")  # override of the default (JSON)


class AgentSetting(Base):
    """Server-wide agent settings (the default agent configuration), one row per key."""

    __tablename__ = "agent_settings"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    updated_by: Mapped[str] = mapped_column(String(64))


class AgentEventRow(Base):
    """One event as the agent sent it; (agent, event id) is unique, so a retry never doubles."""

    __tablename__ = "agent_events"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"))
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id"))
    event_id: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(BigInteger)  # the agent's queue order
    kind: Mapped[str] = mapped_column(String(64))
    time: Mapped[datetime] = mapped_column(DateTime)
    received_at: Mapped[datetime] = mapped_column(DateTime)
    data: Mapped[str] = mapped_column(Text)  # JSON
    __table_args__ = (
        UniqueConstraint("agent_id", "event_id"),
        Index("ix_agent_events_asset_id_id", "asset_id", "id"),
        Index("ix_agent_events_asset_id_kind_id", "asset_id", "kind", "id"),
    )


class Incident(Base):
    """Alerts correlated across hosts: one source address's activity within a window."""

    __tablename__ = "incidents"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    key: Mapped[str] = mapped_column(String(200))  # "src:203.0.113.7"
    open_key: Mapped[str | None] = mapped_column(String(200), nullable=True, unique=True)
    source_address: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(500))
    level: Mapped[str] = mapped_column(String(16))
    level_rank: Mapped[int] = mapped_column(SmallInteger)
    state: Mapped[str] = mapped_column(String(16))  # open, closed
    first_at: Mapped[datetime] = mapped_column(DateTime)
    last_at: Mapped[datetime] = mapped_column(DateTime)
    hosts: Mapped[int] = mapped_column(Integer)
    alerts: Mapped[int] = mapped_column(Integer)
    rules: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of rule titles
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    __table_args__ = (Index("ix_incidents_key", "key"), Index("ix_incidents_state_id", "state", "id"))


class HostAlert(Base):
    """An alert raised on a host (by the agent's rules, or by the server: agent silent);
    the agent's alert id is unique per host, so its opening and closing update one row."""

    __tablename__ = "host_alerts"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id"))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"), nullable=True)
    alert_id: Mapped[str] = mapped_column(String(100))
    rule_id: Mapped[str] = mapped_column(String(200))
    rule_name: Mapped[str] = mapped_column(String(200), default="")
    title: Mapped[str] = mapped_column(String(500))
    level: Mapped[str] = mapped_column(String(16))
    level_rank: Mapped[int] = mapped_column(SmallInteger)
    source_address: Mapped[str | None] = mapped_column(String(64), nullable=True)
    group_by: Mapped[str] = mapped_column(Text, default="{}")  # JSON
    count: Mapped[int] = mapped_column(Integer)
    first_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    last_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    closed: Mapped[bool] = mapped_column(Boolean, default=False)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"), nullable=True,
                                                    index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    data: Mapped[str] = mapped_column(Text)  # the alert as last reported (JSON)
    __table_args__ = (
        UniqueConstraint("asset_id", "alert_id"),
        Index("ix_host_alerts_asset_id_id", "asset_id", "id"),
        Index("ix_host_alerts_source_address", "source_address"),
    )


class FimChange(Base):
    """A file change an agent's FIM collector reported (`fim.change` events)."""

    __tablename__ = "host_fim_changes"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id"))
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"))
    event_row_id: Mapped[int] = mapped_column(BigInteger)
    path: Mapped[str] = mapped_column(String(4096))
    change: Mapped[str] = mapped_column(String(16))  # added, modified, deleted, metadata
    label: Mapped[str] = mapped_column(String(64), default="")  # e.g. package_update
    time: Mapped[datetime] = mapped_column(DateTime)
    data: Mapped[str] = mapped_column(Text)  # before, after, diff (JSON)
    __table_args__ = (Index("ix_host_fim_changes_asset_id_id", "asset_id", "id"),)


class HostInventory(Base):
    """The latest inventory snapshot of a host (`inventory.snapshot` events), compressed."""

    __tablename__ = "host_inventory"
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id"), primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"))
    taken_at: Mapped[datetime] = mapped_column(DateTime)
    received_at: Mapped[datetime] = mapped_column(DateTime)
    data: Mapped[bytes] = mapped_column(LargeBinary)  # zlib JSON
