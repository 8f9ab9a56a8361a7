"""Active response against real nftables, as root, inside network namespaces this test makes:
an attacker namespace pings the agent's; once the brute-force alert blocks its address the
pings stop, and start again when the block times out. The allowlist and the input checks
are tested on the same nft."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from stackwarden.agent.logs.alerts import Alert
from stackwarden.agent.logs.response import Blocker, ResponseSettings, jsonl_audit
from tests.helpers.env import unavailable


def sh(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=30, check=check)


@pytest.fixture()
def namespaces() -> Iterator[tuple[str, str]]:
    if os.geteuid() != 0 or not shutil.which("nft") or not shutil.which("ip"):
        unavailable("needs root, nft (nftables) and ip (iproute2)")
    tag = uuid.uuid4().hex[:6]
    agent, attacker = f"sw-agent-{tag}", f"sw-attk-{tag}"
    created: list[str] = []
    try:
        for ns in (agent, attacker):
            if sh("ip", "netns", "add", ns, check=False).returncode != 0:
                unavailable("cannot create network namespaces here")
            created.append(ns)
        a, b = f"swa{tag}", f"swb{tag}"
        sh("ip", "link", "add", a, "netns", agent, "type", "veth", "peer", "name", b,
           "netns", attacker)
        sh("ip", "-n", agent, "addr", "add", "192.0.2.1/24", "dev", a)
        sh("ip", "-n", attacker, "addr", "add", "192.0.2.66/24", "dev", b)
        for ns, dev in ((agent, a), (attacker, b)):
            sh("ip", "-n", ns, "link", "set", dev, "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        yield agent, attacker
    finally:
        for ns in created:
            sh("ip", "netns", "del", ns, check=False)


def reachable(attacker: str) -> bool:
    done = sh("ip", "netns", "exec", attacker, "ping", "-c", "1", "-W", "1", "192.0.2.1",
              check=False)
    return done.returncode == 0


def brute_force_alert(address: str) -> Alert:
    return Alert("6ff6c4cf-0a87-441a-a885-57db13fd0c77", "SSH brute force", "high",
                 "event_count", (("src_ip", address),), 5, 0.0, 10.0,
                 rule_name="stackwarden_ssh_brute_force")


def test_blocks_the_brute_forcer_until_the_timeout(namespaces: tuple[str, str],
                                                    tmp_path: Path) -> None:
    if not shutil.which("ping"):
        unavailable("ping is needed")
    agent, attacker = namespaces
    audit = tmp_path / "response.jsonl"
    blocker = Blocker(ResponseSettings(enabled=True, timeout=3, netns=agent,
                                       admin_networks=("10.0.0.0/8",),
                                       server_addresses=("203.0.113.1",)), jsonl_audit(audit))
    blocker.setup()
    blocker.setup()  # idempotent
    assert reachable(attacker)
    actions = blocker.handle([brute_force_alert("192.0.2.66")])
    assert [(a.action, a.address, a.timeout) for a in actions] == [("block", "192.0.2.66", 3)]
    assert "192.0.2.66" in blocker.blocked()
    assert not reachable(attacker)
    time.sleep(4)
    assert "192.0.2.66" not in blocker.blocked()
    assert reachable(attacker)
    logged = [json.loads(line) for line in audit.read_text().splitlines()]
    assert [(e["action"], e["address"], e["rule_id"][:8]) for e in logged] == [
        ("block", "192.0.2.66", "6ff6c4cf")]


@pytest.mark.parametrize("address,action,reason", [
    ("127.0.0.1", "skip", "loopback"),
    ("::1", "skip", "loopback"),
    ("::ffff:127.0.0.2", "skip", "loopback"),
    ("10.1.2.3", "skip", "admin network"),
    ("203.0.113.1", "skip", "server"),
    ("example.com", "skip", "not an IP"),
    ("1.2.3.4 } ; flush ruleset ; {", "skip", "not an IP"),  # log fields are hostile
    ("fe80::1", "skip", "link-local"),
    ("198.51.100.9", "block", "offending"),
    ("2001:db8::66", "block", "offending"),
])
def test_allowlist_and_input_checks(namespaces: tuple[str, str], address: str, action: str,
                                    reason: str) -> None:
    agent, _ = namespaces
    blocker = Blocker(ResponseSettings(enabled=True, timeout=60, netns=agent,
                                       admin_networks=("10.0.0.0/8",),
                                       server_addresses=("203.0.113.1",)))
    blocker.setup()
    done = blocker.block(address, brute_force_alert(address))
    assert (done.action, reason in done.reason) == (action, True)
    assert (done.address in blocker.blocked()) is (action == "block")
    assert sh("ip", "netns", "exec", agent, "nft", "list", "chain", "inet", "stackwarden",
              "input").returncode == 0  # the injection attempt changed nothing


def test_off_by_default_and_only_chosen_rules(namespaces: tuple[str, str]) -> None:
    agent, _ = namespaces
    off = Blocker(ResponseSettings(netns=agent))
    off.setup()
    assert [a.action for a in off.handle([brute_force_alert("198.51.100.1")])] == ["skip"]
    assert off.blocked() == {}
    on = Blocker(ResponseSettings(enabled=True, netns=agent))
    other = Alert("x", "SQL injection attempts", "high", "event_count",
                  (("c-ip", "198.51.100.2"),), 1, 0.0, 0.0)
    assert on.handle([other]) == []  # not a rule chosen for blocking
