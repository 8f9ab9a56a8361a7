"""systemd journal entries (`journalctl -o json`) decoded like the syslog lines they stand for.

The identifier, PID, host and message become the same fields a syslog line gives, so the
sshd/sudo/PAM decoders and the syslog-based rules apply unchanged; audit records the journal
carries (`_TRANSPORT=audit`) go to the auditd decoder. Every other journal field is kept
under its own name (`_SYSTEMD_UNIT`, `_UID`, …).
"""

from __future__ import annotations

from datetime import tzinfo
from typing import Any, ClassVar

from stackwarden.agent.logs.decoders.base import clip
from stackwarden.agent.logs.decoders.jsonlines import load_object
from stackwarden.agent.logs.decoders.syslog import SyslogDecoder
from stackwarden.agent.logs.events import LogEvent


def _text(value: Any) -> str:
    """Journal values are strings, or byte arrays (lists of ints) for binary data."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(b, int) for b in value):
        return bytes(b & 0xFF for b in value).decode("utf-8", "replace")
    if isinstance(value, list):  # a field logged several times: the first one
        return _text(value[0]) if value else ""
    return "" if value is None else str(value)


class JournalDecoder(SyslogDecoder):
    """`journalctl -o json` output, one entry per line."""

    name: ClassVar[str] = "journald"
    description: ClassVar[str] = "systemd journal export (journalctl -o json), one entry a line"

    def __init__(self, reference_time: float | None = None, tz: tzinfo | None = None) -> None:
        super().__init__(reference_time, tz)

    @classmethod
    def looks_like(cls, line: str) -> bool:
        """A JSON entry with a journal cursor."""
        obj = load_object(line)
        return bool(obj and "__CURSOR" in obj and "__REALTIME_TIMESTAMP" in obj)

    def decode(self, line: str, origin: str = "", lineno: int = 0) -> LogEvent | None:
        """One journal entry; a line that is not one is decoded as syslog."""
        if not line or line.isspace():
            return None
        clipped, cut = clip(line)
        entry = None if cut else load_object(clipped)
        if entry is None:
            return super().decode(line, origin, lineno)
        try:
            when: float | None = int(_text(entry.get("__REALTIME_TIMESTAMP"))) / 1e6
        except ValueError:
            when = None
        message = _text(entry.get("MESSAGE"))
        if entry.get("_TRANSPORT") == "audit" and entry.get("_AUDIT_TYPE_NAME"):
            kind = _text(entry["_AUDIT_TYPE_NAME"])
            body = message.split(" ", 1)[1] if message.startswith(kind + " ") else message
            record = f"type={kind} msg=audit({when or 0:.3f}:{_text(entry.get('_AUDIT_ID'))}): "
            event = self.audit.decode(record + body, origin, lineno)
            if event is not None:
                event.fields["__CURSOR"] = _text(entry.get("__CURSOR"))
            return event
        f: dict[str, Any] = {k: _text(v) for k, v in entry.items()
                             if not k.startswith("__") or k == "__CURSOR"}
        host = f.get("_HOSTNAME")
        if host:
            f["hostname"] = host
        f["message"] = message
        tag = f.get("SYSLOG_IDENTIFIER") or f.get("_COMM") or ""
        pid = f.get("SYSLOG_PID") or f.get("_PID")
        priority = f.get("PRIORITY")
        if priority and priority.isdigit():
            f["severity"] = int(priority)
        header = f"{tag}[{pid}]: " if pid else (f"{tag}: " if tag else "")
        text = header + message
        return self._finish(tag, pid if pid and pid.isdigit() else None, message, f, when,
                            text, origin, lineno, cut)
