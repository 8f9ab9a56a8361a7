"""Write log lines a Sigma rule should match, from the rule's own detection.

The condition tree (pySigma's) is solved for a set of field values that makes it true, the
values are made concrete (wildcards filled, a string built for each regular expression, an
address inside each CIDR), and the result is written as a real log line of the rule's log
source: a syslog line, audit records, an access-log line, an Apache error line. Decoding that
line and running the rule over it must fire the rule: the decoders, the field names and the
evaluator are all exercised together.

Negations are not solved: the first solutions are tried in turn until one is not vetoed by
a `not filter` (checked by Python's own `re`/string operations, not by the engine).
"""

from __future__ import annotations

import ipaddress
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

try:
    import re._parser as sre_parse  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - Python < 3.11
    import sre_parse  # type: ignore[no-redef]

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.rule import SigmaRule
from sigma.types import (
    CompareOperators,
    SigmaBool,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaExpansion,
    SigmaFieldReference,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaString,
    SpecialChars,
)

MAX_SOLUTIONS = 12


class Unsupported(Exception):
    """The rule cannot be written as a line of a format we decode (the reason says why)."""


@dataclass(frozen=True)
class Sample:
    """Lines to decode with `log_format`, expected to make the rule fire."""

    log_format: str
    lines: list[str]


Constraint = tuple[str | None, Any]  # (field or None for a keyword, value)


def solutions(node: Any) -> Iterator[list[Constraint]]:
    """Sets of (field, value) that satisfy the node (NOT branches are left to the check)."""
    if isinstance(node, ConditionAND):
        parts = [list(itertools.islice(solutions(arg), MAX_SOLUTIONS)) for arg in node.args]
        if any(not p for p in parts):
            return
        for combo in itertools.islice(itertools.product(*parts), MAX_SOLUTIONS):
            yield [c for part in combo for c in part]
    elif isinstance(node, ConditionOR):
        for arg in node.args:
            yield from itertools.islice(solutions(arg), MAX_SOLUTIONS)
    elif isinstance(node, ConditionNOT):
        inner = node.args[0]
        if isinstance(inner, ConditionFieldEqualsValueExpression) and \
                isinstance(inner.value, SigmaNull):
            yield [(inner.field, SigmaExists(True))]  # "not field: null": it must be there
        else:
            yield []  # hope the filter does not apply; the rule run tells
    elif isinstance(node, ConditionFieldEqualsValueExpression):
        if isinstance(node.value, SigmaExpansion):
            for value in node.value.values:
                yield [(node.field, value)]
        else:
            yield [(node.field, node.value)]
    elif isinstance(node, ConditionValueExpression):
        if isinstance(node.value, SigmaExpansion):
            for value in node.value.values:
                yield [(None, value)]
        else:
            yield [(None, node.value)]
    else:
        raise Unsupported(f"condition element {type(node).__name__}")


# ------------------------------------------------------------------------- concrete values


def regex_sample(pattern: str, flags: int = 0) -> str:
    """A short string the regular expression matches (search semantics)."""
    parsed = sre_parse.parse(pattern, flags)
    text = _walk(parsed)
    if re.search(pattern, text, flags) is None:
        raise Unsupported(f"cannot build a string for regex {pattern!r}")
    return text


def _walk(items: Any) -> str:
    out = []
    for op, arg in items:
        name = str(op)
        if name == "LITERAL":
            out.append(chr(arg))
        elif name == "NOT_LITERAL":
            out.append("a" if chr(arg) != "a" else "b")
        elif name == "ANY":
            out.append("a")
        elif name == "IN":
            out.append(_in_sample(arg))
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            low, _high, sub = arg
            out.append(_walk(sub) * max(low, 0))
        elif name == "SUBPATTERN":
            out.append(_walk(arg[-1]))
        elif name == "BRANCH":
            out.append(_walk(arg[1][0]))
        elif name in ("AT", "ASSERT", "ASSERT_NOT", "GROUPREF"):
            continue
        elif name == "ATOMIC_GROUP":
            out.append(_walk(arg))
        else:
            raise Unsupported(f"regex element {name}")
    return "".join(out)


def _in_sample(items: Any) -> str:
    negate = any(str(op) == "NEGATE" for op, _ in items)
    if negate:
        excluded = "".join(_in_sample([i]) for i in items if str(i[0]) != "NEGATE")
        return next(c for c in "aZ0_-." if c not in excluded)
    op, arg = items[0]
    name = str(op)
    if name == "LITERAL":
        return chr(arg)
    if name == "RANGE":
        return chr(arg[0])
    if name == "CATEGORY":
        return {"CATEGORY_DIGIT": "0", "CATEGORY_SPACE": " ", "CATEGORY_WORD": "a",
                "CATEGORY_NOT_DIGIT": "a", "CATEGORY_NOT_SPACE": "a",
                "CATEGORY_NOT_WORD": "-"}[str(arg)]
    raise Unsupported(f"regex class element {name}")


