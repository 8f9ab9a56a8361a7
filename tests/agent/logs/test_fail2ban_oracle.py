"""fail2ban's annotated sshd test logs (shipped by Debian's fail2ban) as an oracle for our
sshd decoder: every line fail2ban's default (normal) mode counts as a failure of host H must
be an authentication failure attributed to H for us too.

fail2ban counts some failures on a later line of the same connection (its multi-line ids):
there, the failure must be ours on some line of that connection (same sshd PID)."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass

import pytest

from stackwarden.agent.logs.decoders import make_decoder
from stackwarden.agent.logs.decoders.sshd import client_address
from tests.helpers.env import unavailable

LOGS = "/usr/lib/python3/dist-packages/fail2ban/tests/files/logs"
_PID = re.compile(r"sshd\[(\d+)\]|sshd (\d+) ")


@dataclass
class Case:
    line: str
    expected: dict
    section: int  # lines of one section (filterOptions block) form one log
    normal: bool  # the section runs in fail2ban's default mode


def annotated(name: str) -> list[Case]:
    path = os.path.join(LOGS, name)
    if not os.path.exists(path):
        unavailable(f"{path} is absent (install Debian's fail2ban: scripts/install-system-deps)")
    cases, pending, section, normal = [], None, 0, True
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    for raw in text.splitlines():
        line = raw.rstrip("\n")
        if line.startswith("# filterOptions:"):
            section += 1
            options = json.loads(line.split(":", 1)[1])
            options = options if isinstance(options, list) else [options]
            normal = any(not o.get("mode") or o.get("mode") == "normal" for o in options)
        elif line.startswith("# failJSON:"):
            pending = json.loads(line.split(":", 1)[1])
        elif line.startswith("#") or not line.strip():
            continue
        elif pending is not None:
            constraint = pending.get("constraint", "")
            applies = "aggressive" not in constraint or "!=" in constraint
            cases.append(Case(line, pending, section, normal and applies))
            pending = None
    return cases


def _pid(line: str) -> str | None:
    m = _PID.search(line)
    return (m.group(1) or m.group(2)) if m else None


@pytest.mark.parametrize("name,log_format", [("sshd", "syslog"), ("sshd-journal", "syslog")])
def test_fail2ban_failures_are_our_failures(name: str, log_format: str) -> None:
    cases = annotated(name)
    decoder = make_decoder(log_format)
    ours: dict[tuple[int, str | None], set[str]] = {}
    decoded = []
    for case in cases:
        line = case.line if name == "sshd" else f"Nov 29 06:00:00 {case.line}"
        event = decoder.decode(line)
        assert event is not None
        decoded.append(event)
        if event.fields.get("outcome") == "failure" and event.fields.get("src_ip"):
            ours.setdefault((case.section, _pid(case.line)), set()).add(event.fields["src_ip"])
    failures, checked = [], 0
    for case, event in zip(cases, decoded, strict=True):
        if not (case.normal and case.expected.get("match") and case.expected.get("host")):
            continue
        checked += 1
        host = client_address(case.expected["host"])
        here = event.fields.get("outcome") == "failure" and event.fields.get("src_ip") == host
        connection = host in ours.get((case.section, _pid(case.line)), set())
        if not (here or connection):
            failures.append(f"{case.line!r}: expected failure from {host}, got {event.fields}")
    assert checked >= (60 if name == "sshd" else 40)
    assert not failures, "\n".join(failures)


def test_same_offending_addresses_as_fail2ban(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The benchmark's claim on a small log: fail2ban-regex's failures, windowed like a jail
    with maxretry=5 findtime=60, ban the addresses our SSH brute-force rule alerts on, and
    both equal the generator's ground truth (see benchmarks/logs_vs_fail2ban.py)."""
    import shutil
    import subprocess

    from stackwarden.agent.logs.check import BUILTIN_RULES, check_files, load_ruleset
    from tests.helpers.authlog import offending, write_auth_log

    if not shutil.which("fail2ban-regex"):
        unavailable("fail2ban-regex is absent (scripts/install-system-deps installs fail2ban)")
    log = write_auth_log(tmp_path / "auth.log", 20_000, seed=7)
    rows = subprocess.run(["fail2ban-regex", "--out", "row", str(log.path),
                           "/etc/fail2ban/filter.d/sshd.conf"], capture_output=True, text=True,
                          timeout=600, check=True).stdout
    failures: dict[str, list[float]] = {}
    for row in rows.splitlines():
        m = re.match(r"\['([^']+)',\s*([0-9.]+),", row)
        if m:
            failures.setdefault(m.group(1), []).append(float(m.group(2)))
    report = check_files([log.path], load_ruleset([BUILTIN_RULES / "ssh.yml"]))
    ours = {dict(a.group)["src_ip"] for a in report.alerts if a.title == "SSH brute force"}
    assert len(log.offenders) >= 20
    assert offending(failures, 5, 60) == ours == log.offenders
