"""Active response (off by default): block an alert's source address in an nftables set.

The set has a timeout, so a block expires by itself. An address is never blocked when it is
loopback, unspecified, multicast or link-local, one of the StackWarden server's addresses,
or inside a configured admin network; and it is never passed to nft unless it parses as an IP
address (log fields are attacker-controlled). Every decision (block, skip, or error when nft
refused) is handed to the audit callback (a JSON-lines file by default). The agent's log
collector drives a `Blocker` (`collectors.logs.response`): `start(server_url)` protects the
server's addresses and creates the table; until it succeeds every decision is a skip naming why.

    table inet stackwarden {
        set blocked4 { type ipv4_addr; flags timeout; }
        set blocked6 { type ipv6_addr; flags timeout; }
        chain input { type filter hook input priority filter - 10; policy accept;
                      ip saddr @blocked4 drop; ip6 saddr @blocked6 drop; }
    }
"""

from __future__ import annotations

import concurrent.futures
import ipaddress
import json
import socket
import subprocess
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from stackwarden.agent.logs.alerts import Alert, level_rank
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
    min_level: str | None = None  # alerts of any rule at this level or above are chosen too
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
    action: str  # "block", "skip" or "error" (nft refused the block)
    address: str
    reason: str
    rule_id: str
    alert_id: str
    timeout: int = 0


@dataclass(frozen=True, slots=True)
class _Never:
    networks: tuple[Network, ...]
    addresses: frozenset[Address] = field(default_factory=frozenset)


def resolve_addresses(url: str, timeout: float = 5.0) -> tuple[str, ...]:
    """The IP addresses of `url`'s host (a literal address as is); ResponseError when the
    URL has no host or the name does not resolve within `timeout` seconds."""
    from urllib.parse import urlsplit

    try:
        host = urlsplit(url).hostname
    except ValueError:
        host = None
    if not host:
        raise ResponseError(f"the server URL {url[:200]!r} has no host")
    try:
        return (str(ipaddress.ip_address(host)),)
    except ValueError:
        pass
    pool = concurrent.futures.ThreadPoolExecutor(1)  # getaddrinfo has no timeout of its own
    try:
        found = pool.submit(socket.getaddrinfo, host, None).result(timeout=timeout)
    except concurrent.futures.TimeoutError:
        raise ResponseError(f"cannot resolve the server {host!r}: no answer in "
                            f"{timeout:g}s") from None
    except OSError as exc:
        raise ResponseError(f"cannot resolve the server {host!r}: {exc}") from None
    finally:
        pool.shutdown(wait=False)
    return tuple(sorted({str(item[4][0]).partition("%")[0] for item in found}))


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
        self.unavailable: str | None = None  # why blocks cannot happen now (skips say it)
        try:
            networks = tuple(ipaddress.ip_network(n, strict=False)
                             for n in settings.admin_networks)
            servers = frozenset(ipaddress.ip_address(a) for a in settings.server_addresses)
        except ValueError as exc:
            raise LogError(f"active response: bad allowlist entry: {exc}") from exc
        self._never = _Never(networks, servers)
        if not settings.table.replace("_", "").isalnum():
            raise LogError(f"active response: bad nftables table name {settings.table!r}")

    def protect(self, addresses: Iterable[str]) -> None:
        """Never block these addresses (e.g. the server's, resolved at start)."""
        try:
            more = frozenset(ipaddress.ip_address(a) for a in addresses)
        except ValueError as exc:
            raise LogError(f"active response: bad allowlist entry: {exc}") from exc
        self._never = _Never(self._never.networks, self._never.addresses | more)

    def start(self, server_url: str = "") -> str | None:
        """Protect the server's addresses and set up nft; None when ready, else why not (also
        kept in `unavailable`, so decisions until the next successful start are skips)."""
        try:
            if server_url:
                self.protect(resolve_addresses(server_url))
            self.setup()
        except LogError as exc:
            self.unavailable = str(exc)
        else:
            self.unavailable = None
        return self.unavailable

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
        rules, floor = self.settings.rules, self.settings.min_level
        if floor is not None and level_rank(alert.level) >= level_rank(floor):
            return True
        return alert.rule_id in rules or alert.rule_name in rules or alert.title in rules

    def block(self, text: str, alert: Alert | None = None) -> Action:
        """Block one address (unless the allowlist protects it); the action is audited."""
        rule_id, alert_id = (alert.rule_id, alert.alert_id) if alert else ("", "")
        address, reason = self._check(text)
        if address is None or not self.settings.enabled or self.unavailable:
            if address is not None:
                reason = ("active response is disabled" if not self.settings.enabled else
                          f"active response unavailable: {self.unavailable}")
            action = Action(time.time(), "skip", text[:200], reason, rule_id, alert_id)
        else:
            try:
                self._add(address)
                action = Action(time.time(), "block", str(address), reason, rule_id, alert_id,
                                int(self.settings.timeout))
            except ResponseError as exc:
                action = Action(time.time(), "error", str(address), str(exc)[:500], rule_id,
                                alert_id)
        self.audit(action)
        return action

    def _add(self, address: Address) -> None:
        name = "blocked4" if address.version == 4 else "blocked6"
        args = ["add", "element", "inet", self.settings.table, name,
                f"{{ {address} timeout {int(self.settings.timeout)}s }}"]
        try:
            self._nft(args)
        except ResponseError:  # the table was flushed (`nft flush ruleset`): make it again
            self.setup()
            self._nft(args)

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
