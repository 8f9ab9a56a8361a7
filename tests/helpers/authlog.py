"""A realistic sshd auth.log, generated with its ground truth (the brute-forcing addresses).

The traffic mixes what a public SSH server logs (Debian 12 OpenSSH 9.2 and Linux-PAM wording):
logins by users (keys, passwords, a mistyped password or a key the client tries first),
cron and sudo sessions, scanners that never authenticate, brute-force bursts (root and
invalid users, passwords and keys, several tries per connection), slow brute force (never 5 in
a minute) and bursts placed exactly at the threshold (4 and 5 attempts in a minute).

Ground truth: an address offends when at least `threshold` of its `Failed password` /
`Failed publickey` lines fall within `window` seconds (edges included), the built-in rule's
definition. Slow and near-threshold attackers use patterns that fail2ban's sshd filter counts
the same way (no "Invalid user" line, which fail2ban counts as a failure of its own), so the
two tools can be compared on the same addresses.
"""

from __future__ import annotations

import random
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

USERS = ["alice", "bob", "carol", "deploy", "git", "backup", "ops", "dave", "erin", "frank"]
INVALID = ["admin", "test", "oracle", "ubuntu", "user", "postgres", "pi", "guest", "ftpuser",
           "support", "hadoop", "jenkins", "minecraft", "steam", "nagios", "ts3"]


@dataclass
class AuthLog:
    """The file written and what it contains."""

    path: Path
    lines: int
    offenders: set[str]  # ground truth: >= threshold failures within window
    attackers: set[str] = field(default_factory=set)  # every address that failed at all
    failures: int = 0  # Failed password / Failed publickey lines


def offending(times_by_ip: dict[str, list[float]], threshold: int, window: float) -> set[str]:
    """Addresses with `threshold` times inside some `window` seconds (inclusive)."""
    found = set()
    for ip, times in times_by_ip.items():
        times = sorted(times)
        for i in range(len(times) - threshold + 1):
            if times[i + threshold - 1] - times[i] <= window:
                found.add(ip)
                break
    return found


class _Writer:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.events: list[tuple[float, int, str]] = []
        self.failures: dict[str, list[float]] = defaultdict(list)
        self.seq = 0
        self.pid = 1000

    def next_pid(self) -> int:
        self.pid = self.pid + 1 if self.pid < 4_000_000 else 1000
        return self.pid

    def add(self, t: float, program: str, pid: int, message: str) -> None:
        self.seq += 1
        self.events.append((t, self.seq, f"{program}[{pid}]: {message}"))

    def sshd(self, t: float, pid: int, message: str) -> None:
        self.add(t, "sshd", pid, message)

    def failed(self, t: float, pid: int, method: str, who: str, ip: str, port: int,
               key: bool = False) -> None:
        suffix = f": RSA SHA256:{self.rng.getrandbits(64):016x}" if key else ""
        self.sshd(t, pid, f"Failed {method} for {who} from {ip} port {port} ssh2{suffix}")
        self.failures[ip].append(t)


def _ip(rng: random.Random, taken: set[str]) -> str:
    while True:
        if rng.random() < 0.05:
            ip = f"2001:db8:{rng.randrange(65536):x}::{rng.randrange(1, 65536):x}"
        else:
            ip = (f"{rng.choice([45, 61, 89, 103, 118, 141, 159, 185, 193, 203, 218])}."
                  f"{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}")
        if ip not in taken:
            taken.add(ip)
            return ip


def _login(w: _Writer, t: float, user: str, ip: str) -> float:
    rng, pid, port = w.rng, w.next_pid(), w.rng.randrange(1024, 65535)
    if rng.random() < 0.1:  # the client offers another key first (valid user: not a guess)
        w.failed(t, pid, "publickey", user, ip, port, key=True)
        t += 0.05
    if rng.random() < 0.06:
        w.failed(t, pid, "password", user, ip, port)
        t += rng.uniform(2, 6)
        w.sshd(t, pid, f"Accepted password for {user} from {ip} port {port} ssh2")
    else:
        w.sshd(t, pid, f"Accepted publickey for {user} from {ip} port {port} ssh2: ED25519 "
                       f"SHA256:{rng.getrandbits(64):016x}")
    w.sshd(t, pid, f"pam_unix(sshd:session): session opened for user {user}(uid=1000) by (uid=0)")
    w.add(t + 0.01, "systemd-logind", 600, f"New session {pid} of user {user}.")
    end = t + rng.uniform(30, 3600)
    w.sshd(end, pid, f"Received disconnect from {ip} port {port}:11: disconnected by user")
    w.sshd(end, pid, f"Disconnected from user {user} {ip} port {port}")
    w.sshd(end, pid, f"pam_unix(sshd:session): session closed for user {user}")
    w.add(end + 0.01, "systemd-logind", 600, f"Session {pid} logged out. Waiting for processes "
                                              "to exit.")
    return t


def _attempt(w: _Writer, t: float, ip: str, invalid: bool, method: str = "password") -> None:
    rng, pid, port = w.rng, w.next_pid(), w.rng.randrange(1024, 65535)
    if invalid:
        name = rng.choice(INVALID)
        w.sshd(t, pid, f"Invalid user {name} from {ip} port {port}")
        if method == "password":
            w.sshd(t, pid, "pam_unix(sshd:auth): check pass; user unknown")
            w.sshd(t, pid, "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 "
                           f"tty=ssh ruser= rhost={ip}")
        w.failed(t + 2, pid, method, f"invalid user {name}", ip, port, key=method == "publickey")
        w.sshd(t + 2.2, pid, f"Connection closed by invalid user {name} {ip} port {port} "
                             "[preauth]")
    else:
        w.sshd(t, pid, "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 "
                       f"tty=ssh ruser= rhost={ip}  user=root")
        w.failed(t + 2, pid, method, "root", ip, port)
        w.sshd(t + 2.2, pid, f"Connection closed by authenticating user root {ip} port {port} "
                             "[preauth]")


