"""OpenSSH server messages (as logged through syslog or journald) into fields.

Fields: `action` (what happened: `failed`, `accepted`, `invalid_user`, …), `outcome`
(`failure`/`success` for authentication results), `user`, `invalid_user`, `auth_method`,
`src_ip` (the client address as logged: an IP, IPv4-mapped addresses unwrapped, or a host
name when sshd resolved it), `src_port`, `preauth`. Host-less failure lines (`Disconnecting:
Too many authentication failures`) get the address of their connection from an earlier line
of the same sshd process, as fail2ban does with its connection ids.
"""

from __future__ import annotations

import re
from typing import Any

# What follows `from <host>` in auth lines: `[via X] [port N] [on ADDR port N] [sshN]`, then
# the end of the line or `: <info>` (key type and fingerprint; `ruser …` for SSH-1).
_AFTER_HOST = re.compile(r"(?: via \S+)?(?: port (\d+))?(?: on \S+ port \d+)?(?: ssh\d?)?"
                         r"(?: \[preauth\])?(?:\s*$|: )", re.DOTALL)
# `METHOD for [invalid user ]USER from HOST port N ssh2[: info]`: the lazy user takes the first
# " from " followed by a well-formed tail, as `_user_from` does (the slow path for the rest).
_AUTH_LINE = re.compile(r"(\S+) for (invalid user )?(.*?) from ([0-9A-Fa-f:.]+|[\w.-]+) "
                        r"port (\d+) ssh\d?(?:: .*)?\s*$", re.DOTALL)
_FROM_HOST = re.compile(
    r"(?:(?P<kind>invalid|authenticating) user (?P<user>.*?) |user (?P<user2>\S+) )?"
    r"(?P<host>[0-9A-Fa-f:.]+|\S+?)(?: port (?P<port>\d+))?(?::\s*(?P<code>\d+):\s*(?P<text>.*?))?"
    r"(?: \[preauth\])?\s*$", re.DOTALL)
_PREFIXES = ("error: ", "fatal: ", "PAM: ")
_AUTH_FAILURE = ("authentication failure for ", "authentication error for ",
                 "authentication failed for ")
_MAX_CONNECTIONS = 4096


def client_address(host: str) -> str:
    """An address as sshd logged it, with IPv4-mapped IPv6 (`::ffff:1.2.3.4`) unwrapped."""
    if host.startswith("::ffff:") and "." in host:
        return host[7:]
    if host.startswith("[") and host.endswith("]"):
        return host[1:-1]
    return host


