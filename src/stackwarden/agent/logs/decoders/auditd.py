"""Linux audit records (audit.log, or forwarded through syslog) into events.

Each record is one event with the record's own keys (`type`, `syscall`, `a0`…, `exe`, `name`,
`key`), hex-encoded strings decoded, and `SYSCALL` (the name SigmaHQ's rules test) taken from
the ENRICHED part or from the syscall table. The records of one syscall (sharing a serial
number) are also assembled into Sysmon-style events (`process_creation`, `file_event`,
`network_connection`: see audit_events.py), which is what SigmaHQ's Linux rules of those
categories are written against.
"""

from __future__ import annotations

import re
from datetime import tzinfo
from typing import Any, ClassVar

from stackwarden.agent.logs.decoders.audit_events import Assembler, Record
from stackwarden.agent.logs.decoders.base import TRUNCATED, Decoder, clip
from stackwarden.agent.logs.events import LogEvent, LogSource

AUDITD = LogSource("linux", None, frozenset({"auditd"}))

_HEADER = re.compile(r"(?:node=(\S+) )?type=(\S+) msg=audit\((\d+(?:\.\d+)?):(\d+)\): ?(.*)",
                     re.DOTALL)
_PAIR = re.compile(r"([\w-]+)=(\"[^\"]*\"|'[^']*'|\S*)")
_HEX = re.compile(r"[0-9A-F]+")
_ARG = re.compile(r"a\d+")
# Fields auditd writes hex-encoded (unquoted) when the value has spaces or odd characters.
_ENCODED = frozenset({"name", "comm", "exe", "cwd", "proctitle", "cmd", "path", "dir", "key",
                      "data", "ocomm", "old", "new", "acct", "watch", "file", "unit"})

# syscall numbers for the two architectures auditd commonly logs (c000003e, c00000b7).
_X86_64 = dict(item.split(":") for item in ["0:read", "1:write", "2:open", "3:close", "4:stat", "5:fstat", "6:lstat", "9:mmap", "10:mprotect", "16:ioctl", "21:access", "22:pipe", "32:dup", "33:dup2", "39:getpid", "41:socket", "42:connect", "43:accept", "44:sendto", "45:recvfrom", "46:sendmsg", "47:recvmsg", "49:bind", "50:listen", "54:setsockopt", "56:clone", "57:fork", "58:vfork", "59:execve", "60:exit", "62:kill", "63:uname", "76:truncate", "77:ftruncate", "82:rename", "83:mkdir", "84:rmdir", "85:creat", "86:link", "87:unlink", "88:symlink", "90:chmod", "91:fchmod", "92:chown", "93:fchown", "94:lchown", "99:sysinfo", "101:ptrace", "103:syslog", "105:setuid", "106:setgid", "113:setreuid", "114:setregid", "117:setresuid", "119:setresgid", "133:mknod", "135:personality", "155:pivot_root", "157:prctl", "161:chroot", "165:mount", "166:umount2", "169:reboot", "170:sethostname", "175:init_module", "176:delete_module", "188:setxattr", "189:lsetxattr", "190:fsetxattr", "197:removexattr", "231:exit_group", "257:openat", "258:mkdirat", "259:mknodat", "260:fchownat", "263:unlinkat", "264:renameat", "265:linkat", "266:symlinkat", "268:fchmodat", "272:unshare", "288:accept4", "298:perf_event_open", "304:open_by_handle_at", "308:setns", "310:process_vm_readv", "311:process_vm_writev", "313:finit_module", "316:renameat2", "317:seccomp", "319:memfd_create", "321:bpf", "322:execveat", "425:io_uring_setup", "434:pidfd_open", "435:clone3"])
_AARCH64 = dict(item.split(":") for item in ["33:mknodat", "35:unlinkat", "40:mount", "56:openat", "92:personality", "105:init_module", "106:delete_module", "116:syslog", "117:ptrace", "146:setuid", "167:prctl", "179:sysinfo", "198:socket", "200:bind", "203:connect", "220:clone", "221:execve", "273:finit_module", "279:memfd_create", "280:bpf", "281:execveat", "435:clone3"])
_SYSCALLS = {"c000003e": _X86_64, "c00000b7": _AARCH64}


