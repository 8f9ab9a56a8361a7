"""Network namespaces for active response tests (root only): an agent namespace at 192.0.2.1
and an attacker namespace at 192.0.2.66 joined by a veth pair, removed afterwards."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator

import pytest

from tests.helpers.env import unavailable

AGENT_ADDRESS, ATTACKER_ADDRESS = "192.0.2.1", "192.0.2.66"


def sh(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a command (30 s at most), its output captured."""
    return subprocess.run(list(args), capture_output=True, text=True, timeout=30, check=check)


@pytest.fixture()
def namespaces() -> Iterator[tuple[str, str]]:
    """(agent namespace, attacker namespace); skips (fails under CI=true) without root, nft
    or ip."""
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
        sh("ip", "-n", agent, "addr", "add", f"{AGENT_ADDRESS}/24", "dev", a)
        sh("ip", "-n", attacker, "addr", "add", f"{ATTACKER_ADDRESS}/24", "dev", b)
        for ns, dev in ((agent, a), (attacker, b)):
            sh("ip", "-n", ns, "link", "set", dev, "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        yield agent, attacker
    finally:
        for ns in created:
            sh("ip", "netns", "del", ns, check=False)


def reachable(attacker: str) -> bool:
    """Whether the attacker namespace's ping reaches the agent namespace."""
    if not shutil.which("ping"):
        unavailable("ping is needed")
    done = sh("ip", "netns", "exec", attacker, "ping", "-c", "1", "-W", "1", AGENT_ADDRESS,
              check=False)
    return done.returncode == 0
