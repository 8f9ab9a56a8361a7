"""Active response against real nftables, as root, inside network namespaces this test makes:
an attacker namespace pings the agent's; once the brute-force alert blocks its address the
pings stop, and start again when the block times out. The allowlist and the input checks
are tested on the same nft."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from stackwarden.agent.logs.alerts import Alert
from stackwarden.agent.logs.response import (
    Blocker,
    ResponseError,
    ResponseSettings,
    jsonl_audit,
    resolve_addresses,
)
from tests.agent.logs.netns import reachable, sh


def brute_force_alert(address: str) -> Alert:
    return Alert("6ff6c4cf-0a87-441a-a885-57db13fd0c77", "SSH brute force", "high",
                 "event_count", (("src_ip", address),), 5, 0.0, 10.0,
                 rule_name="stackwarden_ssh_brute_force")


def test_blocks_the_brute_forcer_until_the_timeout(namespaces: tuple[str, str],
                                                    tmp_path: Path) -> None:
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
    chosen = Blocker(ResponseSettings(enabled=True, netns=agent, min_level="high"))
    assert [(a.action, a.address) for a in chosen.handle([other])] == [
        ("block", "198.51.100.2")]  # any rule at or above min_level


def test_a_flushed_table_is_made_again_and_nft_failures_are_audited(
        namespaces: tuple[str, str], tmp_path: Path) -> None:
    agent, _ = namespaces
    audit = tmp_path / "audit.jsonl"
    blocker = Blocker(ResponseSettings(enabled=True, netns=agent), jsonl_audit(audit))
    assert blocker.start() is None
    sh("ip", "netns", "exec", agent, "nft", "flush", "ruleset")  # someone reset the firewall
    assert blocker.block("198.51.100.3").action == "block"
    assert "198.51.100.3" in blocker.blocked()
    # a table of the same name made by hand, whose set has no timeouts: nft refuses the block
    subprocess.run(["ip", "netns", "exec", agent, "nft", "-f", "-"], text=True,
                   input="table inet custom {\n set blocked4 { type ipv4_addr; }\n"
                         " chain input { type filter hook input priority 0; }\n}\n",
                   capture_output=True, timeout=30, check=True)
    broken = Blocker(ResponseSettings(enabled=True, netns=agent, table="custom"),
                     jsonl_audit(audit))
    assert broken.start() is None
    failed = broken.block("198.51.100.4")
    assert (failed.action, "failed" in failed.reason) == ("error", True), failed
    assert [json.loads(line)["action"] for line in audit.read_text().splitlines()] == [
        "block", "error"]


@pytest.mark.parametrize("url,expected", [
    ("https://203.0.113.1:8443", ("203.0.113.1",)),
    ("https://[2001:db8::1]/", ("2001:db8::1",)),
    ("http://localhost:8000", "127.0.0.1"),
])
def test_the_servers_addresses_are_resolved(url: str, expected: object) -> None:
    got = resolve_addresses(url)
    assert got == expected if isinstance(expected, tuple) else expected in got


@pytest.mark.parametrize("url,message", [
    ("not a url", "has no host"),
    ("https://no-such-host.invalid/", "cannot resolve the server"),
])
def test_unresolvable_servers_are_refused(url: str, message: str) -> None:
    with pytest.raises(ResponseError, match=message):
        resolve_addresses(url)
