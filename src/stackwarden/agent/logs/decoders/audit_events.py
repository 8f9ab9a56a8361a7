"""Sysmon-style events assembled from the audit records of one syscall.

- `execve`/`execveat` (SYSCALL + EXECVE + CWD) -> process_creation: `Image`, `CommandLine`,
  `ProcessId`, `ParentProcessId`, `ParentImage`/`ParentCommandLine` (from the parent's own
  execve seen earlier), `User`, `LogonId`, `CurrentDirectory`;
- a file created (`open*`/`creat`/`rename*`/`link*`/`symlink*`/`mknod*` with a PATH record of
  nametype CREATE) -> file_event: `TargetFilename`, `Image`, `User`, `ProcessId`;
- `connect` (SYSCALL + SOCKADDR, IPv4/IPv6) -> network_connection: `DestinationIp`,
  `DestinationPort`, `Image`, `Initiated`, `User`, `ProcessId`.

Only what audit rules record is seen: `-a always,exit -S execve`, watches on directories,
`-S connect`. Fields Linux does not log (hashes, descriptions, host names) stay absent.
"""

from __future__ import annotations

import ipaddress
import posixpath
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from stackwarden.agent.logs.events import LogEvent, LogSource

PROCESS_CREATION = LogSource("linux", "process_creation", frozenset())
FILE_EVENT = LogSource("linux", "file_event", frozenset())
NETWORK_CONNECTION = LogSource("linux", "network_connection", frozenset())
_EXEC = frozenset({"execve", "execveat"})
_CREATE = frozenset({"open", "openat", "openat2", "creat", "rename", "renameat", "renameat2",
                     "link", "linkat", "symlink", "symlinkat", "mknod", "mknodat"})
_CONNECT = frozenset({"connect"})
_EINPROGRESS = "-115"  # a non-blocking connect that is under way
_MAX_PROCESSES = 8192


@dataclass(slots=True)
class Record:
    """One audit record waiting for the rest of its group."""

    fields: dict[str, Any]
    when: float
    origin: str
    line: int
    text: str


class Assembler:
    """Turns record groups into events; remembers recent executions for parent fields."""

    def __init__(self) -> None:
        self._processes: OrderedDict[str, tuple[str, str]] = OrderedDict()  # pid -> image, cmd

    @staticmethod
    def wants(syscall: dict[str, Any]) -> bool:
        """Whether a SYSCALL record starts a group worth assembling."""
        name = syscall.get("SYSCALL")
        if name in _EXEC or name in _CREATE:
            return syscall.get("success") != "no"
        return name in _CONNECT and (syscall.get("success") != "no"
                                     or syscall.get("exit") == _EINPROGRESS)

    def assemble(self, records: list[Record]) -> Iterator[LogEvent]:
        """The events a complete group amounts to (often none)."""
        syscall = next((r for r in records if r.fields.get("type") == "SYSCALL"), None)
        if syscall is None:
            return
        name = syscall.fields.get("SYSCALL")
        text = " ".join(r.text for r in records)
        base = _process_fields(syscall.fields)
        if name in _EXEC:
            fields = self._execution(records, syscall.fields, base)
            if fields is not None:
                yield self._event(fields, PROCESS_CREATION, syscall, text)
        elif name in _CREATE:
            cwd = _field(records, "CWD", "cwd")
            for record in records:
                f = record.fields
                if f.get("type") == "PATH" and f.get("nametype") == "CREATE" and f.get("name"):
                    target = str(f["name"])
                    if cwd and not target.startswith("/"):
                        target = posixpath.normpath(posixpath.join(str(cwd), target))
                    yield self._event({**base, "TargetFilename": target}, FILE_EVENT, syscall,
                                      text)
        elif name in _CONNECT:
            address = _sockaddr(_field(records, "SOCKADDR", "saddr"))
            if address is not None:
                ip, port = address
                yield self._event({**base, "DestinationIp": ip, "DestinationPort": port,
                                   "Initiated": "true", "Protocol": "tcp"},
                                  NETWORK_CONNECTION, syscall, text)

    def _execution(self, records: list[Record], sf: dict[str, Any],
                   base: dict[str, Any]) -> dict[str, Any] | None:
        execve = next((r.fields for r in records if r.fields.get("type") == "EXECVE"), None)
        if execve is None:
            return None
        try:
            argc = int(execve.get("argc", 0) or 0)
        except ValueError:
            argc = 0
        command = " ".join(str(execve.get(f"a{i}", "")) for i in range(min(argc, 4096)))
        pid, ppid = str(sf.get("pid", "")), str(sf.get("ppid", ""))
        fields = {**base, "CommandLine": command, "ParentProcessId": ppid,
                  "LogonId": sf.get("ses"), "auid": sf.get("auid"), "euid": sf.get("euid")}
        parent = self._processes.get(ppid)
        if parent is not None:
            fields["ParentImage"], fields["ParentCommandLine"] = parent
        cwd = _field(records, "CWD", "cwd")
        if cwd is not None:
            fields["CurrentDirectory"] = cwd
        self._processes[pid] = (str(base.get("Image", "")), command)
        self._processes.move_to_end(pid)
        if len(self._processes) > _MAX_PROCESSES:
            self._processes.popitem(last=False)
        return fields

    @staticmethod
    def _event(fields: dict[str, Any], source: LogSource, syscall: Record,
               text: str) -> LogEvent:
        return LogEvent({k: v for k, v in fields.items() if v is not None}, source,
                        syscall.when, text, syscall.origin, syscall.line)


def _process_fields(sf: dict[str, Any]) -> dict[str, Any]:
    return {"Image": sf.get("exe"), "ProcessId": str(sf.get("pid", "")),
            "User": sf.get("UID", sf.get("uid")), "uid": sf.get("uid"), "comm": sf.get("comm")}


def _field(records: list[Record], rtype: str, name: str) -> Any:
    for record in records:
        if record.fields.get("type") == rtype:
            return record.fields.get(name)
    return None


def _sockaddr(saddr: Any) -> tuple[str, int] | None:
    """`saddr=02000050C0000201…` (struct sockaddr, hex) -> (address, port) for IPv4/IPv6."""
    if not isinstance(saddr, str):
        return None
    try:
        raw = bytes.fromhex(saddr)
    except ValueError:
        return None
    family = int.from_bytes(raw[:2], "little") if len(raw) >= 2 else -1
    if family == 2 and len(raw) >= 8:
        return str(ipaddress.IPv4Address(raw[4:8])), int.from_bytes(raw[2:4], "big")
    if family == 10 and len(raw) >= 24:
        address = ipaddress.IPv6Address(raw[8:24])
        mapped = address.ipv4_mapped
        return str(mapped or address), int.from_bytes(raw[2:4], "big")
    return None