def concrete(values: list[Any]) -> str | None:
    """One string satisfying every constraint on a field (None: the field must be absent)."""
    equal = prefix = suffix = None
    middle: list[str] = []
    for value in values:
        if isinstance(value, (SigmaNull,)) or (isinstance(value, SigmaExists)
                                                and not value.exists):
            return None
        if isinstance(value, SigmaExists):
            middle.append("x")
        elif isinstance(value, SigmaString):
            parts = list(value.s)
            lead = bool(parts) and parts[0] is SpecialChars.WILDCARD_MULTI
            trail = len(parts) > 1 and parts[-1] is SpecialChars.WILDCARD_MULTI
            core = parts[1 if lead else 0: len(parts) - (1 if trail else 0)]
            text = "".join("" if p is SpecialChars.WILDCARD_MULTI else
                           "x" if p is SpecialChars.WILDCARD_SINGLE else str(p) for p in core)
            if not lead and not trail:
                equal = text
            elif not lead:
                prefix = text
            elif not trail:
                suffix = text
            else:
                middle.append(text)
        elif isinstance(value, SigmaRegularExpression):
            flags = re.IGNORECASE if any(f.name == "IGNORECASE" for f in value.flags) else 0
            middle.append(regex_sample(str(value.regexp), flags))
        elif isinstance(value, SigmaNumber):
            equal = str(value.number)
        elif isinstance(value, SigmaCompareExpression):
            n = value.number.number
            equal = str({CompareOperators.GT: n + 1, CompareOperators.GTE: n,
                         CompareOperators.LT: n - 1, CompareOperators.LTE: n,
                         CompareOperators.NEQ: n + 1}[value.op])
        elif isinstance(value, SigmaCIDRExpression):
            network = value.network
            equal = str(network.network_address + (1 if network.num_addresses > 1 else 0))
        elif isinstance(value, SigmaBool):
            equal = "true" if value.boolean else "false"
        elif isinstance(value, SigmaFieldReference):
            raise Unsupported("field references")
        else:
            raise Unsupported(f"value type {type(value).__name__}")
    if equal is not None:
        return equal
    if prefix is None and not middle and suffix is not None:
        # "ends with X" is often paired with "but is not exactly X" (a legitimate path)
        prefix = "/tmp" if suffix.startswith("/") else "x"
    return (prefix or "") + "".join(middle) + (suffix or "")


# --------------------------------------------------------------------------------- writers

_PROGRAMS = {None: "systemd", "syslog": "named", "sshd": "sshd", "sudo": "sudo",
             "auth": "pkexec", "cron": "CRON", "vsftpd": "vsftpd", "clamav": "clamd",
             "guacamole": "guacd"}
_STAMP = "Nov 29 06:00:00"


def _syslog(rule: SigmaRule, fields: dict[str, Any], keywords: list[str]) -> Sample:
    fields = {k: v for k, v in fields.items() if v is not None}
    service = rule.logsource.service
    if service not in _PROGRAMS:
        raise Unsupported(f"linux service {service!r}")
    program = _PROGRAMS[service]
    if service == "sudo":
        extra = set(fields) - {"USER", "TTY", "PWD", "COMMAND"}
        if extra:
            raise Unsupported(f"sudo fields {sorted(extra)}")
        message = (f"   alice : TTY={fields.get('TTY', 'pts/0')} ; PWD={fields.get('PWD', '/')}"
                   f" ; USER={fields.get('USER', 'root')} ; COMMAND="
                   f"{fields.get('COMMAND', '/usr/bin/id')} {' '.join(keywords)}".rstrip())
    elif fields:
        raise Unsupported(f"fields {sorted(fields)} on syslog service {service!r}")
    else:
        message = " ".join(keywords) or "x"
    return Sample("syslog", [f"{_STAMP} host {program}[4242]: {message}"])


def _audit_value(key: str, value: str) -> str:
    if key.startswith("a") and key[1:].isdigit() or key in ("name", "exe", "comm", "cwd",
                                                            "proctitle", "key"):
        if " " in value or '"' in value or not value:
            return value.encode().hex().upper() if value else '""'
        return f'"{value}"'
    return value if value and " " not in value and '"' not in value else f'"{value}"'


