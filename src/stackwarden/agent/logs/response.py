"""Active response (off by default): block an alert's source address in an nftables set.

The set has a timeout, so a block expires by itself. An address is never blocked when it is
loopback, unspecified, multicast or link-local, one of the StackWarden server's addresses,
or inside a configured admin network; and it is never passed to nft unless it parses as an IP
address (log fields are attacker-controlled). Every decision, block or skip, is handed to the
audit callback (a JSON-lines file by default).

    table inet stackwarden {
        set blocked4 { type ipv4_addr; flags timeout; }
        set blocked6 { type ipv6_addr; flags timeout; }
        chain input { type filter hook input priority filter - 10; policy accept;
                      ip saddr @blocked4 drop; ip6 saddr @blocked6 drop; }
    }
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from stackwarden.agent.logs.alerts import Alert
from stackwarden.agent.logs.errors import LogError

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class ResponseError(LogError):
    """nft refused a command (or could not be run)."""


@dataclass(frozen=True, slots=True)
class ResponseSettings:
    """What may be blocked, for how long, and where."""

    enabled: bool = False
    rules: frozenset[str] = frozenset({"stackwarden_ssh_brute_force",
                                       "6ff6c4cf-0a87-441a-a885-57db13fd0c77"})  # name or id
    fields: tuple[str, ...] = ("src_ip", "c-ip")  # group-by fields holding the address
    timeout: int = 600  # seconds
    admin_networks: tuple[str, ...] = ()  # CIDRs never blocked
    server_addresses: tuple[str, ...] = ()  # the StackWarden server: never blocked
    table: str = "stackwarden"
    netns: str | None = None  # run nft inside this network namespace (tests, containers)


@dataclass(frozen=True, slots=True)
class Action:
    """One decision of the responder (audited)."""

    at: float
    action: str  # "block" or "skip"
    address: str
    reason: str
    rule_id: str
    alert_id: str
    timeout: int = 0


@dataclass(frozen=True, slots=True)
class _Never:
    networks: tuple[Network, ...]
    addresses: frozenset[Address] = field(default_factory=frozenset)


def jsonl_audit(path: Path) -> Callable[[Action], None]:
    """An audit callback appending one JSON object per action to `path`."""

    def write(action: Action) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(asdict(action), sort_keys=True) + "\n")

    return write


class Blocker:
    """Blocks the source addresses of chosen alerts in nftables sets with a timeout."""

    def __init__(self, settings: ResponseSettings,
                 audit: Callable[[Action], None] | None = None) -> None:
        self.settings = settings
        self.audit = audit or (lambda action: None)
        try:
            networks = tuple(ipaddress.ip_network(n, strict=False)
                             for n in settings.admin_networks)
            servers = frozenset(ipaddress.ip_address(a) for a in settings.server_addresses)
        except ValueError as exc:
            raise LogError(f"active response: bad allowlist entry: {exc}") from exc
        self._never = _Never(networks, servers)
        if not settings.table.replace("_", "").isalnum():
            raise LogError(f"active response: bad nftables table name {settings.table!r}")

    # ------------------------------------------------------------------------------- nft

    def _nft(self, args: Sequence[str], script: str | None = None) -> str:
        prefix = ["ip", "netns", "exec", self.settings.netns] if self.settings.netns else []
        try:
            done = subprocess.run([*prefix, "nft", *args], input=script, capture_output=True,
                                  text=True, timeout=30, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ResponseError(f"cannot run nft: {exc}") from exc
        if done.returncode != 0:
            raise ResponseError(f"nft {' '.join(args)} failed: {done.stderr.strip()[:500]}")
        return done.stdout

    def setup(self) -> None:
        """Create the table, sets and drop rules (once; existing blocks are kept)."""
        table = self.settings.table
        try:
            self._nft(["list", "chain", "inet", table, "input"])
            return
        except ResponseError:
            pass
        self._nft(["-f", "-"], (
            f"table inet {table} {{\n"
            "  set blocked4 { type ipv4_addr; flags timeout; }\n"
            "  set blocked6 { type ipv6_addr; flags timeout; }\n"
            "  chain input { type filter hook input priority filter - 10; policy accept;\n"
            "    ip saddr @blocked4 drop\n    ip6 saddr @blocked6 drop\n  }\n}\n"))

    def blocked(self) -> dict[str, int]:
        """Blocked addresses and the seconds left on each."""
        found: dict[str, int] = {}
        for name in ("blocked4", "blocked6"):
            doc = json.loads(self._nft(["-j", "list", "set", "inet", self.settings.table, name]))
            for item in doc.get("nftables", []):
                for element in item.get("set", {}).get("elem", []) or []:
                    value = element.get("elem", element) if isinstance(element, dict) else element
                    if isinstance(value, dict):
                        found[str(value.get("val"))] = int(value.get("expires", 0))
                    else:
                        found[str(value)] = 0
        return found

    def unblock(self, address: str) -> None:
        """Remove an address before its timeout."""
        parsed = ipaddress.ip_address(address)
        name = "blocked4" if parsed.version == 4 else "blocked6"
        self._nft(["delete", "element", "inet", self.settings.table, name, f"{{ {parsed} }}"])

    # ---------------------------------------------------------------------------- alerts

    def handle(self, alerts: Iterable[Alert]) -> list[Action]:
        """Block the addresses of newly opened alerts of the chosen rules (when enabled)."""
        actions = []
        for alert in alerts:
            if alert.closed or not self._chosen(alert):
                continue
            for name, value in alert.group:
                if name in self.settings.fields and value is not None:
                    actions.append(self.block(str(value), alert))
        return actions

    def _chosen(self, alert: Alert) -> bool:
        rules = self.settings.rules
        return alert.rule_id in rules or alert.rule_name in rules or alert.title in rules

    def block(self, text: str, alert: Alert | None = None) -> Action:
        """Block one address (unless the allowlist protects it); the action is audited."""
        rule_id, alert_id = (alert.rule_id, alert.alert_id) if alert else ("", "")
        address, reason = self._check(text)
        if address is None or not self.settings.enabled:
            action = Action(time.time(), "skip", text[:200],
                            reason if address is None else "active response is disabled",
                            rule_id, alert_id)
        else:
            name = "blocked4" if address.version == 4 else "blocked6"
            self._nft(["add", "element", "inet", self.settings.table, name,
                       f"{{ {address} timeout {int(self.settings.timeout)}s }}"])
            action = Action(time.time(), "block", str(address), reason, rule_id, alert_id,
                            int(self.settings.timeout))
        self.audit(action)
        return action

    def _check(self, text: str) -> tuple[Address | None, str]:
        try:
            address: Any = ipaddress.ip_address(text.strip())
        except ValueError:
            return None, "not an IP address"
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if address.is_loopback or address.is_unspecified or address.is_multicast \
                or address.is_link_local:
            return None, "loopback, unspecified, multicast or link-local address"
        if address in self._never.addresses:
            return None, "the StackWarden server"
        for network in self._never.networks:
            if address.version == network.version and address in network:
                return None, f"inside admin network {network}"
        return address, "offending address"
