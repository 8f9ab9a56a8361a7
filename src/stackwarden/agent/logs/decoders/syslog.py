"""Syslog lines (RFC 3164, RFC 5424, rsyslog's RFC 3339 file format) into events.

The header gives `hostname`, `program`, `pid`, `message` (and `facility`/`severity` when a
PRI is present); the program picks the message decoder (sshd, sudo, su, PAM, account tools,
audit records forwarded to syslog) and the Sigma services the event belongs to.
"""

from __future__ import annotations

import re
from datetime import tzinfo
from typing import Any, ClassVar

from stackwarden.agent.logs.decoders.auditd import AuditdDecoder
from stackwarden.agent.logs.decoders.auth import parse_accounts, parse_pam, parse_su, parse_sudo
from stackwarden.agent.logs.decoders.base import MAX_LINE_CHARS, TRUNCATED, Decoder, clip
from stackwarden.agent.logs.decoders.sshd import SshdParser
from stackwarden.agent.logs.decoders.timeparse import IsoClock, SyslogClock
from stackwarden.agent.logs.events import LogEvent, LogSource

LINUX = LogSource("linux", None, frozenset({"syslog"}))

# RFC 3164 as files hold it: `[<PRI>]Mmm dd hh:mm:ss[.frac] host tag[pid]: message`.
_RFC3164 = re.compile(
    r"(?:<(\d{1,3})>)?([A-Z][a-z]{2} [ 0-3]?\d \d\d:\d\d:\d\d)(?:\.\d+)?(?: \d{4})?"
    r" (?:(\S*[^\s:]) )?([^\s\[\]:]+)(?:\[(\d+)\])?: ?(.*)", re.DOTALL)  # a host never ends in ":"
_TRADITIONAL = re.compile(
    r"([A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d) ([^\s:]+) ([^\s\[\]:]+)(?:\[(\d+)\])?: ?(.*)", re.DOTALL)
# rsyslog's RSYSLOG_FileFormat (RFC 3339 stamps), the default of newer distributions.
_RFC3339 = re.compile(
    r"(?:<(\d{1,3})>)?(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)?)"
    r" (?:(\S*[^\s:]) )?([^\s\[\]:]+)(?:\[(\d+)\])?: ?(.*)", re.DOTALL)
_RFC5424 = re.compile(
    r"<(\d{1,3})>1 (\S+) (\S+) (\S+) (\S+) (\S+) (-|(?:\[(?:[^\]\"\\]|\"(?:[^\"\\]|\\.)*\")*\])+)"
    r"(?: (.*))?", re.DOTALL)
_SD_ELEMENT = re.compile(r"\[([^\s\]]+)((?:\s+[^=\s\]]+=\"(?:[^\"\\]|\\.)*\")*)\]")
_SD_PARAM = re.compile(r"([^=\s\]]+)=\"((?:[^\"\\]|\\.)*)\"")
# Old relays: `Mar  3 00:17:22 [sshd]: msg` (the tag in brackets, no PID).
_BRACKETED = re.compile(r"([A-Z][a-z]{2} [ 0-3]?\d \d\d:\d\d:\d\d) (?:(\S+) )?\[([^\]\s]+)\]:? (.*)",
                        re.DOTALL)
# A bare stamp and text, for lines that have no tag (`kernel` messages from some daemons).
_STAMP_ONLY = re.compile(r"([A-Z][a-z]{2} [ 0-3]?\d \d\d:\d\d:\d\d) (?:(\S+) )?(.*)", re.DOTALL)

_SERVICES: dict[str, tuple[str, ...]] = {
    "sshd": ("sshd", "auth"), "sudo": ("sudo", "auth"), "su": ("auth",),
    "cron": ("cron",), "crond": ("cron",), "anacron": ("cron",),
    "vsftpd": ("vsftpd",), "clamd": ("clamav",), "freshclam": ("clamav",),
    "clamav-milter": ("clamav",), "clamscan": ("clamav",), "guacd": ("guacamole",),
    "guacamole": ("guacamole",),
}
for _program in ("login", "passwd", "useradd", "userdel", "usermod", "groupadd", "groupdel",
                 "groupmod", "gpasswd", "chpasswd", "chage", "newusers", "pkexec", "polkitd",
                 "systemd-logind", "unix_chkpwd", "chsh", "chfn", "runuser", "sshd-session",
                 "sshd-auth"):
    _SERVICES.setdefault(_program, ("auth",))
_SERVICES["sshd-session"] = _SERVICES["sshd-auth"] = ("sshd", "auth")
_PARSERS: dict[str, str] = {"sshd": "sshd", "sshd-session": "sshd", "sshd-auth": "sshd",
                            "sudo": "sudo", "su": "su"}
_PARSERS.update(dict.fromkeys(("useradd", "userdel", "usermod", "groupadd", "groupdel",
                               "groupmod", "gpasswd", "chpasswd", "passwd", "newusers",
                               "chage"), "accounts"))
_PARSERS.update(dict.fromkeys(("audit", "auditd", "audispd", "audisp-syslog", "audisp"),
                              "audit"))


def program_name(tag: str) -> str:
    """`/usr/sbin/CRON` -> `cron`: the name rules and decoders key on."""
    return tag.rpartition("/")[2].lower()