def _auditd(rule: SigmaRule, fields: dict[str, Any], keywords: list[str]) -> Sample:
    fields = {k: v for k, v in fields.items() if v is not None}
    kind = fields.pop("type", "SYSCALL").upper()
    enriched = {}
    for key in ("SYSCALL", "UID", "AUID", "ARCH"):
        if key in fields:
            enriched[key] = fields.pop(key)
    body = " ".join(f"{k}={_audit_value(k, v)}" for k, v in fields.items())
    if keywords:
        body += " " + " ".join(f"data{i}={_audit_value('data', k)}" for i, k in
                               enumerate(keywords))
        if any('"' in k for k in keywords):
            raise Unsupported("keyword with a double quote in an audit record")
    line = f"type={kind} msg=audit(1700000000.000:100): {body}".rstrip()
    if enriched:
        line += "\x1d" + " ".join(f"{k}={v}" for k, v in enriched.items())
    return Sample("auditd", [line])


_PROCESS_FIELDS = {"Image", "CommandLine", "ParentImage", "ParentCommandLine", "User",
                   "CurrentDirectory", "LogonId", "ProcessId", "ParentProcessId"}


def _exec_records(serial: int, pid: str, ppid: str, image: str, command: str, user: str,
                  cwd: str, ses: str) -> list[str]:
    args = command.split(" ") if command else [image.rsplit("/", 1)[-1] or "x"]
    head = f"msg=audit(1700000000.{serial:03d}:{serial})"
    execve = " ".join(f"a{i}={_audit_value(f'a{i}', a)}" for i, a in enumerate(args))
    return [
        (f"type=SYSCALL {head}: arch=c000003e syscall=59 success=yes exit=0 items=1 "
        f"ppid={ppid} pid={pid} auid=1000 uid=0 euid=0 ses={ses} "
        f"comm={_audit_value('comm', image.rsplit('/', 1)[-1])} exe={_audit_value('exe', image)}"
        f"\x1dARCH=x86_64 SYSCALL=execve UID=\"{user}\""),
        f"type=EXECVE {head}: argc={len(args)} {execve}",
        f"type=CWD {head}: cwd={_audit_value('cwd', cwd)}",
        f"type=EOE {head}: ",
    ]


def _process_creation(rule: SigmaRule, fields: dict[str, Any], keywords: list[str]) -> Sample:
    fields = {k: v for k, v in fields.items() if v is not None}
    extra = set(fields) - _PROCESS_FIELDS
    if extra:
        raise Unsupported(f"process_creation fields not produced on Linux: {sorted(extra)}")
    if keywords:
        raise Unsupported("keywords on process_creation")
    lines = []
    if "ParentImage" in fields or "ParentCommandLine" in fields:
        lines += _exec_records(1, "100", "1", fields.get("ParentImage", "/usr/bin/bash"),
                               fields.get("ParentCommandLine", ""), "root", "/", "1")
    lines += _exec_records(2, fields.get("ProcessId", "200"), "100",
                           fields.get("Image", "/usr/bin/true"), fields.get("CommandLine", ""),
                           fields.get("User", "root"), fields.get("CurrentDirectory", "/"),
                           fields.get("LogonId", "1"))
    return Sample("auditd", lines)


def _syscall_record(serial: int, number: int, image: str, user: str, extra: str = "") -> str:
    return (f"type=SYSCALL msg=audit(1700000000.{serial:03d}:{serial}): arch=c000003e "
            f"syscall={number} success=yes exit=3 items=2 ppid=1 pid=300 auid=1000 uid=0 "
            f"euid=0 ses=1 comm={_audit_value('comm', image.rsplit('/', 1)[-1])} "
            f"exe={_audit_value('exe', image)}{extra}\x1dARCH=x86_64 UID=\"{user}\"")


def _file_event(rule: SigmaRule, fields: dict[str, Any], keywords: list[str]) -> Sample:
    fields = {k: v for k, v in fields.items() if v is not None}
    extra = set(fields) - {"TargetFilename", "Image", "User"}
    if extra or keywords:
        raise Unsupported(f"file_event fields not produced on Linux: {sorted(extra)}")
    target = fields.get("TargetFilename", "/tmp/x")
    if not target.startswith("/"):
        target = "/" + target
    head = "msg=audit(1700000000.005:5)"
    return Sample("auditd", [
        _syscall_record(5, 257, fields.get("Image", "/usr/bin/touch"), fields.get("User", "root")),
        f"type=CWD {head}: cwd=\"/\"",
        (f"type=PATH {head}: item=0 name={_audit_value('name', target.rsplit('/', 1)[0] or '/')} "
        "nametype=PARENT"),
        f"type=PATH {head}: item=1 name={_audit_value('name', target)} nametype=CREATE",
        f"type=EOE {head}: "])


