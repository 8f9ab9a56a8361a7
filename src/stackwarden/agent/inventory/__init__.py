"""Host inventory: snapshots of what a host runs and holds, and the differences between them.

    snap = take_snapshot("/")            # packages, processes, sockets, users, services, …
    changes = diff_snapshots(old, snap)
"""

from stackwarden.agent.inventory.diff import diff_snapshots
from stackwarden.agent.inventory.model import SECTIONS, InventoryError, Snapshot
from stackwarden.agent.inventory.snapshot import take_snapshot

__all__ = ["SECTIONS", "InventoryError", "Snapshot", "diff_snapshots", "take_snapshot"]
