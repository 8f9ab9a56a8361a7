"""Event ingest: a batch from one agent, stored once per (agent, event id) whatever the retries,
then what each new event means: host alerts (correlated into incidents), FIM changes, the
latest inventory, the host's SBOM (matched against the vulnerability database by a job).

An event that is not valid is rejected alone, with the reason; the rest of its batch is stored.
Everything happens in the caller's transaction.
"""

from __future__ import annotations

import hashlib
import json
import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from stackwarden.agent.interface import KIND_PATTERN
from stackwarden.core.errors import UsageError
from stackwarden.server.agents.correlate import alert_rank, correlate, source_address
from stackwarden.server.agents.watch import agent_back
from stackwarden.server.db.agent_models import (
    Agent,
    AgentEventRow,
    FimChange,
    HostAlert,
    HostInventory,
)
from stackwarden.server.db.models import Asset, Sbom
from stackwarden.server.ingest import validation_problems

MAX_EVENTS = 5000


class EventIn(BaseModel):
    """One event of a batch, as the agent's transport sends it."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")
    seq: int = Field(ge=0, le=2**62)
    kind: str = Field(min_length=1, max_length=64, pattern=KIND_PATTERN)
    time: float = Field(ge=0, le=2**34)
    data: dict[str, Any]


class AlertData(BaseModel):
    """`log.alert`: an incident of the agent's rules (agent/logs/alerts.py `to_dict`)."""

    model_config = ConfigDict(extra="allow")
    id: str = Field(min_length=1, max_length=100)
    rule_id: str = Field(max_length=200)
    rule_name: str = Field("", max_length=200)
    title: str = Field(max_length=500)
    level: str = Field(max_length=16)
    group: dict[str, Any] = Field(default_factory=dict)
    count: int = Field(ge=0, le=2**31 - 1)
    first: datetime | None = None
    last: datetime | None = None
    closed: bool = False


class FimData(BaseModel):
    """`fim.change`: one file change with its before and after."""

    model_config = ConfigDict(extra="allow")
    path: str = Field(min_length=1, max_length=4096)
    change: Literal["added", "modified", "deleted", "metadata"]
    label: str = Field("", max_length=64)


class SbomData(BaseModel):
    """`host.sbom`: the host's package inventory (StackWarden SBOM JSON)."""

    model_config = ConfigDict(extra="allow")
    sbom: dict[str, Any]


class ResponseActionData(BaseModel):
    """`response.action`: one decision of the agent's active response (agent/logs/response.py
    `Action`), appended to the audit trail."""

    model_config = ConfigDict(extra="allow")
    at: float = Field(ge=0, le=2**34)
    action: Literal["block", "skip", "error"]
    address: str = Field(max_length=200)
    reason: str = Field(max_length=1000)
    rule_id: str = Field("", max_length=200)
    alert_id: str = Field("", max_length=100)
    timeout: int = Field(0, ge=0, le=2**31 - 1)


DATA_MODELS: dict[str, type[BaseModel]] = {"log.alert": AlertData, "fim.change": FimData,
                                           "host.sbom": SbomData,
                                           "response.action": ResponseActionData}