def _network(rule: SigmaRule, fields: dict[str, Any], keywords: list[str]) -> Sample:
    fields = {k: v for k, v in fields.items() if v is not None}
    extra = set(fields) - {"DestinationIp", "DestinationPort", "Image", "Initiated", "User"}
    if extra or keywords:
        raise Unsupported(f"network_connection fields not produced on Linux: {sorted(extra)}")
    if fields.get("Initiated", "true") != "true":
        raise Unsupported("inbound connections")
    ip = ipaddress.ip_address(fields.get("DestinationIp", "192.0.2.80"))
    port = int(fields.get("DestinationPort", "80"))
    if ip.version == 4:
        saddr = "0200" + port.to_bytes(2, "big").hex() + ip.packed.hex() + "00" * 8
    else:
        saddr = "0A00" + port.to_bytes(2, "big").hex() + "00" * 4 + ip.packed.hex() + "00" * 4
    head = "msg=audit(1700000000.006:6)"
    return Sample("auditd", [
        _syscall_record(6, 42, fields.get("Image", "/usr/bin/curl"), fields.get("User", "root")),
        f"type=SOCKADDR {head}: saddr={saddr.upper()}",
        f"type=EOE {head}: "])


_WEB_FIELDS = {"c-ip", "cs-username", "cs-method", "cs-uri-query", "cs-uri-stem", "cs-uri",
               "sc-status", "sc-bytes", "cs-referer", "cs-user-agent", "cs-version"}


def _webserver(rule: SigmaRule, fields: dict[str, Any], keywords: list[str]) -> Sample:
    fields = {k: ("-" if v is None and k in ("cs-referer", "cs-user-agent", "cs-username")
                  else v) for k, v in fields.items()}
    fields = {k: v for k, v in fields.items() if v is not None}
    extra = set(fields) - _WEB_FIELDS
    if extra:
        raise Unsupported(f"webserver fields not in combined logs: {sorted(extra)}")
    uri = fields.get("cs-uri-stem", "") + fields.get("cs-uri-query", fields.get("cs-uri", ""))
    uri = (uri or "/") + "".join(keywords)
    for text in [uri, *(fields.get(k, "") for k in ("cs-referer", "cs-user-agent"))]:
        if '"' in text or "\\" in text or "\n" in text:
            raise Unsupported("value with a quote, backslash or newline in an access log")
    user = fields.get("cs-username", "-") or "-"
    status = fields.get("sc-status", "200")
    if not status.isdigit() or len(status) != 3:
        raise Unsupported(f"status {status!r}")
    line = (f'{fields.get("c-ip", "203.0.113.9")} - {user} [29/Nov/2026:06:00:00 +0000] '
            f'"{fields.get("cs-method", "GET")} {uri} {fields.get("cs-version", "HTTP/1.1")}" '
            f'{status} {fields.get("sc-bytes", "512")} "{fields.get("cs-referer", "-")}" '
            f'"{fields.get("cs-user-agent", "Mozilla/5.0")}"')
    return Sample("web", [line])


def _apache_error(rule: SigmaRule, fields: dict[str, Any], keywords: list[str]) -> Sample:
    fields = {k: v for k, v in fields.items() if v is not None}
    if fields:
        raise Unsupported(f"fields on {rule.logsource.service} error logs")
    message = " ".join(keywords)
    if rule.logsource.service == "nginx":
        return Sample("nginx", [f"2026/11/29 06:00:00 [alert] 100#100: {message}"])
    return Sample("apache", [f"[Sun Nov 29 06:00:00.000000 2026] [core:error] [pid 100] {message}"])


def writer_for(rule: SigmaRule) -> Any:
    """The line writer for the rule's log source, or Unsupported."""
    ls = rule.logsource
    if ls.product == "linux" and ls.category is None:
        return _auditd if ls.service == "auditd" else _syslog
    if ls.product == "linux" and ls.category == "process_creation":
        return _process_creation
    if ls.product == "linux" and ls.category == "file_event":
        return _file_event
    if ls.product == "linux" and ls.category == "network_connection":
        return _network
    if ls.category == "webserver":
        return _webserver
    if ls.category is None and ls.product is None and ls.service in ("apache", "nginx"):
        return _apache_error
    raise Unsupported(f"log source {ls.product}/{ls.category}/{ls.service} is not decoded")


def samples(rule: SigmaRule) -> Iterator[Sample]:
    """Candidate samples for a rule (several when the first may be vetoed by a filter)."""
    write = writer_for(rule)
    tree = rule.detection.parsed_condition[0].parsed
    produced = 0
    reasons = []
    for solution in itertools.islice(solutions(tree), MAX_SOLUTIONS):
        by_field: dict[str, list[Any]] = {}
        keywords: list[str] = []
        try:
            for name, value in solution:
                if name is None:
                    text = concrete([value])
                    keywords.append(text or "")
                else:
                    by_field.setdefault(name, []).append(value)
            fields: dict[str, str | None] = {}  # None: the field must be absent
            for name, values in by_field.items():
                fields[name] = concrete(values)
            yield write(rule, fields, keywords)
            produced += 1
        except Unsupported as exc:
            reasons.append(str(exc))
    if not produced:
        raise Unsupported("; ".join(sorted(set(reasons))) or "no solution")
