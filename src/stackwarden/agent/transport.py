"""Buffered shipping: events wait in an on-disk SQLite queue until the server acknowledged them,
travel in gzip-compressed batches in queue order, and are retried with exponential back-off.

Guarantees (docs/agent.md):
- **nothing lost**: an event leaves the queue only when the server answered 200 for its batch
  (stored, or already stored), or rejected that very event (it then goes to the `dead` table
  with the reason, never silently away). The queue is written with `synchronous=FULL`, so a
  queued event survives a crash or power loss.
- **nothing doubled**: every event carries an id the server stores once per agent; a batch
  retried after a lost answer is acknowledged as duplicates.
- **in order**: one shipper sends batches in queue order (`seq`, never reused: AUTOINCREMENT),
  the next only after the previous one was acknowledged.
- a batch the server refuses as a whole (400/413/422) is halved until the offending event is
  alone, so one bad event cannot block the queue.
"""

from __future__ import annotations

import gzip
import json
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stackwarden.agent.client import AgentClient, AgentError, ServerRefused
from stackwarden.agent.config import TransportSettings
from stackwarden.agent.interface import AgentEvent
from stackwarden.core.errors import StackWardenError

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL "
    "UNIQUE, kind TEXT NOT NULL, time REAL NOT NULL, data TEXT NOT NULL, size INTEGER NOT NULL, "
    "queued_at REAL NOT NULL)",
    "CREATE TABLE IF NOT EXISTS dead (seq INTEGER PRIMARY KEY, id TEXT NOT NULL, kind TEXT NOT "
    "NULL, time REAL NOT NULL, data TEXT NOT NULL, reason TEXT NOT NULL, at REAL NOT NULL)",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)",
)
REFUSED_BATCH = (400, 413, 415, 422)  # the batch itself is the problem: split it


class QueueError(StackWardenError):
    """The queue file cannot be opened or written (disk full, corrupt, permissions)."""


@dataclass(frozen=True, slots=True)
class Queued:
    """An event in the queue, its data already JSON."""

    seq: int
    id: str
    kind: str
    time: float
    data: str


def _json(event: AgentEvent) -> str:
    return json.dumps(dict(event.data), ensure_ascii=False, separators=(",", ":"),
                      default=str, allow_nan=False)


