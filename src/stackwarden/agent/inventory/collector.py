"""Inventory as an agent collector: the first `collect()` ships the whole snapshot, later ones
ship what changed since the snapshot last shipped (kept in a state file)."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from typing import Any

from stackwarden.agent.inventory.diff import diff_snapshots
from stackwarden.agent.inventory.model import InventoryError, Snapshot
from stackwarden.agent.inventory.snapshot import take_snapshot

Event = dict[str, Any]


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


class InventoryCollector:
    """Snapshots `root` on each collect; events `inventory.snapshot` then `inventory.diff`."""

    name = "inventory"

    def __init__(self, state: str, root: str = "/", *, sections: Sequence[str] | None = None,
                 all_packages: bool = False) -> None:
        self.state = state
        self.root = root
        self.sections = list(sections) if sections else None
        self.all_packages = all_packages

    def collect(self) -> list[Event]:
        """Take a snapshot; return it whole the first time, else its differences (if any)."""
        snap = take_snapshot(self.root, sections=self.sections, all_packages=self.all_packages)
        previous = None
        if os.path.exists(self.state):
            try:
                previous = load_snapshot(self.state)
            except InventoryError:
                previous = None  # unreadable state: start over with a full snapshot
        if previous is None:
            doc = snap.to_dict()
            events = [{"type": "inventory.snapshot", "id": _digest(doc["sections"]),
                       "time": snap.taken, "data": doc}]
        else:
            diff = diff_snapshots(previous, snap)
            events = ([{"type": "inventory.diff", "id": _digest(diff["sections"]),
                        "time": snap.taken, "data": diff}] if diff["sections"] else [])
        save_snapshot(snap, self.state)
        return events