def _burst(w: _Writer, t: float, ip: str) -> None:
    rng = w.rng
    method = "publickey" if rng.random() < 0.15 else "password"
    for _ in range(rng.randrange(8, 40)):
        if method == "password" and rng.random() < 0.2:  # several tries in one connection
            pid, port = w.next_pid(), rng.randrange(1024, 65535)
            for i in range(6):
                w.failed(t + i, pid, "password", "root", ip, port)
            w.sshd(t + 6, pid, f"error: maximum authentication attempts exceeded for root from "
                               f"{ip} port {port} ssh2 [preauth]")
            w.sshd(t + 6, pid, f"Disconnecting authenticating user root {ip} port {port}: Too "
                               "many authentication failures [preauth]")
            t += 7
        else:
            _attempt(w, t, ip, invalid=method == "publickey" or rng.random() < 0.6, method=method)
        t += rng.uniform(0.5, 6)


def _slow(w: _Writer, t: float, ip: str) -> None:
    for _ in range(w.rng.randrange(10, 30)):
        _attempt(w, t, ip, invalid=w.rng.random() < 0.5)
        t += w.rng.uniform(31, 59)  # at most 2 attempts in any minute, even counted twice


def _edge(w: _Writer, t: float, ip: str, count: int) -> None:
    for i in range(count):  # root only: one failure per attempt for both tools
        _attempt(w, t + i * (55 / max(count - 1, 1)), ip, invalid=False)


def _noise(w: _Writer, t: float, ip: str) -> None:
    rng, pid, port = w.rng, w.next_pid(), w.rng.randrange(1024, 65535)
    w.sshd(t, pid, rng.choice([
        f"Connection closed by {ip} port {port} [preauth]",
        f"Did not receive identification string from {ip} port {port}",
        f"banner exchange: Connection from {ip} port {port}: invalid format",
        (f"Unable to negotiate with {ip} port {port}: no matching host key type found. "
        "Their offer: ssh-rsa,ssh-dss [preauth]"),
        "error: kex_exchange_identification: Connection closed by remote host",
        f"Connection reset by {ip} port {port} [preauth]",
    ]))


def write_auth_log(path: Path, target_lines: int, seed: int = 20261129, threshold: int = 5,
                   window: float = 60.0, host: str = "web1") -> AuthLog:
    """Write about `target_lines` lines (at least that many) ending before now."""
    rng = random.Random(seed)
    w = _Writer(rng)
    taken: set[str] = set()
    legit = {_ip(rng, taken): rng.choice(USERS) for _ in range(300)}
    legit_ips = list(legit)
    rate = 4.0  # lines per second on average
    span = target_lines / rate
    start = time.time() - span - 7200
    kinds = ["login"] * 22 + ["cron"] * 30 + ["sudo"] * 8 + ["noise"] * 30 + ["burst"] * 2 + \
        ["slow"] * 1 + ["edge4"] * 1 + ["edge5"] * 1
    t = start
    while len(w.events) < target_lines:
        t += rng.expovariate(1.0 / 1.6)
        kind = rng.choice(kinds)
        if kind == "login":
            ip = rng.choice(legit_ips)
            _login(w, t, legit[ip], ip)
        elif kind == "cron":
            pid = w.next_pid()
            w.add(t, "CRON", pid, "pam_unix(cron:session): session opened for user root(uid=0) "
                                  "by (uid=0)")
            w.add(t, "CRON", pid, "(root) CMD (command -v debian-sa1 > /dev/null && "
                                  "debian-sa1 1 1)")
            w.add(t + 0.4, "CRON", pid, "pam_unix(cron:session): session closed for user root")
        elif kind == "sudo":
            user = rng.choice(USERS)
            w.add(t, "sudo", w.next_pid(), f"   {user} : TTY=pts/0 ; PWD=/home/{user} ; "
                                           "USER=root ; COMMAND=/usr/bin/systemctl status nginx")
            w.add(t, "sudo", w.pid, f"pam_unix(sudo:session): session opened for user root(uid=0) "
                                    f"by {user}(uid=1000)")
            w.add(t + 1, "sudo", w.pid, "pam_unix(sudo:session): session closed for user root")
        elif kind == "noise":
            _noise(w, t, _ip(rng, taken) if rng.random() < 0.3 else rng.choice(legit_ips))
        elif kind == "burst":
            _burst(w, t, _ip(rng, taken))
        elif kind == "slow":
            _slow(w, t, _ip(rng, taken))
        else:
            _edge(w, t, _ip(rng, taken), 4 if kind == "edge4" else 5)
    w.events.sort()
    latest = time.time() - 600  # every line in the past: no tool guesses a wrong year
    shift = max(0.0, w.events[-1][0] - latest)
    if shift:
        w.events = [(t - shift, seq, text) for t, seq, text in w.events]
        for ip, times in w.failures.items():
            w.failures[ip] = [t - shift for t in times]
    with path.open("w", encoding="utf-8") as handle:
        for stamp, _, text in w.events:
            handle.write(f"{time.strftime('%b %d %H:%M:%S', time.localtime(stamp))} {host} "
                         f"{text}\n")
    return AuthLog(path, len(w.events), offending(w.failures, threshold, window),
                   set(w.failures), sum(len(v) for v in w.failures.values()))
