"""The agent-side loop: poll, deliver, commit; restarts and rotation lose and repeat nothing."""

from __future__ import annotations

import json
import os
from pathlib import Path

from stackwarden.agent.logs.check import load_ruleset
from stackwarden.agent.logs.monitor import LogInput, LogMonitor
from stackwarden.agent.logs.sources.offsets import OffsetStore


def failures(start: int, count: int, ip: str = "198.51.100.7") -> str:
    return "".join(f"Nov 29 06:00:{s:02d} web1 sshd[{900 + s}]: Failed password for root from "
                   f"{ip} port {4000 + s} ssh2\n" for s in range(start, start + count))


def test_poll_commit_restart_rotation(tmp_path: Path) -> None:
    log, offsets = tmp_path / "auth.log", tmp_path / "offsets.json"
    log.write_text(failures(0, 3))
    inputs = [LogInput("file", str(log), start_at_end=False)]
    monitor = LogMonitor(inputs, load_ruleset(), OffsetStore(offsets), keep_events=True)
    first = monitor.poll(now=0)
    monitor.commit(first)
    assert len(first.events) == 3 and first.alerts == []
    with log.open("a") as handle:
        handle.write(failures(3, 2))  # the 4th and 5th failure: the threshold
    second = monitor.poll(now=0)
    monitor.commit(second)
    assert [a.title for a in second.alerts] == ["SSH brute force"]
    assert second.alerts[0].count == 5 and not second.alerts[0].closed
    ids = {(e.extra["file_id"], e.extra["offset"]) for e in first.events + second.events}
    assert len(ids) == 5
    monitor.close()

    os.rename(log, tmp_path / "auth.log.1")  # rotated while the agent is down
    log.write_text(failures(20, 1, "203.0.113.9"))
    restarted = LogMonitor(inputs, load_ruleset(), OffsetStore(offsets), keep_events=True)
    third = restarted.poll(now=0)
    assert [e.fields["src_ip"] for e in third.events] == ["203.0.113.9"]  # nothing again
    restarted.commit(third)
    saved = json.loads(offsets.read_text())[str(log.absolute())]
    assert saved["ino"] == os.stat(log).st_ino and saved["lineno"] == 1


def test_eve_input(tmp_path: Path) -> None:
    eve = tmp_path / "eve.json"
    eve.write_text(json.dumps({"timestamp": "2026-11-29T06:00:00.000000+0000",
                               "event_type": "alert", "src_ip": "192.0.2.1",
                               "alert": {"signature": "ET SCAN Nmap"}}) + "\n")
    rules = tmp_path / "eve.yml"
    rules.write_text("title: IDS scan alert\nid: 3c1a8a50-0000-4000-8000-000000000001\n"
                     "logsource: {product: suricata, service: alert}\n"
                     "detection:\n  sel:\n    alert.signature|contains: SCAN\n"
                     "  condition: sel\nlevel: medium\n")
    monitor = LogMonitor([LogInput("file", str(eve), "suricata-eve", start_at_end=False)],
                         load_ruleset([rules]))
    poll = monitor.poll(now=0)
    assert [a.title for a in poll.alerts] == ["IDS scan alert"]
    assert [a.count for a in monitor.close()] == [1]
