"""Active response driven by the agent's log collector, as root in network namespaces the test
creates: sshd brute-force lines read from a file block the attacker's address in the agent
namespace's nftables set (its pings stop), never an admin network's, the server's or
loopback; every decision is a `response.action` event with a stable id and a line of the local
audit file. A set-up failure is one note and audited skips, never a crash."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from stackwarden.agent.collectors import collector_class, parse_settings
from stackwarden.agent.interface import Collection, Collector, CollectorContext, CollectorError
from stackwarden.agent.logs.response import Blocker, ResponseError, ResponseSettings
from tests.agent.logs.helpers import sshd
from tests.agent.logs.netns import ATTACKER_ADDRESS, reachable

SERVER = "198.51.100.77"


def log_collector(tmp_path: Path, log: Path, response: dict[str, Any],
                  server_url: str = f"https://{SERVER}:8443") -> Collector:
    raw = {"inputs": [{"path": str(log), "start_at_end": False}], "response": response}
    state = tmp_path / "logs"
    state.mkdir(exist_ok=True)
    return collector_class("logs")(CollectorContext(parse_settings("logs", raw), state,
                                                    agent_id="agent-1", server_url=server_url))


def attacks(*addresses: str) -> str:
    return "".join(sshd(i, ip) for ip in addresses for i in range(6))


def actions(collection: Collection) -> list[tuple[str, str, str]]:
    return sorted((e.data["action"], e.data["address"], e.data["reason"])
                  for e in collection.events if e.kind == "response.action")


def test_the_collector_blocks_brute_forcers_but_never_the_allowlist(
        namespaces: tuple[str, str], tmp_path: Path) -> None:
    agent, attacker = namespaces
    log = tmp_path / "auth.log"
    log.write_text(attacks(ATTACKER_ADDRESS, "10.1.2.3", SERVER, "127.0.0.1"))
    response = {"enabled": True, "netns": agent, "timeout": 120,
                "admin_networks": ["10.0.0.0/8"]}
    assert reachable(attacker)
    collector = log_collector(tmp_path, log, response)
    first = collector.collect()
    assert list(first.notes) == []
    assert actions(first) == [
        ("block", ATTACKER_ADDRESS, "offending address"),
        ("skip", "10.1.2.3", "inside admin network 10.0.0.0/8"),
        ("skip", "127.0.0.1", "loopback, unspecified, multicast or link-local address"),
        ("skip", SERVER, "the StackWarden server")]
    assert sorted(e.kind for e in first.events) == ["log.alert"] * 4 + ["response.action"] * 4
    blocker = Blocker(ResponseSettings(netns=agent))
    assert set(blocker.blocked()) == {ATTACKER_ADDRESS}
    assert not reachable(attacker)
    audit = [json.loads(line) for line in
             (tmp_path / "logs" / "response.jsonl").read_text().splitlines()]
    assert sorted((a["action"], a["address"]) for a in audit) == [
        (a, b) for a, b, _ in actions(first)]
    # the agent died before the events were queued: read again, same decisions, same ids
    again = log_collector(tmp_path, log, response).collect()
    assert sorted(e.id for e in again.events) == sorted(e.id for e in first.events)
    collector.commit(first)
    assert actions(collector.collect()) == []  # nothing new, nothing decided
    blocker.unblock(ATTACKER_ADDRESS)
    assert reachable(attacker)


def test_off_by_default_no_table_and_no_actions(namespaces: tuple[str, str],
                                               tmp_path: Path) -> None:
    agent, _ = namespaces
    log = tmp_path / "auth.log"
    log.write_text(attacks(ATTACKER_ADDRESS))
    got = log_collector(tmp_path, log, {"netns": agent}).collect()
    assert [e.kind for e in got.events] == ["log.alert"]
    assert not (tmp_path / "logs" / "response.jsonl").exists()
    with pytest.raises(ResponseError, match="No such file"):
        Blocker(ResponseSettings(netns=agent)).blocked()  # the table was never made


def test_a_setup_failure_is_one_note_and_audited_skips(tmp_path: Path) -> None:
    """No root needed: nft inside a namespace that does not exist fails like a missing nft."""
    log = tmp_path / "auth.log"
    log.write_text(attacks(ATTACKER_ADDRESS))
    collector = log_collector(tmp_path, log, {"enabled": True, "netns": "sw-no-such-ns"})
    got = collector.collect()
    (note,) = got.notes
    assert note.startswith("active response unavailable") and "nft" in note
    ((action, address, reason),) = actions(got)
    assert (action, address) == ("skip", ATTACKER_ADDRESS)
    assert reason.startswith("active response unavailable: ")
    collector.commit(got)
    with log.open("a") as handle:
        handle.write(attacks("198.51.100.9"))
    later = collector.collect()
    assert list(later.notes) == []  # said once; retried quietly later
    assert [a[:2] for a in actions(later)] == [("skip", "198.51.100.9")]
    unresolvable = log_collector(tmp_path, log, {"enabled": True, "netns": "sw-no-such-ns"},
                                 server_url="https://no-such-host.invalid/")
    assert "cannot resolve the server" in unresolvable.collect().notes[0]


@pytest.mark.parametrize("response,message", [
    ({"admin_networks": ["10.0.0.0/33"]}, r"collectors\.logs\.response\.admin_networks"),
    ({"table": "x; flush ruleset"}, r"collectors\.logs\.response\.table"),
    ({"min_level": "severe"}, r"collectors\.logs\.response\.min_level"),
    ({"timeout": 0}, r"collectors\.logs\.response\.timeout"),
    ({"enable": True}, r"collectors\.logs\.response\.enable"),
])
def test_bad_response_settings_name_the_key(response: dict[str, Any], message: str) -> None:
    with pytest.raises(CollectorError, match=message):
        parse_settings("logs", {"response": response})
