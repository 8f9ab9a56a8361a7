"""Dependency-graph walks that lockfile parsers share (e.g. telling dev-only packages apart)."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping

MAX_STEPS = 2_000_000  # nodes visited; a hostile lockfile cannot make a walk run forever


def reachable(roots: Iterable[str], edges: Mapping[str, Iterable[str]]) -> set[str]:
    """Every node reachable from `roots` (roots included), breadth first, cycles tolerated."""
    seen: set[str] = set()
    queue = deque(roots)
    steps = 0
    while queue and steps < MAX_STEPS:
        node = queue.popleft()
        steps += 1
        if node in seen:
            continue
        seen.add(node)
        queue.extend(edges.get(node, ()))
    return seen


def dev_only(main_roots: Iterable[str], dev_roots: Iterable[str],
             edges: Mapping[str, Iterable[str]]) -> set[str]:
    """Nodes reachable from the dev roots but not from the main (production) roots."""
    dev = reachable(dev_roots, edges)
    return dev - reachable(main_roots, edges) if dev else dev