@dataclass
class IngestOutcome:
    """What one batch did; `jobs` are to be handed to the runner after commit."""

    accepted: int = 0
    duplicates: int = 0
    rejected: list[dict[str, str]] = field(default_factory=list)
    jobs: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The API answer."""
        return {"accepted": self.accepted, "duplicates": self.duplicates,
                "rejected": self.rejected}


def utc(timestamp: float) -> datetime:
    """Seconds since the epoch as the naive UTC the database stores."""
    return datetime.fromtimestamp(timestamp, UTC).replace(tzinfo=None)


def naive(value: datetime | None) -> datetime | None:
    """An aware time as naive UTC."""
    if value is None or value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


@dataclass(frozen=True, slots=True)
class _Valid:
    event: EventIn
    data: BaseModel | None


def _validate(raw: Any) -> _Valid | dict[str, str]:
    ident = str(raw.get("id"))[:64] if isinstance(raw, dict) else ""
    try:
        event = EventIn.model_validate(raw)
        if not math.isfinite(event.time):
            raise ValueError("time is not a finite number")
        model = DATA_MODELS.get(event.kind)
        data = model.model_validate(event.data) if model else None
        if isinstance(data, SbomData):
            from stackwarden.catalog.sbom_import import read_sbom_document

            read_sbom_document(data.sbom, f"event {event.id}")
    except ValidationError as exc:
        first = validation_problems(exc, 1)[0]
        return {"id": ident, "reason": f"{first['loc']}: {first['msg']}"}
    except (ValueError, UsageError) as exc:
        return {"id": ident, "reason": str(exc)[:300]}
    return _Valid(event, data)


def ingest_events(session: Session, agent: Agent, raw_events: list[Any], *, audit: Any,
                  now: datetime, window: float) -> IngestOutcome:
    """Store a batch from `agent`; each new event once, its meaning applied in `seq` order."""
    out = IngestOutcome()
    valid: dict[str, _Valid] = {}
    for raw in raw_events:
        checked = _validate(raw)
        if isinstance(checked, dict):
            out.rejected.append(checked)
        elif checked.event.id in valid:
            out.duplicates += 1  # the same id twice in one batch
        else:
            valid[checked.event.id] = checked
    rows = [{"agent_id": agent.id, "asset_id": agent.asset_id, "event_id": v.event.id,
             "seq": v.event.seq, "kind": v.event.kind, "time": utc(v.event.time),
             "received_at": now, "data": json.dumps(v.event.data, ensure_ascii=False,
                                                    separators=(",", ":"), default=str)}
            for v in sorted(valid.values(), key=lambda v: v.event.seq)]
    inserted = _insert_new(session, rows)
    out.accepted = len(inserted)
    out.duplicates += len(rows) - len(inserted)
    asset = session.get(Asset, agent.asset_id)
    for row in rows:
        row_id = inserted.get(row["event_id"])
        if row_id is None:
            continue
        item = valid[row["event_id"]]
        handler = HANDLERS.get(item.event.kind)
        if handler is not None:
            handler(_Apply(session, agent, asset, audit, now, window, out), item, row_id)
    return out


def _insert_new(session: Session, rows: list[dict[str, Any]]) -> dict[str, int]:
    """Insert rows whose (agent, event id) is new; event id -> row id of those inserted.

    ON CONFLICT DO NOTHING (not a read-then-insert): two deliveries of one batch racing on
    PostgreSQL both succeed, and the event is stored once."""
    if not rows:
        return {}
    table: Table = AgentEventRow.__table__  # type: ignore[assignment]
    insert = (postgresql.insert if session.get_bind().dialect.name == "postgresql"
              else sqlite.insert)
    statement = (insert(table).on_conflict_do_nothing(index_elements=["agent_id", "event_id"])
                 .returning(table.c.event_id, table.c.id))
    inserted: dict[str, int] = {}
    for start in range(0, len(rows), 1000):
        for event_id, row_id in session.execute(statement, rows[start:start + 1000]):
            inserted[event_id] = row_id
    return inserted


def touch(session: Session, agent: Agent, address: str | None, audit: Any,
          now: datetime) -> None:
    """The agent was heard from now (a silent agent is back)."""
    agent.last_seen_at = now
    if address:
        agent.last_address = address[:64]
    if agent.silent_since is not None:
        agent_back(session, agent, audit, now)


@dataclass(frozen=True, slots=True)
class _Apply:
    session: Session
    agent: Agent
    asset: Asset | None
    audit: Any
    now: datetime
    window: float
    out: IngestOutcome


def _alert(ctx: _Apply, item: _Valid, row_id: int) -> None:
    data: AlertData = item.data  # type: ignore[assignment]
    session = ctx.session
    row = session.execute(select(HostAlert).where(
        HostAlert.asset_id == ctx.agent.asset_id, HostAlert.alert_id == data.id)
        .with_for_update()).scalar_one_or_none()
    text = json.dumps(item.event.data, ensure_ascii=False, separators=(",", ":"), default=str)
    first, last = naive(data.first), naive(data.last)
    if row is None:
        row = HostAlert(asset_id=ctx.agent.asset_id, agent_id=ctx.agent.id, alert_id=data.id,
                        rule_id=data.rule_id, rule_name=data.rule_name, title=data.title,
                        level=data.level, level_rank=alert_rank(data.level),
                        source_address=source_address(data.group),
                        group_by=json.dumps(data.group, default=str), count=data.count,
                        first_at=first, last_at=last, closed=data.closed,
                        created_at=ctx.now, updated_at=ctx.now, data=text)
        session.add(row)
        session.flush()
    elif data.count >= row.count:  # a later state of the same incident (never go back)
        row.count, row.closed, row.data, row.updated_at = (
            data.count, row.closed or data.closed, text, ctx.now)
        row.first_at = row.first_at or first
        row.last_at = max(filter(None, [row.last_at, last]), default=None)
    correlate(session, row, ctx.window, ctx.now)


def _fim(ctx: _Apply, item: _Valid, row_id: int) -> None:
    data: FimData = item.data  # type: ignore[assignment]
    extra = {k: v for k, v in item.event.data.items() if k not in ("path", "change", "label")}
    ctx.session.add(FimChange(asset_id=ctx.agent.asset_id, agent_id=ctx.agent.id,
                              event_row_id=row_id, path=data.path, change=data.change,
                              label=data.label, time=utc(item.event.time),
                              data=json.dumps(extra, ensure_ascii=False, default=str)))


def _inventory(ctx: _Apply, item: _Valid, row_id: int) -> None:
    taken = utc(item.event.time)
    blob = zlib.compress(json.dumps(item.event.data, default=str).encode(), 6)
    row = ctx.session.get(HostInventory, ctx.agent.asset_id)
    if row is None:
        ctx.session.add(HostInventory(asset_id=ctx.agent.asset_id, agent_id=ctx.agent.id,
                                      taken_at=taken, received_at=ctx.now, data=blob))
    elif taken >= row.taken_at:  # an older snapshot arriving late never replaces a newer one
        row.agent_id, row.taken_at, row.received_at, row.data = (
            ctx.agent.id, taken, ctx.now, blob)


def _sbom(ctx: _Apply, item: _Valid, row_id: int) -> None:
    from stackwarden.server.jobs import create_job

    data: SbomData = item.data  # type: ignore[assignment]
    content = json.dumps(data.sbom, ensure_ascii=False, separators=(",", ":")).encode()
    actor = f"agent:{ctx.agent.uid}"
    sbom = Sbom(asset_id=ctx.agent.asset_id, format="stackwarden", received_at=ctx.now,
                submitted_by=actor, packages=len(data.sbom.get("packages") or []),
                sha256=hashlib.sha256(content).hexdigest(), content=zlib.compress(content, 6))
    ctx.session.add(sbom)
    ctx.session.flush()
    name = ctx.asset.name if ctx.asset is not None else ctx.agent.hostname
    job = create_job(ctx.session, "rematch_sbom", actor, ctx.audit,
                     params={"sbom_id": sbom.id, "asset": {"kind": "host", "name": name}})
    ctx.out.jobs.append(job.id)


def _response(ctx: _Apply, item: _Valid, row_id: int) -> None:
    data: ResponseActionData = item.data  # type: ignore[assignment]
    details = {"address": data.address, "reason": data.reason, "rule_id": data.rule_id,
               "alert_id": data.alert_id, "timeout": data.timeout, "event_id": item.event.id,
               "at": datetime.fromtimestamp(data.at, UTC).isoformat().replace("+00:00", "Z"),
               "host": ctx.asset.name if ctx.asset is not None else ctx.agent.hostname}
    ctx.audit.append(ctx.session, f"agent:{ctx.agent.uid}", f"response.{data.action}",
                     f"agent:{ctx.agent.id}", details)


HANDLERS: dict[str, Callable[[_Apply, _Valid, int], None]] = {
    "log.alert": _alert, "fim.change": _fim, "inventory.snapshot": _inventory,
    "host.sbom": _sbom, "response.action": _response,
}
