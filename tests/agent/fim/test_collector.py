"""The FIM collector the agent runs: the baseline first, then each change once, as events with
stable ids; changes still pending when the agent stops are shipped by close()."""

from __future__ import annotations

import json
import time
from pathlib import Path

from stackwarden.agent.collectors import collector_class, parse_settings
from stackwarden.agent.interface import Collection, CollectorContext


def _collector(tmp_path: Path, root: Path, woken: list[int], **raw: object):  # type: ignore[no-untyped-def]
    state = tmp_path / "state"
    state.mkdir(exist_ok=True)
    settings = parse_settings("fim", {"paths": [str(root)], **raw})
    ctx = CollectorContext(settings, state, agent_id="a1", wake=lambda: woken.append(1))
    return collector_class("fim")(ctx)


def _wait_for(collector, paths: set[str], seconds: float = 10) -> list:  # type: ignore[no-untyped-def]
    events: list = []  # type: ignore[type-arg]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        events += collector.collect().events
        if paths <= {e.data["path"] for e in events if e.kind == "fim.change"}:
            break
        time.sleep(0.1)
    return events


def test_baseline_then_realtime_changes_once(tmp_path: Path) -> None:
    root = tmp_path / "t"
    root.mkdir()
    (root / "a").write_text("a\n")
    woken: list[int] = []
    collector = _collector(tmp_path, root, woken)
    try:
        first = collector.collect()
        assert [e.kind for e in first.events] == ["fim.baseline"]
        assert first.events[0].data["files"] == 2
        time.sleep(0.5)  # the watcher's inotify watches are in place
        (root / "a").write_text("b\n")
        (root / "new").write_text("x\n")
        events = _wait_for(collector, {str(root), str(root / "a"), str(root / "new")})
        changes = sorted((e.data["path"], e.data["change"]) for e in events
                         if e.kind == "fim.change")
        # the files, and the directory whose mtime they changed
        assert changes == [(str(root), "metadata"), (str(root / "a"), "modified"),
                           (str(root / "new"), "added")]
        assert woken, "the watcher wakes the agent instead of waiting for the interval"
        assert not collector.collect().events  # each change once
        json.dumps([e.data for e in events])  # JSON-ready
        ids = [e.id for e in events if e.kind == "fim.change"]
        assert len(set(ids)) == len(ids) == 3
    finally:
        collector.close()


def test_pending_changes_are_shipped_on_close_and_a_new_path_rebuilds(tmp_path: Path) -> None:
    root = tmp_path / "t"
    root.mkdir()
    (root / "a").write_text("a\n")
    collector = _collector(tmp_path, root, [], realtime=False, fallback_interval=10)
    assert [e.kind for e in collector.collect().events] == ["fim.baseline"]
    (root / "a").write_text("changed\n")
    # Without inotify the watcher checks on its schedule; a full check now stands in for it.
    assert collector._watcher is not None
    collector._watcher.full_check()
    last: Collection = collector.close()
    assert [(e.kind, e.data["change"]) for e in last.events] == [("fim.change", "modified")]
    other = tmp_path / "other"
    other.mkdir()
    moved = _collector(tmp_path, other, [])  # the server pushed other paths: a new baseline
    try:
        assert [e.kind for e in moved.collect().events] == ["fim.baseline"]
    finally:
        moved.close()