class EventQueue:
    """Events on disk in arrival order until acknowledged (thread-safe, one file)."""

    def __init__(self, path: Path | str, max_bytes: int = 512 * 1024 * 1024) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None,
                                       check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            for statement in SCHEMA:
                self._db.execute(statement)
            self._bytes = int(self._db.execute(
                "SELECT COALESCE(SUM(size), 0) FROM events").fetchone()[0])
        except sqlite3.Error as exc:
            raise QueueError(f"cannot open the event queue: {exc}", source=str(path)) from exc
        self.path.chmod(0o600)

    def put(self, events: Sequence[AgentEvent]) -> int:
        """Queue events (an id already queued is ignored); returns how many were added.

        Past `max_bytes` the events are dropped and counted (`dropped` in `stats`): the disk
        is not filled by a server that never comes back."""
        if not events:
            return 0
        rows = []
        for event in events:
            try:
                data = _json(event)
            except ValueError:  # NaN or infinity in a collector's data: not JSON
                data = json.dumps({"unserialisable": repr(dict(event.data))[:2000]})
            rows.append((event.id, event.kind, event.time, data, len(data) + 120, time.time()))
        with self._lock:
            room = self.max_bytes - self._bytes
            kept, size = [], 0
            for row in rows:
                if size + row[4] > room:
                    break
                kept.append(row)
                size += row[4]
            try:
                self._db.execute("BEGIN IMMEDIATE")
                before = self._db.total_changes
                self._db.executemany("INSERT OR IGNORE INTO events (id, kind, time, data, "
                                     "size, queued_at) VALUES (?, ?, ?, ?, ?, ?)", kept)
                added = self._db.total_changes - before
                if len(kept) < len(rows):
                    self._bump("dropped", len(rows) - len(kept))
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                raise QueueError(f"cannot queue events: {exc}", source=str(self.path)) from exc
            self._bytes = int(self._db.execute(
                "SELECT COALESCE(SUM(size), 0) FROM events").fetchone()[0])
            return added

    def peek(self, max_events: int, max_bytes: int) -> list[Queued]:
        """The oldest events, up to `max_events` and about `max_bytes` (at least one)."""
        with self._lock:
            rows = self._db.execute("SELECT seq, id, kind, time, data, size FROM events "
                                    "ORDER BY seq LIMIT ?", (max_events,)).fetchall()
        batch, size = [], 0
        for seq, ident, kind, when, data, length in rows:
            if batch and size + length > max_bytes:
                break
            batch.append(Queued(seq, ident, kind, when, data))
            size += length
        return batch

    def ack(self, seqs: Sequence[int]) -> None:
        """Remove acknowledged events."""
        self._delete("DELETE FROM events WHERE seq IN ({})", seqs)

    def dead_letter(self, items: Sequence[Queued], reason: str) -> None:
        """Move events the server refused out of the queue, keeping them and the reason."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.executemany(
                    "INSERT OR REPLACE INTO dead (seq, id, kind, time, data, reason, at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [(q.seq, q.id, q.kind, q.time, q.data, reason[:500], time.time())
                     for q in items])
                self._db.executemany("DELETE FROM events WHERE seq = ?",
                                     [(q.seq,) for q in items])
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                raise QueueError(f"cannot update the queue: {exc}", source=str(self.path)
                                 ) from exc
            self._refresh_bytes()

    def stats(self) -> dict[str, Any]:
        """Depth, bytes, age of the oldest event, dropped and dead-lettered counts."""
        with self._lock:
            depth, oldest = self._db.execute(
                "SELECT COUNT(*), MIN(queued_at) FROM events").fetchone()
            dead = self._db.execute("SELECT COUNT(*) FROM dead").fetchone()[0]
            dropped = self._db.execute("SELECT value FROM meta WHERE key = 'dropped'"
                                       ).fetchone()
        return {"depth": depth, "bytes": self._bytes, "oldest_queued_at": oldest,
                "dead": dead, "dropped": dropped[0] if dropped else 0}

    def dead(self, limit: int = 100) -> list[dict[str, Any]]:
        """The most recent dead-lettered events with their reasons."""
        with self._lock:
            rows = self._db.execute("SELECT seq, id, kind, reason, at FROM dead ORDER BY seq "
                                    "DESC LIMIT ?", (limit,)).fetchall()
        return [{"seq": s, "id": i, "kind": k, "reason": r, "at": a} for s, i, k, r, a in rows]

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._db.close()

    def _delete(self, sql: str, seqs: Sequence[int]) -> None:
        with self._lock:
            try:
                for start in range(0, len(seqs), 500):
                    chunk = list(seqs[start:start + 500])
                    self._db.execute(sql.format(",".join("?" * len(chunk))), chunk)
            except sqlite3.Error as exc:
                raise QueueError(f"cannot update the queue: {exc}", source=str(self.path)
                                 ) from exc
            self._refresh_bytes()

    def _refresh_bytes(self) -> None:
        self._bytes = int(self._db.execute(
            "SELECT COALESCE(SUM(size), 0) FROM events").fetchone()[0])

    def _bump(self, key: str, by: int) -> None:
        self._db.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO "
                         "UPDATE SET value = value + excluded.value", (key, by))

    def _rollback(self) -> None:
        try:
            self._db.execute("ROLLBACK")
        except sqlite3.Error:
            pass


def encode_batch(batch: Sequence[Queued]) -> bytes:
    """The gzip-compressed JSON body `{"events": [...]}` (data spliced in as queued)."""
    parts = [f'{{"id":{json.dumps(q.id)},"seq":{q.seq},"kind":{json.dumps(q.kind)},'
             f'"time":{json.dumps(q.time)},"data":{q.data}}}' for q in batch]
    body = ('{"events":[' + ",".join(parts) + "]}").encode()
    return gzip.compress(body, compresslevel=6, mtime=0)


class Backoff:
    """Exponential back-off with jitter: initial, 2x, 4x … up to `maximum`; each delay is
    drawn in [d/2, d] so agents cut off together do not come back in one wave."""

    def __init__(self, initial: float, maximum: float,
                 rng: Callable[[], float] = random.random) -> None:
        self.initial, self.maximum, self.rng = initial, maximum, rng
        self.failures = 0

    def next_delay(self, retry_after: float | None = None) -> float:
        """The wait before the next try, after one more failure."""
        ceiling = min(self.maximum, self.initial * 2 ** min(self.failures, 60))
        self.failures += 1
        delay = ceiling / 2 + self.rng() * ceiling / 2
        return max(delay, min(retry_after or 0.0, self.maximum))

    def reset(self) -> None:
        """A success: the next failure starts from `initial` again."""
        self.failures = 0


@dataclass(frozen=True, slots=True)
class ShipResult:
    """What one attempt did."""

    sent: int = 0  # events acknowledged (stored or already stored)
    duplicates: int = 0
    rejected: int = 0  # events the server refused one by one (dead-lettered)
    error: str | None = None  # why the attempt failed (events kept)
    retry_in: float = 0.0  # wait this long before the next attempt
    credential_refused: bool = False


class Shipper:
    """Sends the queue's oldest batch; call `ship()` again as long as it returns sent > 0."""

    def __init__(self, queue: EventQueue, client: AgentClient, settings: TransportSettings,
                 *, rng: Callable[[], float] = random.random) -> None:
        self.queue, self.client, self.settings = queue, client, settings
        self.backoff = Backoff(settings.backoff_initial, settings.backoff_max, rng)
        self.limit = settings.batch_max_events

    def ship(self) -> ShipResult | None:
        """Send one batch; None when the queue is empty."""
        batch = self.queue.peek(self.limit, self.settings.batch_max_bytes)
        if not batch:
            return None
        try:
            answer = self.client.send_events(encode_batch(batch))
        except ServerRefused as exc:
            if exc.status in REFUSED_BATCH:
                return self._refused_batch(batch, exc)
            delay = self.backoff.next_delay(exc.retry_after)
            if exc.status in (401, 403):  # revoked or wrong credential: retry slowly
                return ShipResult(error=exc.message, retry_in=self.settings.backoff_max,
                                  credential_refused=True)
            return ShipResult(error=exc.message, retry_in=delay)
        except AgentError as exc:
            return ShipResult(error=exc.message, retry_in=self.backoff.next_delay())
        rejected = _rejected(answer, batch)
        for item, reason in rejected:
            self.queue.dead_letter([item], f"rejected by the server: {reason}")
        gone = {item.seq for item, _ in rejected}
        self.queue.ack([q.seq for q in batch if q.seq not in gone])
        self.backoff.reset()
        self.limit = min(self.settings.batch_max_events, self.limit * 2)
        return ShipResult(sent=len(batch) - len(gone),
                          duplicates=int(answer.get("duplicates") or 0), rejected=len(gone))

    def _refused_batch(self, batch: list[Queued], exc: ServerRefused) -> ShipResult:
        if len(batch) > 1:  # find the culprit: halve until it is alone
            self.limit = max(1, len(batch) // 2)
            return ShipResult(error=exc.message)
        self.queue.dead_letter(batch, exc.message)
        return ShipResult(rejected=1, error=exc.message)


def _rejected(answer: dict[str, Any], batch: Sequence[Queued]) -> list[tuple[Queued, str]]:
    by_id = {q.id: q for q in batch}
    out = []
    for item in answer.get("rejected") or []:
        if isinstance(item, dict) and item.get("id") in by_id:
            out.append((by_id[item["id"]], str(item.get("reason", ""))[:300]))
    return out