def _unhex(value: str) -> str | None:
    if len(value) % 2 or not _HEX.fullmatch(value):
        return None
    try:
        return bytes.fromhex(value).decode("utf-8", "replace")
    except ValueError:
        return None


class AuditdDecoder(Decoder):
    """audit.log records; assembles execve records into process_creation events."""

    name: ClassVar[str] = "auditd"
    description: ClassVar[str] = ("Linux audit records (raw or ENRICHED), plus process_creation "
                                  "events assembled from execve records")

    def __init__(self, tz: tzinfo | None = None) -> None:
        super().__init__()
        self._serials: dict[str, list[Record]] = {}  # records of groups being assembled
        self.assembler = Assembler()

    @classmethod
    def looks_like(cls, line: str) -> bool:
        """`type=… msg=audit(…)` records."""
        return _HEADER.match(line) is not None

    def decode(self, line: str, origin: str = "", lineno: int = 0) -> LogEvent | None:
        """One audit record."""
        if not line or line.isspace():
            return None
        line, cut = clip(line)
        match = _HEADER.match(line)
        if match is None:
            return LogEvent({"message": line}, AUDITD, None, line, origin, lineno)
        node, rtype, stamp, serial, body = match.groups()
        fields: dict[str, Any] = {"type": rtype, "serial": serial}
        if node:
            fields["node"] = node
        decoded = self._pairs(body, rtype, fields)
        arch = fields.get("arch")
        if "syscall" in fields and "SYSCALL" not in fields and isinstance(arch, str):
            name = _SYSCALLS.get(arch, {}).get(fields["syscall"])
            if name:
                fields["SYSCALL"] = name
        text = line if not decoded else line + " " + " ".join(decoded)
        when = float(stamp)
        event = LogEvent(fields, AUDITD, when, text, origin, lineno,
                         TRUNCATED if cut else None)
        self._assemble(serial, rtype, fields, when, origin, lineno, text)
        return event

    def flush(self) -> list[LogEvent]:
        """Assemble what is still buffered (the input ended)."""
        while self._serials:
            self._complete(next(iter(self._serials)))
        return super().flush()

    # ---------------------------------------------------------------------------- parsing

    def _pairs(self, body: str, rtype: str, fields: dict[str, Any]) -> list[str]:
        enriched = ""
        if "\x1d" in body:
            body, _, enriched = body.partition("\x1d")
        decoded: list[str] = []
        is_execve = rtype == "EXECVE"
        for key, value in _PAIR.findall(body):
            if value[:1] == "'" and key == "msg":  # user-space records nest their fields
                decoded.extend(self._pairs(value[1:-1], rtype, fields))
                continue
            if value[:1] in ('"', "'"):
                fields[key] = value[1:-1]
                continue
            if key in _ENCODED or (is_execve and _ARG.fullmatch(key)):
                plain = _unhex(value)
                if plain is not None:
                    if key == "proctitle":
                        plain = plain.replace("\x00", " ")
                    elif key == "key" and "\x01" in plain:
                        fields[key] = plain.split("\x01")
                        decoded.append(plain.replace("\x01", " "))
                        continue
                    fields[key] = plain
                    decoded.append(plain)
                    continue
            fields[key] = value
        for key, value in _PAIR.findall(enriched):
            fields[key] = value[1:-1] if value[:1] == '"' else value
        return decoded

    # ------------------------------------------------------------------------- assembling

    def _assemble(self, serial: str, rtype: str, fields: dict[str, Any], when: float,
                  origin: str, lineno: int, text: str) -> None:
        # auditd writes the records of one event together: another serial means the
        # buffered group is complete even when no EOE record says so (syslog forwarding).
        for other in [s for s in self._serials if s != serial]:
            self._complete(other)
        if rtype == "EOE":
            if serial in self._serials:
                self._complete(serial)
            return
        records = self._serials.get(serial)
        if records is None:
            if rtype != "SYSCALL" or not self.assembler.wants(fields):
                return  # a group worth assembling starts with its SYSCALL record
            records = self._serials[serial] = []
        records.append(Record(fields, when, origin, lineno, text))

    def _complete(self, serial: str) -> None:
        self.pending.extend(self.assembler.assemble(self._serials.pop(serial)))
