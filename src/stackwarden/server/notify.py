"""Notifications: `notify(session, event, payload)` queues a message for every channel that
wants the event, in the caller's transaction; a dispatcher thread delivers them with retries
and back-off, recording every attempt. Sending never happens inside the caller's transaction,
so a channel that is down never slows or blocks ingestion.

Grouping: one call is one message however many items it carries (a scan with 500 new
critical findings sends one message listing them); calls with the same `group_key` made before
the message went out are merged into it.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from stackwarden.server.auth import utcnow
from stackwarden.server.db.models_dashboard import (
    DeliveryAttempt,
    NotificationChannel,
    NotificationDelivery,
)
from stackwarden.server.notify_channels import SENDERS, DeliveryError, Message

log = logging.getLogger("stackwarden.server.notify")

# Event kinds a channel can subscribe to (the rules), with what triggers them.
EVENTS: dict[str, str] = {
    "new_critical_finding": "a scan brought new critical or known-exploited (KEV) findings",
    "gate_failure": "a pipeline's gate failed on an uploaded scan",
    "golden_image_threat": "a new finding on an image labelled golden",
    "audit_verification_failure": "verifying the audit log found a problem",
    "agent_silent": "a host agent stopped reporting",
}
TEST_EVENT = "test"
MAX_GROUPED_ITEMS = 1000  # items kept in one stored message (the count keeps growing)
STALE_SENDING = timedelta(minutes=5)  # a claimed delivery whose sender died goes back to pending
_wake = threading.Event()


def notify(session: Session, event: str, payload: dict[str, Any], *, group_key: str = "",
           channel_id: int | None = None) -> int:
    """Queue `event` for every enabled channel subscribed to it; returns how many were queued.

    `payload`: `title` (one line), `summary`, `severity` (worst of the items), `items` (list of
    dicts, each with a `text` line), `count` (defaults to the number of items), `path` (the
    dashboard page, made a link with the server's `public_url`).
    Runs in the caller's transaction: the messages exist if and only if it commits.
    """
    if event not in EVENTS and event != TEST_EVENT:
        raise ValueError(f"unknown notification event {event!r}")
    query = select(NotificationChannel).where(NotificationChannel.enabled.is_(True))
    if channel_id is not None:
        query = query.where(NotificationChannel.id == channel_id)
    channels = [c for c in session.execute(query).scalars()
                if channel_id is not None or event in c.events.split()]
    now = utcnow()
    body = {"time": now.strftime("%Y-%m-%dT%H:%M:%SZ"), **payload}
    body.setdefault("count", len(body.get("items") or []))
    queued = 0
    for channel in channels:
        if group_key and _merge(session, channel.id, event, group_key, body):
            queued += 1
            continue
        session.add(NotificationDelivery(
            channel_id=channel.id, event=event, group_key=group_key[:200],
            payload=json.dumps(body, ensure_ascii=False), state="pending", attempts=0,
            next_attempt_at=now, created_at=now, last_error=""))
        queued += 1
    if queued:
        session.flush()
        _wake.set()
    return queued


def notify_now(ctx: Any, event: str, payload: dict[str, Any], *, group_key: str = "") -> int:
    """`notify` in a transaction of its own (for callers that hold no session, e.g. a
    watcher noticing that an agent went silent)."""
    with ctx.db.transaction() as session:
        return notify(session, event, payload, group_key=group_key)


def _merge(session: Session, channel_id: int, event: str, group_key: str,
           body: dict[str, Any]) -> bool:
    pending = session.execute(
        select(NotificationDelivery).where(
            NotificationDelivery.channel_id == channel_id, NotificationDelivery.event == event,
            NotificationDelivery.group_key == group_key, NotificationDelivery.state == "pending",
            NotificationDelivery.attempts == 0).with_for_update()).scalar_one_or_none()
    if pending is None:
        return False
    merged = json.loads(pending.payload)
    items = list(merged.get("items") or []) + list(body.get("items") or [])
    merged["items"] = items[:MAX_GROUPED_ITEMS]
    merged["count"] = int(merged.get("count", 0)) + int(body.get("count", 0))
    pending.payload = json.dumps(merged, ensure_ascii=False)
    return True


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    """What one delivery attempt did."""

    delivery_id: int
    ok: bool
    detail: str
    state: str


def backoff(settings: Any, attempts: int) -> float:
    """Seconds before the next try after `attempts` failures: base x 4^(n-1), at most 6 h."""
    return float(min(settings.notify_retry_seconds * 4 ** max(0, attempts - 1), 6 * 3600))


def deliver_due(ctx: Any, limit: int = 50, now: datetime | None = None
                ) -> list[DeliveryOutcome]:
    """Send every delivery that is due (claimed one at a time, so several processes can run
    this at once); returns what happened."""
    settings = ctx.settings
    outcomes = []
    now = now or utcnow()
    with ctx.db.transaction() as session:
        session.execute(update(NotificationDelivery).where(
            NotificationDelivery.state == "sending",
            NotificationDelivery.next_attempt_at < now - STALE_SENDING).values(state="pending"))
    with ctx.db.session() as session:
        due = list(session.execute(
            select(NotificationDelivery.id).where(NotificationDelivery.state == "pending",
                                                  NotificationDelivery.next_attempt_at <= now)
            .order_by(NotificationDelivery.id).limit(limit)).scalars())
    for delivery_id in due:
        outcome = _deliver_one(ctx, delivery_id, settings)
        if outcome is not None:
            outcomes.append(outcome)
    return outcomes


def _deliver_one(ctx: Any, delivery_id: int, settings: Any) -> DeliveryOutcome | None:
    with ctx.db.transaction() as session:
        claimed = session.execute(update(NotificationDelivery).where(
            NotificationDelivery.id == delivery_id, NotificationDelivery.state == "pending")
            .values(state="sending", next_attempt_at=utcnow())).rowcount
        if not claimed:
            return None  # another process took it
        delivery = session.get(NotificationDelivery, delivery_id)
        channel = session.get(NotificationChannel, delivery.channel_id) if delivery else None
        if delivery is None or channel is None:
            return None
        payload = json.loads(delivery.payload)
        if payload.get("path") and settings.public_url and not payload.get("link"):
            payload["link"] = settings.public_url.rstrip("/") + str(payload["path"])
        message = Message(delivery.id, delivery.event, payload)
        kind, config = channel.kind, json.loads(channel.config)
        attempts = delivery.attempts + 1
    started = time.monotonic()
    try:
        sender = SENDERS.get(kind)
        if sender is None:
            raise DeliveryError(f"unknown channel kind {kind!r}")
        detail, ok = sender(message, config, settings.notify_timeout_seconds), True
    except DeliveryError as exc:
        detail, ok = exc.message, False
    except Exception as exc:  # noqa: BLE001 - a sender bug must not kill the dispatcher
        log.exception("notification %s: sender crashed", delivery_id)
        detail, ok = f"internal error: {type(exc).__name__}", False
    elapsed = int((time.monotonic() - started) * 1000)
    now = utcnow()
    if ok:
        state, values = "sent", {"sent_at": now, "last_error": ""}
    elif attempts >= settings.notify_max_attempts:
        state, values = "failed", {"last_error": detail}
    else:
        state, values = "pending", {"last_error": detail, "next_attempt_at": now + timedelta(
            seconds=backoff(settings, attempts))}
    with ctx.db.transaction() as session:
        session.execute(update(NotificationDelivery).where(NotificationDelivery.id == delivery_id)
                        .values(state=state, attempts=attempts, **values))
        session.add(DeliveryAttempt(delivery_id=delivery_id, at=now, ok=ok, detail=detail[:1000],
                                    duration_ms=elapsed))
    if not ok:
        log.warning("notification %s to %s failed (attempt %s): %s", delivery_id, kind,
                    attempts, detail)
    return DeliveryOutcome(delivery_id, ok, detail, state)


class Dispatcher:
    """A background thread delivering due notifications (started with the API process)."""

    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sw-notify", daemon=True)

    def start(self) -> Dispatcher:
        """Start the thread."""
        self._thread.start()
        return self

    def _run(self) -> None:
        interval = self.ctx.settings.notify_poll_seconds
        while not self._stop.is_set():
            try:
                deliver_due(self.ctx)
            except Exception as exc:  # noqa: BLE001 - database away: try again next round
                log.warning("notification dispatch failed: %s", type(exc).__name__)
            _wake.wait(interval)
            _wake.clear()

    def close(self) -> None:
        """Stop after the current round."""
        self._stop.set()
        _wake.set()
        self._thread.join(timeout=30)


def wake() -> None:
    """Ask the dispatcher to look for due deliveries now."""
    _wake.set()