class SyslogDecoder(Decoder):
    """Syslog files (auth.log, syslog, secure, messages) and syslog-formatted streams."""

    name: ClassVar[str] = "syslog"
    description: ClassVar[str] = ("syslog (RFC 3164/5424, rsyslog file formats) with sshd, "
                                  "sudo, su, PAM and account-tool messages")

    def __init__(self, reference_time: float | None = None, tz: tzinfo | None = None) -> None:
        self.clock = SyslogClock(reference_time, tz)
        self.iso = IsoClock(tz)
        self.sshd = SshdParser()
        self._sshd = self.sshd.parse
        self.audit = AuditdDecoder(tz=tz)
        super().__init__()
        self.pending = self.audit.pending  # process_creation events from forwarded records
        # tag -> (program, log source, message parser): a log has few distinct tags
        self._tags: dict[str, tuple[str, LogSource, str | None, bool]] = {}

    @classmethod
    def looks_like(cls, line: str) -> bool:
        """RFC 3164/3339/5424 headers."""
        return bool(_RFC3164.match(line) or _RFC3339.match(line) or _RFC5424.match(line))

    def decode(self, line: str, origin: str = "", lineno: int = 0) -> LogEvent | None:
        """One syslog line; a line without a recognisable header becomes a bare Linux event."""
        if not line or (line[0] in " \t" and line.isspace()):
            return None
        cut = len(line) > MAX_LINE_CHARS
        if cut:
            line = clip(line)[0]
        # Fast path for the traditional file format (`Feb  5 14:34:10 host tag[pid]: msg`),
        # the bulk of auth.log: one tight regex, then the general ones for everything else.
        fast = _TRADITIONAL.match(line)
        if fast is not None:
            stamp, host, tag, pid, message = fast.groups()
            when = self.clock.epoch(stamp)
            if when is not None:
                return self._finish(tag, pid, message, {"hostname": host}, when, line, origin,
                                    lineno, cut)
        f: dict[str, Any] = {}
        match = _RFC3164.match(line)
        if match is not None:
            stamp = match.group(2)
            when = self.clock.epoch(stamp if len(stamp) == 15 else stamp[:4] + " " + stamp[4:])
        else:
            match = _RFC3339.match(line)
            if match is not None:
                when = self.iso.epoch(match.group(2))
            else:
                return self._other(line, f, origin, lineno, cut)
        pri, _, host, tag, pid, message = match.groups()
        if pri:
            f["facility"], f["severity"] = int(pri) >> 3, int(pri) & 7
        if host:
            f["hostname"] = host
        return self._finish(tag, pid, message, f, when, line, origin, lineno, cut)

    def flush(self) -> list[LogEvent]:
        """Process events still assembling from forwarded audit records."""
        return self.audit.flush()

    def _finish(self, tag: str, pid: str | None, message: str, f: dict[str, Any],
                when: float | None, line: str, origin: str, lineno: int,
                cut: bool) -> LogEvent | None:
        known = self._tags.get(tag)
        if known is None:
            program = program_name(tag)
            source = LINUX.with_services(*_SERVICES.get(program, ()))
            parser = _PARSERS.get(program)
            keep = self.wanted is None or parser == "audit" or self.wanted(source)
            known = self._tags[tag] = (program, source, parser, keep)
        program, source, parser, keep = known
        if not keep:
            return None
        f["message"] = message
        f["program"] = program
        if pid:
            f["pid"] = int(pid)
        if parser == "audit" and message.startswith("type="):
            event = self.audit.decode(message, origin, lineno)
            if event is not None:
                event.fields.update((k, v) for k, v in f.items() if k not in event.fields)
                return event
        try:
            if message.startswith("pam_"):
                parse_pam(message, f)
            elif parser == "sshd":  # most of auth.log: no detour through _parse_message
                self._sshd(message, f, pid)
            elif parser is not None:
                self._parse_message(parser, message, f, pid)
        except (ValueError, IndexError):  # a malformed message keeps its header fields
            pass
        return LogEvent(f, source, when, line, origin, lineno, TRUNCATED if cut else None)

    def _parse_message(self, parser: str | None, message: str, f: dict[str, Any],
                       pid: str | None) -> None:
        if parser == "sudo":
            parse_sudo(message, f)
        elif parser == "su":
            parse_su(message, f)
        elif parser == "accounts":
            parse_accounts(message, f)

    def _other(self, line: str, f: dict[str, Any], origin: str, lineno: int,
               cut: bool) -> LogEvent | None:
        match = _RFC5424.match(line)
        if match is not None:
            pri, stamp, host, app, procid, msgid, sd, message = match.groups()
            f["facility"], f["severity"] = int(pri) >> 3, int(pri) & 7
            if host != "-":
                f["hostname"] = host
            if msgid != "-":
                f["msgid"] = msgid
            for sd_id, params in _SD_ELEMENT.findall(sd or ""):
                for key, value in _SD_PARAM.findall(params):
                    f[f"{sd_id}.{key}"] = value.replace('\\"', '"').replace("\\]", "]")
            message = (message or "").removeprefix("\ufeff")
            f["message"] = message
            return self._finish(app if app != "-" else "", procid if procid.isdigit() else None,
                                message, f, self.iso.epoch(stamp), line, origin, lineno, cut)
        bracketed = _BRACKETED.match(line)
        if bracketed is not None:
            stamp, host, tag, message = bracketed.groups()
            if host:
                f["hostname"] = host
            when = self.clock.epoch(stamp if len(stamp) == 15 else stamp[:4] + " " + stamp[4:])
            return self._finish(tag, None, message, f, when, line, origin, lineno, cut)
        when = None
        bare = _STAMP_ONLY.match(line)
        if bare is not None:
            when = self.clock.epoch(bare.group(1))
            if bare.group(2):
                f["hostname"] = bare.group(2)
            f["message"] = bare.group(3)
        else:
            f["message"] = line
        extra = TRUNCATED if cut else None
        return LogEvent(f, LINUX, when, line, origin, lineno, extra)
