"""The FIM collector the agent runs: baseline first, then each change once, JSON-able."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from stackwarden.agent.fim.collector import FimCollector


def test_collect_then_watch(tmp_path: Path) -> None:
    root = tmp_path / "t"
    root.mkdir()
    (root / "a").write_text("a\n")
    collector = FimCollector([str(root)], str(tmp_path / "fim.db"))
    first = collector.collect()
    assert [e["type"] for e in first] == ["fim.baseline"] and first[0]["data"]["files"] == 2
    assert collector.collect() == []
    (root / "a").write_text("b\n")
    events = collector.collect()
    assert [(e["type"], e["data"]["path"], e["data"]["change"]) for e in events] == [
        ("fim.change", str(root / "a"), "modified")]
    assert collector.collect() == []  # accepted: reported once
    json.dumps(events)

    seen: list[dict] = []  # type: ignore[type-arg]
    stop = threading.Event()
    thread = threading.Thread(target=collector.watch, args=(seen.append, stop))
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not any(e["type"] == "fim.notice" for e in seen) and time.monotonic() < deadline:
            time.sleep(0.05)
        (root / "b").write_text("new\n")
        while not any(e["type"] == "fim.change" for e in seen) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        thread.join(timeout=20)
    assert not thread.is_alive()
    changes = [(e["data"]["path"], e["data"]["change"]) for e in seen if e["type"] == "fim.change"]
    assert (str(root / "b"), "added") in changes