class SshdParser:
    """Parses sshd messages; remembers each process's client address for host-less lines."""

    def __init__(self) -> None:
        self._hosts: dict[Any, str] = {}  # sshd pid -> client address
        self._unattributed: dict[Any, str] = {}  # sshd pid -> action of an address-less failure

    def parse(self, msg: str, f: dict[str, Any], pid: Any) -> None:
        """Add the fields of one sshd message to `f`."""
        if msg.startswith("[ID "):  # Solaris: "[ID 800047 auth.info] …"
            msg = msg.partition("] ")[2]
        elif msg.startswith("kernel:"):  # "kernel:[  970.699396]: …" (some relays)
            msg = msg.partition("]")[2].lstrip(": ")
        while msg.startswith(_PREFIXES):
            msg = msg.partition(": ")[2]
        first = msg[:1]
        if first == "F" and msg.startswith("Failed "):
            self._auth(msg[7:], f, "failed", "failure")
        elif first == "A" and msg.startswith("Accepted "):
            self._auth(msg[9:], f, "accepted", "success")
        elif msg.startswith(("Invalid user ", "Illegal user ", "invalid user ")):
            self._simple(msg[13:], f, "invalid_user", "failure")
        elif first == "C" and msg.startswith(("Connection closed by ", "Connection reset by ")):
            self._from_host(msg[21:] if msg[11] == "c" else msg[20:], f, "connection_closed")
        elif first == "D" and msg.startswith("Disconnected from "):
            self._from_host(msg[18:], f, "disconnected")
        elif first == "R" and msg.startswith("Received disconnect from "):
            self._from_host(msg[25:], f, "received_disconnect")
            if f.get("disconnect_code") == "3" and "Auth fail" in msg:
                f["outcome"] = "failure"
        elif first == "C" and msg.startswith("Connection from "):
            self._from_host(msg[16:].split(" on ", 1)[0], f, "connection")
        elif msg.startswith(("Disconnecting ", "Disconnecting: ")):
            self._disconnecting(msg, f)
        elif msg.startswith("maximum authentication attempts exceeded for "):
            self._simple(msg[45:], f, "max_auth_exceeded", "failure")
        elif msg[:27].lower().startswith(_AUTH_FAILURE):
            self._simple(msg.partition(" for ")[2], f, "auth_failure", "failure")
        elif msg.startswith("User not known to the underlying authentication module for "):
            self._simple(msg[59:], f, "unknown_user", "failure")
        elif first == "U" and msg.startswith("User "):
            self._user_not_allowed(msg[5:], f)
        elif msg.startswith("ROOT LOGIN REFUSED FROM "):
            f.update(action="root_login_refused", outcome="failure", user="root")
            self._host(msg[24:].split(" ", 1)[0], None, f)
        elif msg.startswith("refused connect from "):
            host = msg.rpartition("(")[2].rstrip(")")
            f.update(action="refused_connect", outcome="failure")
            self._host(host, None, f)
        elif msg.startswith("Did not receive identification string from "):
            self._from_host(msg[43:], f, "no_identification")
        elif msg.startswith("Unable to negotiate with "):
            self._from_host(msg[25:].split(":", 1)[0], f, "negotiation_failed")
        elif msg.startswith("Timeout before authentication for "):
            self._from_host(msg[34:], f, "login_timeout")
        elif msg.startswith("Bad protocol version identification "):
            self._simple(msg[msg.rfind("'") + 1:].lstrip(), f, "bad_protocol", None)
        elif msg.startswith("input_userauth_request: invalid user "):
            f.update(action="invalid_user", outcome="failure", invalid_user=True,
                     user=msg[37:].replace(" [preauth]", ""))
        elif msg.startswith("Postponed "):
            self._auth(msg[10:], f, "postponed", None)
        elif "POSSIBLE BREAK-IN ATTEMPT" in msg:
            f["action"] = "reverse_mapping_failed"
        if pid is None:
            return
        if "src_ip" in f:
            self._remember(pid, f["src_ip"])
            earlier = self._unattributed.pop(pid, None)
            if earlier is not None and f.get("outcome") is None:
                # A failure logged without an address (`User root not allowed because account
                # is locked`) belongs to the address this later line of the connection shows.
                f["outcome"], f["attributed_failure"] = "failure", earlier
        elif f.get("outcome") == "failure":
            known = self._hosts.get(pid)
            if known is not None:
                f["src_ip"] = known
            else:
                self._unattributed[pid] = f.get("action", "failure")
                if len(self._unattributed) > _MAX_CONNECTIONS:
                    self._unattributed.clear()

    # ------------------------------------------------------------------------------ shapes

    def _auth(self, rest: str, f: dict[str, Any], action: str, outcome: str | None) -> None:
        f["action"] = action
        if outcome:
            f["outcome"] = outcome
        match = _AUTH_LINE.match(rest)
        if match is not None:  # one C-level match for the usual shape (the hot path)
            method, invalid, user, host, port = match.groups()
            f["auth_method"] = method
            f["invalid_user"] = invalid is not None
            f["user"] = user
            f["src_ip"] = host[7:] if host.startswith("::ffff:") and "." in host else host
            if port:
                f["src_port"] = int(port)
            return
        method, _, rest = rest.partition(" for ")
        invalid = rest.startswith("invalid user ")
        if invalid:
            rest = rest[13:]
        f["auth_method"] = method
        f["invalid_user"] = invalid
        if not self._user_from(rest, f):
            f["user"] = rest

    def _simple(self, rest: str, f: dict[str, Any], action: str, outcome: str | None) -> None:
        f["action"] = action
        if outcome:
            f["outcome"] = outcome
        if rest.startswith(("invalid user ", "illegal user ")):
            rest, f["invalid_user"] = rest[13:], True
        if not self._user_from(rest, f) and rest.strip():
            f["user"] = rest.replace(" [preauth]", "").strip()

    def _user_from(self, rest: str, f: dict[str, Any]) -> bool:
        """`<user> from <host> port N ssh2[: info]`. User names (invalid users) and SSH-1's
        ruser in the info are client-chosen and may contain " from …": the first " from "
        followed by a well-formed tail wins (fail2ban's test logs pin this down)."""
        start = 0
        for _ in range(8):
            at = rest.find(" from ", start)
            if at < 0:
                return False
            host, space, after = rest[at + 6:].partition(" ")
            tail = _AFTER_HOST.match(space + after)
            if host and not host.endswith(":") and tail is not None:
                f["user"] = rest[:at]
                self._host(host, tail.group(1), f)
                return True
            start = at + 1
        return False

    def _from_host(self, rest: str, f: dict[str, Any], action: str) -> None:
        f["action"] = action
        if rest.endswith(" [preauth]"):
            f["preauth"] = True
        match = _FROM_HOST.match(rest.strip())
        if match is None:
            return
        user = match.group("user") or match.group("user2")
        if user is not None:
            f["user"] = user
            if match.group("kind") == "invalid":
                f["invalid_user"] = True
        if match.group("code"):
            f["disconnect_code"] = match.group("code")
        self._host(match.group("host"), match.group("port"), f)

    def _disconnecting(self, msg: str, f: dict[str, Any]) -> None:
        head, _, reason = msg.partition(": ")
        if "Too many authentication failures" in msg:
            f.update(action="too_many_failures", outcome="failure")
        elif "Change of username or service not allowed" in msg:
            f.update(action="user_change_refused", outcome="failure")
        else:
            f["action"] = "disconnecting"
        if head.startswith("Disconnecting "):  # "Disconnecting invalid user x 1.2.3.4 port 5"
            self._from_host(head[14:], f, f["action"])
        elif " for " in reason:
            f["user"] = reason.partition(" for ")[2].replace(" [preauth]", "").strip()

    def _user_not_allowed(self, rest: str, f: dict[str, Any]) -> None:
        if " not allowed because " not in rest:
            return
        who, _, why = rest.partition(" not allowed because ")
        f.update(action="user_not_allowed", outcome="failure", reason=why.replace(
            " [preauth]", ""))
        user, sep, host = who.rpartition(" from ")
        if sep:
            f["user"] = user
            self._host(host, None, f)
        else:
            f["user"] = who

    def _host(self, host: str, port: str | None, f: dict[str, Any]) -> None:
        f["src_ip"] = client_address(host)
        if port:
            f["src_port"] = int(port)

    def _remember(self, pid: Any, host: str) -> None:
        if pid is None:
            return
        hosts = self._hosts
        hosts[pid] = host
        if len(hosts) > _MAX_CONNECTIONS:  # forget the oldest half (insertion order)
            for old in list(hosts)[: _MAX_CONNECTIONS // 2]:
                del hosts[old]
