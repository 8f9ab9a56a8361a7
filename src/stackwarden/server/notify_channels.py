"""Notification channels: how one message is formatted and sent to a webhook (signed JSON),
Slack, an SMTP server or a syslog collector (RFC 5424 with JSON or CEF). Each sender raises
`DeliveryError` with a one-line reason that never contains a secret.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

import httpx

from stackwarden import __version__
from stackwarden.core.errors import StackWardenError

KINDS = ("webhook", "slack", "email", "syslog")
SECRET_FIELDS = frozenset({"secret", "password"})
MAX_ITEMS = 100  # items carried in one message; the count says how many there were
SEVERITY_CEF = {"critical": 10, "high": 8, "medium": 5, "low": 3, "negligible": 1, "unknown": 5}
SEVERITY_SYSLOG = {"critical": 2, "high": 3, "medium": 4, "low": 5, "negligible": 6,
                   "unknown": 5}  # RFC 5424 severities: crit, err, warning, notice, info
FACILITIES = {"user": 1, "daemon": 3, "auth": 4, "local0": 16, "local1": 17, "local2": 18,
              "local3": 19, "local4": 20, "local5": 21, "local6": 22, "local7": 23}


class DeliveryError(StackWardenError):
    """A message could not be delivered (the reason is safe to show)."""


@dataclass(frozen=True, slots=True)
class Message:
    """What a channel sends: one event, possibly grouping many items."""

    delivery_id: int
    event: str
    payload: dict[str, Any]

    @property
    def title(self) -> str:
        """One line."""
        return str(self.payload.get("title") or self.event)

    @property
    def severity(self) -> str:
        """The worst severity among the items (or the event's own)."""
        return str(self.payload.get("severity") or "unknown")

    def document(self) -> dict[str, Any]:
        """The generic JSON document (webhooks, syslog JSON)."""
        items = list(self.payload.get("items") or [])
        return {"schema_version": "1", "source": "stackwarden", "delivery_id": self.delivery_id,
                "event": self.event, "time": self.payload.get("time"), "title": self.title,
                "summary": self.payload.get("summary", ""), "severity": self.severity,
                "count": int(self.payload.get("count", len(items))),
                "items": items[:MAX_ITEMS], "truncated": len(items) > MAX_ITEMS,
                "link": self.payload.get("link")}

    def text_lines(self, limit: int = 20) -> list[str]:
        """The items as short lines for humans (Slack, email)."""
        items = list(self.payload.get("items") or [])
        lines = [str(i.get("text") or i.get("title") or json.dumps(i, sort_keys=True))
                 for i in items[:limit]]
        count = int(self.payload.get("count", len(items)))
        if count > len(lines):
            lines.append(f"… and {count - len(lines)} more")
        return lines


# --- validation ----------------------------------------------------------------------------

def _url(value: str, *, https_only: bool = False) -> str | None:
    parts = urlsplit(value)
    allowed = ("https",) if https_only else ("http", "https")
    if parts.scheme not in allowed or not parts.hostname:
        return f"an {' or '.join(allowed)} URL with a host, e.g. https://hooks.example/sw"
    return None


def _port(value: str) -> int | None:
    return int(value) if value.isdigit() and 0 < int(value) < 65536 else None


def _host_port(form: dict[str, str], config: dict[str, Any], errors: dict[str, str],
               what: str, default_port: int) -> None:
    config["host"] = form.get("host", "").strip()
    if not config["host"]:
        errors["host"] = f"required: {what}'s name or address"
    port = _port(form.get("port", "").strip() or str(default_port))
    if port is None:
        errors["port"] = "a port number from 1 to 65535"
    config["port"] = port or default_port


def validate_config(kind: str, form: dict[str, str], previous: dict[str, Any] | None = None
                    ) -> tuple[dict[str, Any], dict[str, str]]:
    """A channel's configuration from form fields: (config, errors by field).

    Secret fields left empty keep their previous value (the form never shows them).
    """
    previous = previous or {}
    errors: dict[str, str] = {}
    config: dict[str, Any] = {}

    def keep_secret(name: str) -> str:
        return form.get(name, "") or str(previous.get(name, ""))

    if kind in ("webhook", "slack"):
        url = form.get("url", "").strip()
        problem = _url(url, https_only=False) if url else "required"
        if problem:
            errors["url"] = problem
        config["url"] = url
        if kind == "webhook":
            config["secret"] = keep_secret("secret")
            if config["secret"] and len(config["secret"]) < 16:
                errors["secret"] = "at least 16 characters (it keys the HMAC-SHA256 signature)"
    elif kind == "email":
        _host_port(form, config, errors, "the SMTP server", 25)
        config["sender"] = form.get("sender", "").strip()
        if "@" not in config["sender"]:
            errors["sender"] = "an address such as stackwarden@example.com"
        recipients = [a.strip() for a in form.get("recipients", "").replace(",", "\n")
                      .splitlines() if a.strip()]
        bad = [a for a in recipients if "@" not in a or any(c in a for c in "<>\r\n ")]
        if not recipients or bad:
            errors["recipients"] = ("one address or more, one a line" if not recipients else
                                    f"not an address: {bad[0]}")
        config["recipients"] = recipients
        config["starttls"] = form.get("starttls") in ("on", "true", "1")
        config["username"] = form.get("username", "").strip()
        config["password"] = keep_secret("password")
    elif kind == "syslog":
        _host_port(form, config, errors, "the collector", 514)
        config["protocol"] = form.get("protocol", "udp")
        if config["protocol"] not in ("udp", "tcp"):
            errors["protocol"] = "udp or tcp"
        config["format"] = form.get("format", "json")
        if config["format"] not in ("json", "cef"):
            errors["format"] = "json or cef"
        config["facility"] = form.get("facility", "local0")
        if config["facility"] not in FACILITIES:
            errors["facility"] = f"one of {', '.join(FACILITIES)}"
    else:
        errors["kind"] = f"one of {', '.join(KINDS)}"
    return config, errors


def redacted(config: dict[str, Any]) -> dict[str, Any]:
    """The configuration with secrets replaced by whether they are set."""
    return {k: ("(set)" if v else "(not set)") if k in SECRET_FIELDS else v
            for k, v in config.items()}


# --- formatting ----------------------------------------------------------------------------

def signature(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=HEX` of HMAC-SHA256(secret, timestamp + "." + body) (docs/notifications.md)."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def slack_payload(msg: Message) -> dict[str, Any]:
    """Slack's incoming-webhook shape (text for notifications, blocks for the message)."""
    summary = str(msg.payload.get("summary", ""))
    lines = msg.text_lines(10)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": msg.title[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _slack_escape(summary) or " "}}]
    if lines:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(
            "• " + _slack_escape(line) for line in lines)[:3000]}})
    if msg.payload.get("link"):
        blocks.append({"type": "context", "elements": [
            {"type": "mrkdwn", "text": f"<{msg.payload['link']}|Open in StackWarden>"}]})
    return {"text": f"{msg.title}: {summary}"[:3000], "blocks": blocks}


def _slack_escape(text: str) -> str:
    # Slack's mrkdwn treats &, < and > as control characters
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def email_message(msg: Message, config: dict[str, Any]) -> EmailMessage:
    """A plain-text email."""
    mail = EmailMessage()
    mail["Subject"] = f"[StackWarden] {msg.title}"[:250]
    mail["From"] = config["sender"]
    mail["To"] = ", ".join(config["recipients"])
    mail["X-StackWarden-Event"] = msg.event
    body = [str(msg.payload.get("summary", "")), ""]
    body += [f"- {line}" for line in msg.text_lines(50)]
    if msg.payload.get("link"):
        body += ["", f"Open in StackWarden: {msg.payload['link']}"]
    mail.set_content("\n".join(body) + "\n")
    return mail


def _sd_escape(value: str) -> str:
    # RFC 5424 section 6.3.3: escape ", \ and ] inside PARAM-VALUE
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def _cef_header(value: str) -> str:
    return value.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("\r", " ")


def _cef_ext(value: str) -> str:
    return (value.replace("\\", "\\\\").replace("=", "\\=").replace("\n", "\\n")
            .replace("\r", "\\r"))


def cef_message(msg: Message) -> str:
    """ArcSight Common Event Format (CEF:0) for one message."""
    doc = msg.document()
    ext = {"rt": str(int(time.time() * 1000)), "cnt": str(doc["count"]),
           "msg": str(doc["summary"])[:1000], "externalId": str(msg.delivery_id),
           "cs1Label": "items", "cs1": json.dumps(doc["items"][:20], sort_keys=True)[:2000]}
    if doc.get("link"):
        ext["request"] = str(doc["link"])
    header = "|".join(_cef_header(v) for v in (
        "CEF:0", "StackWarden", "StackWarden", __version__, msg.event, msg.title[:200],
        str(SEVERITY_CEF.get(msg.severity, 5))))
    return header + "|" + " ".join(f"{k}={_cef_ext(v)}" for k, v in ext.items())


def syslog_line(msg: Message, config: dict[str, Any], hostname: str | None = None) -> bytes:
    """One RFC 5424 syslog message (no trailing newline) with a JSON or CEF payload."""
    pri = FACILITIES[config.get("facility", "local0")] * 8 + SEVERITY_SYSLOG.get(msg.severity, 5)
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    host = (hostname or socket.gethostname() or "-")[:255].replace(" ", "_")
    sd = (f'[stackwarden@32473 event="{_sd_escape(msg.event)}" '
          f'delivery="{msg.delivery_id}"]')
    body = (cef_message(msg) if config.get("format") == "cef" else
            json.dumps(msg.document(), sort_keys=True, ensure_ascii=False))
    # MSG starts with a BOM: RFC 5424 section 6.4 marks it as UTF-8 that way
    head = f"<{pri}>1 {stamp} {host} stackwarden - {msg.event[:32]} {sd} "
    return head.encode() + b"\xef\xbb\xbf" + body.encode("utf-8")


# --- sending -------------------------------------------------------------------------------

def _post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> str:
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False) as client:
            response = client.post(url, content=body, headers=headers)
    except httpx.TimeoutException:
        raise DeliveryError(f"timed out after {timeout:g} s") from None
    except httpx.HTTPError as exc:
        raise DeliveryError(f"{type(exc).__name__}: cannot reach "
                            f"{urlsplit(url).hostname}") from None
    if response.status_code >= 300:
        raise DeliveryError(f"HTTP {response.status_code} from {urlsplit(url).hostname}")
    return f"HTTP {response.status_code}"


def send_webhook(msg: Message, config: dict[str, Any], timeout: float) -> str:
    """POST the generic JSON, signed when the channel has a secret."""
    body = json.dumps(msg.document(), sort_keys=True, ensure_ascii=False).encode()
    stamp = str(int(time.time()))
    headers = {"Content-Type": "application/json", "User-Agent": f"StackWarden/{__version__}",
               "X-StackWarden-Event": msg.event, "X-StackWarden-Delivery": str(msg.delivery_id),
               "X-StackWarden-Timestamp": stamp}
    if config.get("secret"):
        headers["X-StackWarden-Signature"] = signature(config["secret"], stamp, body)
    return _post(config["url"], body, headers, timeout)


def send_slack(msg: Message, config: dict[str, Any], timeout: float) -> str:
    """POST a Slack incoming-webhook payload."""
    body = json.dumps(slack_payload(msg), ensure_ascii=False).encode()
    return _post(config["url"], body, {"Content-Type": "application/json"}, timeout)


def send_email(msg: Message, config: dict[str, Any], timeout: float) -> str:
    """Send over SMTP (STARTTLS when configured, then login when a user name is set)."""
    mail = email_message(msg, config)
    try:
        with smtplib.SMTP(config["host"], int(config["port"]), timeout=timeout) as smtp:
            if config.get("starttls"):
                smtp.starttls(context=ssl.create_default_context())
            if config.get("username"):
                smtp.login(config["username"], config.get("password", ""))
            refused = smtp.send_message(mail)
    except smtplib.SMTPAuthenticationError:
        raise DeliveryError("the SMTP server refused the user name or password") from None
    except smtplib.SMTPResponseException as exc:
        raise DeliveryError(f"SMTP {exc.smtp_code} from {config['host']}") from None
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(f"{type(exc).__name__}: cannot send through "
                            f"{config['host']}:{config['port']}") from None
    if refused:
        raise DeliveryError(f"refused recipients: {', '.join(sorted(refused))}")
    return f"accepted for {len(config['recipients'])} recipient(s)"


def send_syslog(msg: Message, config: dict[str, Any], timeout: float) -> str:
    """Send one RFC 5424 message over UDP, or over TCP with octet counting (RFC 6587)."""
    line = syslog_line(msg, config)
    address = (config["host"], int(config["port"]))
    try:
        if config.get("protocol") == "tcp":
            with socket.create_connection(address, timeout=timeout) as sock:
                sock.sendall(str(len(line)).encode() + b" " + line)
        else:
            infos = socket.getaddrinfo(*address, type=socket.SOCK_DGRAM)
            family, _, _, _, sockaddr = infos[0]
            with socket.socket(family, socket.SOCK_DGRAM) as sock:
                sock.settimeout(timeout)
                sock.sendto(line[:65000], sockaddr)
    except OSError as exc:
        raise DeliveryError(f"{type(exc).__name__}: cannot send to "
                            f"{config['host']}:{config['port']}") from None
    return f"{len(line)} bytes over {config.get('protocol', 'udp')}"


SENDERS: dict[str, Callable[[Message, dict[str, Any], float], str]] = {
    "webhook": send_webhook, "slack": send_slack, "email": send_email, "syslog": send_syslog}
