"""Inventory as an agent collector (`collectors.inventory`): the whole snapshot the first time
and whenever it changed, with its differences from the one shipped before; and the snapshot
file helpers `inventory snapshot` / `inventory diff` use."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from datetime import datetime
from typing import Any

from pydantic import Field, field_validator

from stackwarden.agent.interface import Collection, Collector, CollectorContext, CollectorSettings
from stackwarden.agent.inventory.diff import diff_snapshots
from stackwarden.agent.inventory.model import SECTIONS, InventoryError, Snapshot
from stackwarden.agent.inventory.snapshot import take_snapshot

def _digest(doc: Any) -> str:
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()[:32]


def load_snapshot(path: str) -> Snapshot:
    """A snapshot JSON file (as `inventory snapshot` writes it)."""
    try:
        with open(path, encoding="utf-8") as handle:
            doc = json.load(handle)
    except OSError as exc:
        raise InventoryError(f"cannot read: {exc.strerror}", source=path) from None
    except ValueError as exc:
        raise InventoryError(f"not JSON: {exc}", source=path) from None
    return Snapshot.from_dict(doc, path)


def save_snapshot(snapshot: Snapshot, path: str) -> None:
    """Write a snapshot atomically (mode 0600: it lists accounts and sudo rules)."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".inventory.", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(snapshot.to_dict(), handle)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


class InventorySettings(CollectorSettings):
    """`collectors.inventory`: which root and sections, how often."""

    root: str = Field("/", min_length=1, max_length=4096)
    sections: list[str] = Field(default_factory=list, max_length=20)  # empty: every section
    all_packages: bool = False  # also language packages (the whole file system is walked)

    @field_validator("sections")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(SECTIONS))
        if unknown:
            raise ValueError(f"unknown section(s) {', '.join(unknown)} "
                             f"(known: {', '.join(SECTIONS)})")
        return value


class InventoryCollector(Collector):
    """Snapshots the host every interval: `inventory.snapshot` (whole, the first time and
    whenever something changed, so the server always holds the newest) and `inventory.diff`
    (what changed since the snapshot last shipped). The shipped snapshot is kept in the state
    directory only once the events are queued (`commit`)."""

    name = "inventory"
    default_interval = 3600.0
    Settings = InventorySettings

    def __init__(self, ctx: CollectorContext) -> None:
        super().__init__(ctx)
        self.settings: InventorySettings = ctx.settings  # type: ignore[assignment]
        self.state = str(ctx.state_dir / "last.json")

    def collect(self) -> Collection:
        """Take a snapshot; ship it (and its differences) when it is new or changed."""
        snap = take_snapshot(self.settings.root, sections=self.settings.sections or None,
                             all_packages=self.settings.all_packages)
        previous = None
        notes: list[str] = []
        if os.path.exists(self.state):
            try:
                previous = load_snapshot(self.state)
            except InventoryError as exc:
                notes.append(f"inventory: previous snapshot unreadable, shipping anew: {exc}")
        doc = snap.to_dict()
        digest = _digest(doc["sections"])
        events = []
        if previous is not None:
            diff = diff_snapshots(previous, snap)
            if not diff["sections"]:
                return Collection(notes=notes)
            events.append(self.event("inventory.diff", diff, time=_epoch(snap.taken),
                                     key=f"diff:{digest}"))
        events.insert(0, self.event("inventory.snapshot", doc, time=_epoch(snap.taken),
                                    key=f"snapshot:{digest}"))
        return Collection(events, notes, checkpoint=snap)

    def commit(self, collection: Collection) -> None:
        """The snapshot is queued: the next collection is compared with it."""
        if collection.checkpoint is not None:
            save_snapshot(collection.checkpoint, self.state)


def _epoch(taken: str) -> float | None:
    """A snapshot's `taken` (ISO 8601, UTC) in seconds since the epoch."""
    try:
        return datetime.fromisoformat(taken.replace("Z", "+00:00")).timestamp()
    except (TypeError, ValueError):
        return None
