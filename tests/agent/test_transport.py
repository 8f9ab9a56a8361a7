"""The disk queue and the shipper: order, ids, persistence, capacity, back-off, and against a
real server: lost answers, batches too large, events refused one by one, server down,
credential revoked."""

from __future__ import annotations

import gzip
import json
import stat
from pathlib import Path
from typing import Any

import httpx
import pytest

from stackwarden.agent.client import AgentClient
from stackwarden.agent.config import TransportSettings
from stackwarden.agent.interface import AgentEvent
from stackwarden.agent.transport import Backoff, EventQueue, Shipper, encode_batch
from tests.agent.conftest import LiveServer, free_port, live_server


def events(n: int, start: int = 0, size: int = 0, kind: str = "test.event") -> list[AgentEvent]:
    return [AgentEvent.make(kind, {"n": i, "pad": "x" * size}, time=1000.0 + i)
            for i in range(start, start + n)]


def test_queue_keeps_order_ids_and_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "queue.db"
    queue = EventQueue(path)
    batch = events(10)
    assert queue.put(batch) == 10
    assert queue.put(batch[:3]) == 0  # already queued: an id is kept once
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    queue.close()
    queue = EventQueue(path)  # a restart
    got = queue.peek(100, 10**9)
    assert [q.id for q in got] == [e.id for e in batch]
    assert [json.loads(q.data)["n"] for q in got] == list(range(10))
    queue.ack([q.seq for q in got[:4]])
    assert [q.id for q in queue.peek(2, 10**9)] == [e.id for e in batch[4:6]]
    queue.ack([q.seq for q in queue.peek(100, 10**9)])
    queue.put(events(1, start=10))
    # sequence numbers only grow, even once the queue was empty (the server orders by them)
    assert queue.peek(1, 10**9)[0].seq > got[-1].seq
    assert queue.stats()["depth"] == 1
    queue.ack([q.seq for q in queue.peek(100, 10**9)])
    # a batch is cut by bytes, but always holds at least one event
    queue.put(events(5, start=20, size=1000))
    assert len(queue.peek(100, 2500)) == 2
    assert len(queue.peek(100, 10)) == 1


def test_a_full_queue_drops_and_counts(tmp_path: Path) -> None:
    queue = EventQueue(tmp_path / "q.db", max_bytes=5000)
    added = queue.put(events(20, size=400))
    stats = queue.stats()
    assert 0 < added < 20 and stats["dropped"] == 20 - added and stats["bytes"] <= 5000
    nan = AgentEvent.make("test.event", {"value": float("nan")})
    assert queue.put([nan]) in (0, 1)  # never an exception for unserialisable data


def test_batches_are_gzip_json_with_the_queued_data(tmp_path: Path) -> None:
    queue = EventQueue(tmp_path / "q.db")
    queue.put([AgentEvent.make("log.event", {"text": "caf\u00e9 \"quoted\"", "n": [1, 2]},
                               time=1.5)])
    body = json.loads(gzip.decompress(encode_batch(queue.peek(10, 10**9))))
    (item,) = body["events"]
    assert item["kind"] == "log.event" and item["seq"] == 1 and item["time"] == 1.5
    assert item["data"] == {"text": "caf\u00e9 \"quoted\"", "n": [1, 2]}


@pytest.mark.parametrize(("rng", "retry_after", "expected"), [
    (1.0, None, [1, 2, 4, 8, 16, 30, 30]),
    (0.0, None, [0.5, 1, 2, 4, 8, 15, 15]),
    (1.0, 20.0, [20, 20, 20, 20, 20, 30, 30]),  # Retry-After, within the maximum
    (1.0, 999.0, [30] * 7),
])
def test_backoff_doubles_with_jitter_up_to_the_maximum(rng: float, retry_after: float | None,
                                                       expected: list[float]) -> None:
    backoff = Backoff(1.0, 30.0, rng=lambda: rng)
    assert [backoff.next_delay(retry_after) for _ in expected] == expected
    backoff.reset()
    assert backoff.next_delay() == (1.0 if rng else 0.5)


