"""Builders for agent API tests: enrolling through the API, events and alerts as agents send
them, a small Debian-like root filesystem for host inventories."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

from tests.server.conftest import Server

T0 = 1_790_000_000.0  # a fixed event time


def enroll(server: Server, hostname: str = "web-1") -> dict[str, Any]:
    """Create an enrollment token as admin and spend it; the server's answer."""
    made = server.post("/api/v1/agents/enrollment-tokens", json={"expires_in": 600})
    assert made.status_code == 201, made.text
    done = server.client.post("/api/v1/agents/enroll",
                              json={"token": made.json()["token"], "hostname": hostname})
    assert done.status_code == 201, done.text
    return dict(done.json())


def event(n: int, kind: str = "log.event", data: dict[str, Any] | None = None,
          *, ident: str | None = None) -> dict[str, Any]:
    """One event as the transport sends it (`seq` = n)."""
    return {"id": ident or f"00000000-0000-4000-8000-{n:012d}", "seq": n, "kind": kind,
            "time": T0 + n, "data": data if data is not None else {"n": n}}


def alert(alert_id: str, ip: str | None, *, count: int = 5, closed: bool = False,
          first: str = "2026-11-29T06:00:00Z", last: str = "2026-11-29T06:00:30Z",
          title: str = "SSH brute force", rule: str = "stackwarden_ssh_brute_force"
          ) -> dict[str, Any]:
    """The data of a `log.alert` event (agent/logs/alerts.py `to_dict` plus `closed`)."""
    return {"id": alert_id, "rule_id": rule, "rule_name": rule, "title": title,
            "level": "high", "kind": "event_count",
            "group": {"src_ip": ip} if ip else {}, "count": count, "first": first,
            "last": last, "closed": closed}


def gz(events: list[dict[str, Any]]) -> bytes:
    """A gzip-compressed batch body."""
    return gzip.compress(json.dumps({"events": events}).encode())


def send(server: Server, credential: str, events: list[dict[str, Any]]) -> Any:
    """POST a batch (gzip) with an agent credential."""
    return server.client.post("/api/v1/agents/events", content=gz(events),
                              headers={"Authorization": f"Bearer {credential}",
                                       "Content-Type": "application/json",
                                       "Content-Encoding": "gzip"})


DPKG_STATUS = """Package: openssl
Status: install ok installed
Priority: optional
Section: utils
Installed-Size: 2300
Maintainer: Debian OpenSSL Team <pkg-openssl-devel@alioth-lists.debian.net>
Architecture: amd64
Version: 3.0.11-1~deb12u1
Description: Secure Sockets Layer toolkit - cryptographic utility

Package: base-files
Status: install ok installed
Priority: required
Section: admin
Installed-Size: 400
Maintainer: Santiago Vila <sanvila@debian.org>
Architecture: amd64
Version: 12.4+deb12u5
Description: Debian base system miscellaneous files
"""


def debian_root(path: Path) -> Path:
    """A root filesystem with a Debian 12 os-release and a dpkg database of two packages."""
    (path / "etc").mkdir(parents=True)
    (path / "etc" / "os-release").write_text(
        'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\n'
        'VERSION_ID="12"\nVERSION_CODENAME=bookworm\nID=debian\n')
    (path / "var" / "lib" / "dpkg").mkdir(parents=True)
    (path / "var" / "lib" / "dpkg" / "status").write_text(DPKG_STATUS)
    return path
