"""Web server logs: NCSA common/combined access logs (Apache, nginx) and their error logs.

Access lines get the W3C names SigmaHQ's webserver rules use: `c-ip`, `cs-username`,
`cs-method`, `cs-uri-query` (the whole request target, path and query, as SigmaHQ's rules
assume), `cs-uri-stem` (the path), `cs-query`, `cs-user-agent`, `cs-referer`; `sc-status` and `sc-bytes` are numbers.
Error-log lines are events of the `apache` or `nginx` service with the message as text.
"""

from __future__ import annotations

import re
import time
from typing import Any, ClassVar

from stackwarden.agent.logs.decoders.base import TRUNCATED, Decoder, clip
from stackwarden.agent.logs.decoders.timeparse import ApacheClock, IsoClock
from stackwarden.agent.logs.events import LogEvent, LogSource

_QUOTED = r'"((?:[^"\\]|\\.)*)"'
_ACCESS = re.compile(
    r"(\S+) (\S+) (\S+) \[([^\]]+)\] " + _QUOTED + r" (\d{3}|-) (\d+|-)"
    r"(?: " + _QUOTED + r" " + _QUOTED + r")?")
_VHOST_ACCESS = re.compile(r"(\S+) " + _ACCESS.pattern)
_APACHE_ERROR = re.compile(
    r"\[(\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d(?:\.\d+)? \d{4})\] \[(?:([\w-]+):)?(\w+)\]"
    r"(?: \[pid (\d+)(?::tid \d+)?\])?(?: \[client ([^\]]+)\])? ?(.*)", re.DOTALL)
_NGINX_ERROR = re.compile(
    r"(\d{4}/\d\d/\d\d \d\d:\d\d:\d\d) \[(\w+)\] (\d+)#\d+: (?:\*\d+ )?(.*)", re.DOTALL)
_NGINX_CLIENT = re.compile(r", client: ([^,\s]+)")
_ESCAPE = re.compile(r"\\x([0-9A-Fa-f]{2})|\\(.)")


def _unescape(text: str) -> str:
    """Undo the log's escaping of quotes and control bytes (`\\"`, `\\x22`)."""
    if "\\" not in text:
        return text
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)) if m.group(1) else m.group(2), text)


class WebAccessDecoder(Decoder):
    """Common/combined/vhost_combined access logs and Apache/nginx error logs."""

    name: ClassVar[str] = "web"
    description: ClassVar[str] = ("Apache/nginx access logs (common, combined, vhost_combined) "
                                  "and error logs")
    server: ClassVar[str | None] = None  # the service when the server is known

    def __init__(self) -> None:
        super().__init__()
        self.clock = ApacheClock()
        self.iso = IsoClock()
        services = frozenset({self.server}) if self.server else frozenset()
        self.access = LogSource(None, "webserver", services)

    @classmethod
    def looks_like(cls, line: str) -> bool:
        """An access-log or error-log line."""
        return bool(_ACCESS.match(line) or _VHOST_ACCESS.match(line)
                    or _APACHE_ERROR.match(line) or _NGINX_ERROR.match(line))

    def decode(self, line: str, origin: str = "", lineno: int = 0) -> LogEvent | None:
        """One access or error line; anything else is kept as a bare web-server event."""
        if not line or line.isspace():
            return None
        line, cut = clip(line)
        extra = TRUNCATED if cut else None
        match = _ACCESS.match(line)
        vhost = None
        if match is None:
            match = _VHOST_ACCESS.match(line)
            if match is not None:
                vhost, groups = match.group(1), match.groups()[1:]
        else:
            groups = match.groups()
        if match is not None:
            f = self._access_fields(groups)
            if vhost:
                f["s-sitename"], _, port = vhost.partition(":")
                if port.isdigit():
                    f["s-port"] = int(port)
            return LogEvent(f, self.access, self.clock.epoch(groups[3]), line, origin, lineno,
                            extra)
        return self._error_line(line, origin, lineno, extra)

    def _access_fields(self, groups: tuple[str, ...]) -> dict[str, Any]:
        ip, _ident, user, _stamp, request, status, size, referer, agent = groups
        f: dict[str, Any] = {"c-ip": ip}
        if user != "-":
            f["cs-username"] = user
        request = _unescape(request)
        f["request"] = request
        parts = request.split(" ")
        if len(parts) >= 2 and parts[0].isalpha():
            f["cs-method"] = parts[0]
            target = " ".join(parts[1:-1]) if len(parts) > 2 else parts[1]
            if len(parts) > 2:
                f["cs-version"] = parts[-1]
        else:
            target = request
        f["cs-uri-query"] = f["cs-uri"] = target
        stem, sep, query = target.partition("?")
        f["cs-uri-stem"] = stem
        if sep:
            f["cs-query"] = query
        if status != "-":
            f["sc-status"] = int(status)
        if size != "-":
            f["sc-bytes"] = int(size)
        if referer is not None:
            if referer != "-":
                f["cs-referer"] = _unescape(referer)
            if agent != "-":
                f["cs-user-agent"] = _unescape(agent)
        return f

    def _error_line(self, line: str, origin: str, lineno: int,
                    extra: dict[str, Any] | None) -> LogEvent:
        f: dict[str, Any] = {}
        when = None
        server = self.server
        apache = _APACHE_ERROR.match(line)
        nginx = None if apache else _NGINX_ERROR.match(line)
        if apache is not None:
            stamp, module, level, pid, client, message = apache.groups()
            server = server or "apache"
            when = _apache_error_time(stamp)
            f.update(level=level, message=message)
            if module:
                f["module"] = module
            if pid:
                f["pid"] = int(pid)
            if client:
                f["c-ip"] = client.rsplit(":", 1)[0] if client.count(":") == 1 else client
        elif nginx is not None:
            stamp, level, pid, message = nginx.groups()
            server = server or "nginx"
            when = self.iso.epoch(stamp.replace("/", "-"))
            f.update(level=level, pid=int(pid), message=message)
            client = _NGINX_CLIENT.search(message)
            if client:
                f["c-ip"] = client.group(1)
        else:
            f["message"] = line
        source = LogSource(None, None, frozenset({server})) if server else LogSource()
        return LogEvent(f, source, when, line, origin, lineno, extra)


def _apache_error_time(stamp: str) -> float | None:
    """`Wed Oct 11 14:32:52.123 2000` (local time) to epoch seconds."""
    try:
        whole, _, rest = stamp.partition(".")
        if rest:
            _fraction, _, year = rest.partition(" ")
            whole = f"{whole} {year}"
        return time.mktime(time.strptime(whole, "%a %b %d %H:%M:%S %Y"))
    except (ValueError, OverflowError):
        return None


class NginxDecoder(WebAccessDecoder):
    """nginx access and error logs (the `nginx` service)."""

    name: ClassVar[str] = "nginx"
    description: ClassVar[str] = "nginx access (combined) and error logs"
    server: ClassVar[str | None] = "nginx"


class ApacheDecoder(WebAccessDecoder):
    """Apache httpd access and error logs (the `apache` service)."""

    name: ClassVar[str] = "apache"
    description: ClassVar[str] = "Apache httpd access (common/combined) and error logs"
    server: ClassVar[str | None] = "apache"