def enroll_client(live: LiveServer) -> tuple[AgentClient, dict[str, Any]]:
    with AgentClient(live.url) as anonymous:
        answer = anonymous.enroll(live.enrollment_token(), {"hostname": "web-1"})
    return AgentClient(live.url, answer["credential"], timeout=10), answer


def host_events(live: LiveServer, host: int) -> list[dict[str, Any]]:
    items, after = [], 0
    while True:
        page = live.api("GET", f"/api/v1/hosts/{host}/events",
                        params={"after": after, "limit": 1000}).json()
        items += page["items"]
        if page["next_after"] is None:
            return items
        after = page["next_after"]


def drain(shipper: Shipper) -> list[Any]:
    results = []
    while (result := shipper.ship()) is not None:
        results.append(result)
        assert len(results) < 100
    return results


def test_shipper_sends_in_order_and_a_lost_answer_is_a_duplicate(live: LiveServer,
                                                                 tmp_path: Path) -> None:
    client, answer = enroll_client(live)
    queue = EventQueue(tmp_path / "q.db")
    shipper = Shipper(queue, client, TransportSettings(batch_max_events=50))
    queue.put(events(120))
    # the first batch reaches the server but its answer is lost: still queued
    client.send_events(encode_batch(queue.peek(50, 10**9)))
    results = drain(shipper)
    assert [r.sent for r in results] == [50, 50, 20]
    assert results[0].duplicates == 50 and sum(r.duplicates for r in results) == 50
    stored = host_events(live, answer["asset_id"])
    assert [e["data"]["n"] for e in stored] == list(range(120))
    assert [e["seq"] for e in stored] == list(range(1, 121))
    assert queue.stats()["depth"] == 0


def test_refused_batches_are_split_and_bad_events_set_aside(tmp_path: Path) -> None:
    gen = live_server(tmp_path, max_report_bytes=64 * 1024)
    live = next(gen)
    try:
        client, answer = enroll_client(live)
        queue = EventQueue(tmp_path / "q.db")
        shipper = Shipper(queue, client, TransportSettings(batch_max_events=500))
        queue.put(events(6, size=20_000))  # 120 KB together: too large for one request
        queue.put(events(1, start=6, size=100_000))  # too large even alone
        queue.put(events(1, start=7, kind="Not.A.Kind"))  # refused by the server alone
        queue.put(events(3, start=8))
        drain(shipper)
        stored = host_events(live, answer["asset_id"])
        assert [e["data"]["n"] for e in stored] == [0, 1, 2, 3, 4, 5, 8, 9, 10]
        dead = {d["kind"]: d["reason"] for d in queue.dead()}
        assert set(dead) == {"test.event", "Not.A.Kind"} and queue.stats()["dead"] == 2
        assert "limit" in dead["test.event"] and "kind" in dead["Not.A.Kind"]
        assert queue.stats()["depth"] == 0
    finally:
        next(gen, None)


def test_server_down_or_credential_revoked_keeps_everything(live: LiveServer,
                                                            tmp_path: Path) -> None:
    client, answer = enroll_client(live)
    queue = EventQueue(tmp_path / "q.db")
    queue.put(events(5))
    nowhere = AgentClient(f"http://127.0.0.1:{free_port()}", "swt_1_x", timeout=2)
    settings = TransportSettings(backoff_initial=2, backoff_max=60)
    down = Shipper(queue, nowhere, settings, rng=lambda: 1.0).ship()
    assert down is not None and down.sent == 0 and "cannot reach the server" in str(down.error)
    assert down.retry_in == 2 and queue.stats()["depth"] == 5
    live.api("DELETE", f"/api/v1/agents/{answer['agent_id']}")
    refused = Shipper(queue, client, settings).ship()
    assert refused is not None and refused.credential_refused and refused.retry_in == 60
    assert "401" in str(refused.error) and queue.stats()["depth"] == 5
    assert answer["credential"] not in str(refused.error)
    assert httpx.get(f"{live.url}/healthz").status_code == 200
