"""Real receivers on loopback for notification tests: an HTTP server that records requests
(and can fail on purpose), an SMTP server (aiosmtpd) and a syslog socket (UDP or TCP)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Recorded:
    """What a receiver got."""

    items: list[Any] = field(default_factory=list)
    event: threading.Event = field(default_factory=threading.Event)

    def wait(self, count: int = 1, timeout: float = 15.0) -> list[Any]:
        """Block until `count` items arrived (or fail)."""
        deadline = threading.Event()
        for _ in range(int(timeout * 20)):
            if len(self.items) >= count:
                return self.items
            deadline.wait(0.05)
        raise AssertionError(f"expected {count} item(s), got {len(self.items)}")


@contextmanager
def http_receiver(status: int = 200, answer: bytes = b"") -> Iterator[tuple[str, Recorded]]:
    """An HTTP server on 127.0.0.1 answering `status` (and `answer`) to every POST."""
    got = Recorded()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            got.items.append((dict(self.headers), body))
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", got
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def smtp_receiver() -> Iterator[tuple[int, Recorded]]:
    """aiosmtpd on 127.0.0.1; yields its port and the messages it accepted."""
    from aiosmtpd.controller import Controller

    got = Recorded()

    class Handler:
        async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
                self, _server: Any, _session: Any, envelope: Any) -> str:
            got.items.append(envelope)
            return "250 Message accepted for delivery"

    port = free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, got
    finally:
        controller.stop()


@contextmanager
def syslog_receiver(protocol: str = "udp") -> Iterator[tuple[int, Recorded]]:
    """A syslog collector socket; TCP frames are octet-counted (RFC 6587)."""
    got = Recorded()
    kind = socket.SOCK_DGRAM if protocol == "udp" else socket.SOCK_STREAM
    sock = socket.socket(socket.AF_INET, kind)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    stop = threading.Event()

    def run() -> None:
        if protocol == "tcp":
            sock.listen(4)
        while not stop.is_set():
            try:
                if protocol == "udp":
                    got.items.append(sock.recv(70000))
                    continue
                conn, _ = sock.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(5)
                data = b""
                while chunk := conn.recv(65536):
                    data += chunk
                length, _, rest = data.partition(b" ")
                got.items.append(rest[:int(length)])

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield sock.getsockname()[1], got
    finally:
        stop.set()
        thread.join(5)
        sock.close()


def free_port() -> int:
    """A TCP port nobody listens on (right now)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
