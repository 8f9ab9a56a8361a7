"""Real registries for tests: Debian's docker-registry on loopback, plain, TLS + htpasswd, token.

`run_registry(...)` starts `/usr/bin/docker-registry serve` on a random loopback port with its
own storage directory; `make_tls(...)` writes a throw-away CA and server certificate;
`TokenServer` is the token service of the Docker token-auth flow (it issues JWTs the registry
verifies against the certificate in its `rootcertbundle`).
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

from tests.helpers.env import unavailable

REGISTRY_BIN = "/usr/bin/docker-registry"


def require_registry_binary() -> str:
    """The docker-registry binary, or a visible skip (a failure under CI)."""
    if not os.access(REGISTRY_BIN, os.X_OK):
        unavailable("docker-registry is not installed (scripts/install-system-deps)")
    return REGISTRY_BIN


def free_port() -> int:
    """A loopback TCP port that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class TLSFiles:
    """A test CA and a server certificate it signed (PEM files)."""

    ca_cert: Path
    cert: Path
    key: Path


def _name(common_name: str) -> Any:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem_key(key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(serialization.Encoding.PEM,
                             serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption())


def self_signed_ca(common_name: str, key: Any) -> Any:
    """A self-signed CA certificate for `key`, valid for a day."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    now = datetime.datetime.now(datetime.UTC)
    return (x509.CertificateBuilder().subject_name(_name(common_name))
            .issuer_name(_name(common_name)).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False,
                                         False), critical=True)
            .sign(key, hashes.SHA256()))


def make_tls(dest: Path) -> TLSFiles:
    """A CA plus a server certificate for 127.0.0.1, ::1 and localhost."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    dest.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = self_signed_ca("stackwarden test CA", ca_key)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    san = x509.SubjectAlternativeName([
        x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("::1"))])
    cert = (x509.CertificateBuilder().subject_name(_name("localhost")).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(san, critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    files = TLSFiles(dest / "ca.pem", dest / "server.pem", dest / "server-key.pem")
    files.ca_cert.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.key.write_bytes(_pem_key(key))
    return files


def htpasswd_file(dest: Path, users: dict[str, str]) -> Path:
    """A bcrypt htpasswd file made by Apache's `htpasswd -Bbn` (what docker-registry reads)."""
    tool = shutil.which("htpasswd")
    if tool is None:
        unavailable("htpasswd is not installed (apache2-utils; scripts/install-system-deps)")
    lines = [subprocess.run([tool, "-Bbn", user, password], check=True, capture_output=True,
                            text=True).stdout.strip() for user, password in users.items()]
    dest.write_text("\n".join(lines) + "\n")
    return dest


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class TokenRequest:
    """What the token server was asked: method, user (None when anonymous), scopes."""

    method: str
    user: str | None
    scopes: list[str]
    service: str | None
    authorization_seen: bool


@dataclass
class TokenServer:
    """The token service of the Docker token-auth flow, on loopback, issuing RS256 JWTs.

    GET answers `{"token": ...}` to HTTP basic credentials (the classic flow); POST answers
    `{"access_token": ...}` to an OAuth2 refresh-token grant (what `identitytoken` uses).
    """

    workdir: Path
    users: dict[str, str]
    refresh_tokens: dict[str, str] = field(default_factory=dict)  # token -> user
    service: str = "stackwarden-test-registry"
    issuer: str = "stackwarden-test-issuer"
    allow_anonymous: bool = False
    requests: list[TokenRequest] = field(default_factory=list)

    def __post_init__(self) -> None:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        self.workdir.mkdir(parents=True, exist_ok=True)
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        cert = self_signed_ca("stackwarden test token issuer", self._key)
        self._cert_der = cert.public_bytes(serialization.Encoding.DER)
        self.rootcertbundle = self.workdir / "token-root.pem"
        self.rootcertbundle.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.realm = f"http://127.0.0.1:{self._server.server_address[1]}/token"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def sign(self, subject: str, scopes: list[str], *, lifetime: int = 300) -> str:
        """A JWT granting `scopes` (all actions asked for) to `subject`."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        access = []
        for scope in scopes:
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            wanted = [a for a in actions.split(",") if a]
            if subject == "" and kind == "repository":
                wanted = [a for a in wanted if a == "pull"]
            access.append({"type": kind, "name": name, "actions": wanted})
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256",
                  "x5c": [base64.b64encode(self._cert_der).decode()]}
        claims = {"iss": self.issuer, "sub": subject, "aud": self.service, "exp": now + lifetime,
                  "nbf": now - 5, "iat": now, "jti": secrets.token_hex(8), "access": access}
        signing_input = (_b64url(json.dumps(header).encode()) + "."
                         + _b64url(json.dumps(claims).encode()))
        signature = self._key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return signing_input + "." + _b64url(signature)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # keep pytest output clean
                pass

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _basic_user(self) -> tuple[str | None, bool]:
                header = self.headers.get("Authorization", "")
                if not header.lower().startswith("basic "):
                    return None, False
                try:
                    user, _, password = base64.b64decode(header[6:]).decode().partition(":")
                except ValueError:
                    return None, True
                return (user if server.users.get(user) == password else None), True

            def do_GET(self) -> None:
                query = parse_qs(urlsplit(self.path).query)
                user, seen = self._basic_user()
                scopes = query.get("scope", [])
                server.requests.append(TokenRequest("GET", user, scopes,
                                                    (query.get("service") or [None])[0], seen))
                if user is None and (seen or not server.allow_anonymous):
                    self._answer(401, {"details": "wrong or missing credentials"})
                    return
                self._answer(200, {"token": server.sign(user or "", scopes), "expires_in": 300})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = parse_qs(self.rfile.read(length).decode())
                scopes = [s for v in form.get("scope", []) for s in v.split(" ") if s]
                user = server.refresh_tokens.get((form.get("refresh_token") or [""])[0])
                if (form.get("grant_type") or [""])[0] == "password":
                    name = (form.get("username") or [""])[0]
                    good = server.users.get(name) == (form.get("password") or [""])[0]
                    user = name if good else None
                server.requests.append(TokenRequest("POST", user, scopes,
                                                    (form.get("service") or [None])[0], False))
                if user is None:
                    self._answer(401, {"error": "invalid_grant"})
                    return
                self._answer(200, {"access_token": server.sign(user, scopes),
                                   "expires_in": 300})

        return Handler

    def close(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()


@dataclass
class Registry:
    """A running docker-registry: where it listens, where it stores, how to stop it."""

    host: str  # "127.0.0.1:PORT"
    storage: Path
    log: Path
    process: subprocess.Popen[bytes]
    tls: TLSFiles | None = None

    def blob_path(self, digest: str) -> Path:
        """The file holding a blob in the filesystem storage driver's layout."""
        algorithm, _, hexpart = digest.partition(":")
        return (self.storage / "docker" / "registry" / "v2" / "blobs" / algorithm / hexpart[:2]
                / hexpart / "data")

    def stop(self) -> None:
        """Terminate the registry process (and only it)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def _config(port: int, storage: Path, tls: TLSFiles | None, htpasswd: Path | None,
            token: TokenServer | None, notify: list[dict[str, Any]] | None = None
            ) -> dict[str, Any]:
    http: dict[str, Any] = {"addr": f"127.0.0.1:{port}", "secret": secrets.token_hex(16)}
    if tls is not None:
        http["tls"] = {"certificate": str(tls.cert), "key": str(tls.key)}
    config: dict[str, Any] = {
        "version": 0.1,
        "log": {"level": "warn", "accesslog": {"disabled": True}},
        "storage": {"filesystem": {"rootdirectory": str(storage)}, "delete": {"enabled": True},
                    "maintenance": {"uploadpurging": {"enabled": False}}},
        "http": http,
    }
    if htpasswd is not None:
        config["auth"] = {"htpasswd": {"realm": "stackwarden-test", "path": str(htpasswd)}}
    elif token is not None:
        config["auth"] = {"token": {"realm": token.realm, "service": token.service,
                                    "issuer": token.issuer,
                                    "rootcertbundle": str(token.rootcertbundle)}}
    if notify:
        config["notifications"] = {"endpoints": notify}
    return config


@contextmanager
def run_registry(workdir: Path, *, tls: TLSFiles | None = None, htpasswd: Path | None = None,
                 token: TokenServer | None = None, port: int | None = None,
                 notify: list[dict[str, Any]] | None = None) -> Iterator[Registry]:
    """Run docker-registry on a loopback port (random unless given) until the context exits.

    `notify`: notification endpoints (docker-registry's `notifications.endpoints` entries).
    """
    binary = require_registry_binary()
    workdir.mkdir(parents=True, exist_ok=True)
    storage = workdir / "storage"
    storage.mkdir(exist_ok=True)
    chosen = port
    for _attempt in range(3):  # another process may grab the port between probe and bind
        port = chosen or free_port()
        config = workdir / "config.yml"
        config.write_text(yaml.safe_dump(_config(port, storage, tls, htpasswd, token, notify)))
        log = workdir / "registry.log"
        with open(log, "wb") as log_handle:
            process = subprocess.Popen([binary, "serve", str(config)], stdout=log_handle,
                                       stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        registry = Registry(f"127.0.0.1:{port}", storage, log, process, tls)
        if _wait_listening(port, process):
            break
        registry.stop()
    else:
        raise RuntimeError(f"docker-registry did not start: {log.read_text()[-2000:]}")
    try:
        yield registry
    finally:
        registry.stop()


def _wait_listening(port: int, process: subprocess.Popen[bytes], timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def sha256(data: bytes) -> str:
    """`sha256:<hex>` of `data`."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


# --- misbehaving registries ----------------------------------------------------------------

class Stall(bytes):
    """Raw bytes a FakeRegistry sends before going silent with the connection still open."""


Reply = tuple[int, dict[str, str], bytes] | bytes | None  # None: never answer; bytes: raw


@dataclass
class SeenRequest:
    """One request a FakeRegistry received."""

    method: str
    path: str
    headers: dict[str, str]


class FakeRegistry:
    """A plain socket server on loopback whose answers a test scripts, one per connection.

    `respond(request)` returns (status, headers, body), raw bytes to send as they are (a Stall
    then keeps the connection open and silent), or None to accept and never answer. TLS handshakes are refused by closing the connection, as a
    plain-HTTP server would fail them.
    """

    def __init__(self, respond: Any) -> None:
        self.respond = respond
        self.requests: list[SeenRequest] = []
        self._stop = threading.Event()
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self.host = f"127.0.0.1:{self._sock.getsockname()[1]}"
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(10)
            try:
                if conn.recv(1, socket.MSG_PEEK) in (b"\x16", b""):
                    return  # a TLS ClientHello: this server speaks plain HTTP only
                data = b""
                while b"\r\n\r\n" not in data and len(data) < 65536:
                    chunk = conn.recv(4096)
                    if not chunk:
                        return
                    data += chunk
                head, _, body = data.partition(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path = lines[0].split(" ")[:2]
                headers = {k.strip().lower(): v.strip() for k, _, v in
                           (line.partition(":") for line in lines[1:])}
                length = int(headers.get("content-length") or 0)
                while len(body) < length:
                    body += conn.recv(65536)
                request = SeenRequest(method, path, headers)
                self.requests.append(request)
                reply = self.respond(request)
                if reply is None:
                    self._stop.wait(30)
                    return
                if isinstance(reply, bytes):
                    conn.sendall(reply)
                    if isinstance(reply, Stall):
                        self._stop.wait(30)
                    return
                status, extra, payload = reply
                lines = [f"HTTP/1.1 {status} Scripted", f"Content-Length: {len(payload)}",
                         "Connection: close", *(f"{k}: {v}" for k, v in extra.items())]
                conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode()
                             + (b"" if method == "HEAD" else payload))
            except OSError:
                return

    def close(self) -> None:
        """Stop accepting and release hanging connections."""
        self._stop.set()
        self._sock.close()


def layout_responder(layout: Path, repository: str, tag: str) -> Any:
    """A FakeRegistry `respond` serving an OCI layout's image as `repository:tag`."""
    index = json.loads((layout / "index.json").read_text())
    top = index["manifests"][0]

    def blob(digest: str) -> bytes | None:
        path = layout / "blobs" / digest.replace(":", "/")
        return path.read_bytes() if path.is_file() else None

    def respond(request: SeenRequest) -> Reply:
        if request.path == "/v2/":
            return 200, {"Content-Type": "application/json"}, b"{}"
        prefix = f"/v2/{repository}/"
        if not request.path.startswith(prefix):
            return 404, {}, b""
        kind, _, ref = request.path[len(prefix):].partition("/")
        if kind == "manifests":
            digest = top["digest"] if ref == tag else ref
            data = blob(digest)
            if data is None:
                return 404, {}, b""
            media = json.loads(data).get("mediaType", top["mediaType"])
            return 200, {"Content-Type": media, "Docker-Content-Digest": digest}, data
        if kind == "blobs":
            data = blob(ref)
            return (200, {"Content-Type": "application/octet-stream"}, data) if data is not None \
                else (404, {}, b"")
        return 404, {}, b""

    return respond
