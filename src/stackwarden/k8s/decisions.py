"""Every admission decision, recorded with its reasons: a JSON-lines log, and the server's
audit trail when one is configured.

The log line is written before the webhook answers (a few microseconds: one buffered write).
Shipping to the server never sits on the request path: decisions queue in memory and a
background thread posts them in batches, retrying while the server is away; when the queue is
full the oldest are dropped and counted (the local log still has them).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx

from stackwarden.core.errors import UsageError
from stackwarden.k8s.images import Reason

log = logging.getLogger("stackwarden.admission")
DECISION_SCHEMA_VERSION = "1"


@dataclass(frozen=True, slots=True)
class Decision:
    """What the webhook decided about one AdmissionReview, and why."""

    time: str
    uid: str
    allowed: bool
    verdict: str  # allow, warn, deny (what the policy says, whatever the mode)
    mode: str
    operation: str = ""
    kind: str = ""
    namespace: str = ""
    name: str = ""
    user: str = ""
    dry_run: bool = False
    reasons: tuple[Reason, ...] = ()
    images: tuple[dict[str, Any], ...] = ()
    note: str = ""  # why nothing was checked (excluded namespace, DELETE, malformed body, …)
    duration_ms: float = 0.0
    policy: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The decision log's JSON object (stable key order)."""
        return {"schema_version": DECISION_SCHEMA_VERSION, "time": self.time, "uid": self.uid,
                "allowed": self.allowed, "verdict": self.verdict, "mode": self.mode,
                "operation": self.operation, "kind": self.kind, "namespace": self.namespace,
                "name": self.name, "user": self.user, "dry_run": self.dry_run,
                "reasons": [r.to_dict() for r in self.reasons], "images": list(self.images),
                "note": self.note, "duration_ms": round(self.duration_ms, 3),
                "policy": self.policy}


class DecisionLog:
    """JSON lines to a file (rotated at `max_bytes`, one backup kept) or to standard output."""

    def __init__(self, target: str | Path = "-", *, max_bytes: int = 100 * 1024 * 1024) -> None:
        self.target = str(target)
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._size = 0
        self._handle: IO[str] = sys.stdout if self.target == "-" else self._open()

    def _open(self) -> IO[str]:
        try:
            handle = open(self.target, "a", encoding="utf-8")  # noqa: SIM115 - kept open
        except OSError as exc:
            raise UsageError(f"cannot open the decision log: {exc.strerror or exc}",
                             source=self.target) from None
        self._size = handle.tell()
        return handle

    def write(self, decision: Decision) -> None:
        """Append one decision (a line of JSON)."""
        line = json.dumps(decision.to_dict(), ensure_ascii=False, separators=(",", ":")) + "\n"
        with self._lock:
            try:
                if self.target != "-" and self._size + len(line) > self.max_bytes > 0:
                    self._rotate()
                self._handle.write(line)
                self._handle.flush()
                self._size += len(line)
            except (OSError, ValueError) as exc:  # a full disk must not stop admission
                log.error("cannot write the decision log %s: %s", self.target, exc)

    def _rotate(self) -> None:
        self._handle.close()
        os.replace(self.target, self.target + ".1")
        self._handle = self._open()

    def close(self) -> None:
        """Flush and close (standard output is left open)."""
        with self._lock:
            if self.target != "-":
                self._handle.close()


@dataclass
class ShipperStats:
    """Counters for /metrics and the tests."""

    sent: int = 0
    dropped: int = 0
    failures: int = 0
    last_error: str = ""
    pending: int = field(default=0)


class AuditShipper:
    """Posts decisions to the server's audit trail in batches, off the request path."""

    def __init__(self, url: str, token: str, *, batch: int = 100, max_queue: int = 10_000,
                 interval: float = 1.0, timeout: float = 10.0, record: str = "all",
                 transport: httpx.BaseTransport | None = None, verify: Any = True) -> None:
        if record not in ("all", "deny", "warn"):
            raise UsageError("must be all, warn or deny", source="--audit-record")
        self.record = record
        self.batch, self.interval = batch, interval
        self.stats = ShipperStats()
        self._queue: deque[dict[str, Any]] = deque(maxlen=max_queue)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._client = httpx.Client(base_url=url.rstrip("/"), timeout=timeout,
                                    transport=transport, verify=verify,
                                    headers={"Authorization": f"Bearer {token}"})
        self._thread = threading.Thread(target=self._loop, name="sw-audit-ship", daemon=True)
        self._thread.start()

    def wants(self, decision: Decision) -> bool:
        """Whether `record` asks for this decision (all; warn = warn and deny; deny)."""
        return self.record == "all" or decision.verdict == "deny" or (
            self.record == "warn" and decision.verdict == "warn")

    def submit(self, decision: Decision) -> None:
        """Queue a decision (never blocks; the oldest is dropped when the queue is full)."""
        if not self.wants(decision):
            return
        with self._lock:
            if len(self._queue) == self._queue.maxlen:
                self.stats.dropped += 1
            self._queue.append(decision.to_dict())
            full = len(self._queue) >= self.batch
        if full:
            self._wake.set()

    def _loop(self) -> None:
        backoff = self.interval
        while not self._stop.is_set():
            self._wake.wait(backoff)
            self._wake.clear()
            backoff = self.interval if self._flush() else min(backoff * 2, 60.0)
        self._flush()

    def _flush(self) -> bool:
        while True:
            with self._lock:
                items = [self._queue.popleft() for _ in range(min(self.batch, len(self._queue)))]
                self.stats.pending = len(self._queue) + len(items)
            if not items:
                self.stats.pending = 0
                return True
            try:
                response = self._client.post("/api/v1/admission/decisions",
                                             json={"decisions": items})
                ok = response.status_code in (200, 201)
                error = "" if ok else f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                ok, error = False, type(exc).__name__
            if ok:
                self.stats.sent += len(items)
                self.stats.last_error = ""
                self.stats.pending = len(self._queue)
                continue
            with self._lock:  # put them back in front, as far as room allows
                room = (self._queue.maxlen or 0) - len(self._queue)
                self.stats.dropped += max(0, len(items) - room)
                self._queue.extendleft(reversed(items[len(items) - max(room, 0):]))
                self.stats.pending = len(self._queue)
            self.stats.failures += 1
            if error != self.stats.last_error:
                log.warning("cannot record decisions on the server: %s (will retry)", error)
            self.stats.last_error = error
            return False

    def flush(self, timeout: float = 5.0) -> None:
        """Ask the thread to send now and wait (up to `timeout`) until the queue is empty."""
        pause = threading.Event()
        for _ in range(max(1, int(timeout / 0.05))):
            self._wake.set()
            pause.wait(0.05)
            if not self._queue and self.stats.pending == 0:
                break

    def close(self) -> None:
        """Send what is queued (briefly) and stop."""
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=5.0)
        self._client.close()
