"""HTTP to one registry host: TLS rules, the HTTPS-then-HTTP probe, retries, bounded reads."""

from __future__ import annotations

import email.utils
import ipaddress
import json
import logging
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn, Self

import httpx

from stackwarden import __version__
from stackwarden.core.config import DEFAULT_LIMITS, Limits
from stackwarden.core.errors import LimitExceeded, RegistryError

log = logging.getLogger(__name__)

CHUNK = 1024 * 1024
MAX_SMALL_BODY = 1024 * 1024  # tokens, tag list pages, error documents

Content = bytes | Callable[[], Iterable[bytes]] | None  # a callable makes a fresh body per retry


@dataclass(frozen=True)
class RegistryOptions:
    """How to talk to registries: credentials, TLS rules, timeouts and retries."""

    username: str | None = None
    password: str | None = field(default=None, repr=False)
    insecure: bool = False  # allow plain HTTP and unverified TLS for any host
    docker_config: Path | None = None  # config.json, or the directory holding it
    timeout: float = 30.0  # seconds, for connecting and for each read
    ca_bundle: Path | None = None  # extra CAs (SSL_CERT_FILE works too)
    retries: int = 3  # after connection errors, 429 and 5xx
    backoff: float = 0.5  # first wait; doubles each retry
    max_retry_wait: float = 60.0  # a longer Retry-After is an error, not a wait


DEFAULT_OPTIONS = RegistryOptions()


def is_loopback(host: str) -> bool:
    """Whether `host` (with or without a port) is localhost, 127.0.0.0/8 or ::1."""
    name = host
    if name.startswith("["):
        name = name[1:name.find("]")] if "]" in name else name[1:]
    elif name.count(":") == 1:
        name = name.split(":", 1)[0]
    if name.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class _NotTLS(Exception):
    """The HTTPS probe of a host that may speak plain HTTP failed (internal)."""


def _ssl_cause(exc: BaseException) -> ssl.SSLError | None:
    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            return None
        if isinstance(seen, ssl.SSLError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class RegistryTransport:
    """HTTP to one registry host (thread-safe): TLS rules, retries, timeouts, bounded reads.

    HTTPS always; plain HTTP only for loopback hosts or with `insecure`, after HTTPS failed.
    Auth is the subclass's business (`RegistryClient`); this layer never adds credentials.
    """

    def __init__(self, host: str, *, options: RegistryOptions = DEFAULT_OPTIONS,
                 limits: Limits = DEFAULT_LIMITS, label: str | None = None) -> None:
        self.host = host
        self.options = options
        self.limits = limits
        self.label = label
        self.plain_allowed = options.insecure or is_loopback(host)
        verify: ssl.SSLContext | bool = not options.insecure
        if options.ca_bundle is not None and not options.insecure:
            verify = ssl.create_default_context()
            verify.load_verify_locations(cafile=str(options.ca_bundle))
        self._http = httpx.Client(timeout=httpx.Timeout(options.timeout), verify=verify,
                                  follow_redirects=True, max_redirects=5, trust_env=True,
                                  headers={"User-Agent": f"stackwarden/{__version__}"})
        self._lock = threading.RLock()
        self._base: str | None = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def where(self, repository: str | None = None, reference: str | None = None) -> str:
        """What error messages name: the caller's label, else host/repository[:ref]."""
        if self.label:
            return self.label
        name = f"{self.host}/{repository}" if repository else self.host
        if reference:
            name += ("@" if ":" in reference else ":") + reference
        return name

    def _secrets(self) -> list[str]:
        """Every secret this connection holds (the auth layer lists them)."""
        return []

    def _scrub(self, text: str) -> str:
        """Remove every secret we hold from a message (registries may echo what they got)."""
        for secret in sorted({s for s in self._secrets() if len(s) >= 4}, key=len, reverse=True):
            text = text.replace(secret, "***")
            text = text.replace(secret.split(" ", 1)[-1], "***")
        return text

    # --- transport: one exchange with retries, no auth -------------------------------------

    def _exchange(self, method: str, url: str, headers: dict[str, str], content: Content, *,
                  what: str, where: str, probe: bool = False) -> httpx.Response:
        """Send a request, retrying connection errors, 429 and 5xx; returns a streaming response."""
        attempts = 1 if probe else self.options.retries + 1
        for attempt in range(attempts):
            body = content() if callable(content) else content
            try:
                request = self._http.build_request(method, url, headers=headers, content=body)
                response = self._http.send(request, stream=True)
            except httpx.TransportError as exc:
                cause = _ssl_cause(exc)
                if isinstance(cause, ssl.SSLCertVerificationError):
                    raise RegistryError(
                        f"{what}: the TLS certificate of {self.host} is not trusted "
                        f"({cause.verify_message or cause.reason}); add its CA with SSL_CERT_FILE "
                        "or a CA bundle, or allow it with --insecure", source=where) from None
                if probe:
                    raise _NotTLS() from exc
                if isinstance(exc, httpx.TimeoutException):
                    raise RegistryError(f"{what}: no answer from {self.host} within "
                                        f"{self.options.timeout:g}s", source=where) from None
                reason = f"TLS failure: {cause.reason or cause}" if cause else str(exc) or \
                    type(exc).__name__
                if attempt + 1 < attempts and isinstance(exc, (httpx.ConnectError,
                                                               httpx.RemoteProtocolError,
                                                               httpx.ReadError)):
                    self._pause(self._backoff(attempt), what, reason, attempt, attempts)
                    continue
                raise RegistryError(f"{what}: cannot talk to {self.host}: {reason}",
                                    source=where) from None
            except httpx.HTTPError as exc:  # too many redirects, an invalid redirect URL, ...
                raise RegistryError(f"{what}: {type(exc).__name__}: {exc}", source=where) from None
            status = response.status_code
            if (status == 429 or status >= 500) and attempt + 1 < attempts:
                wait = _retry_after(response)
                response.close()
                if wait is not None and wait > self.options.max_retry_wait:
                    raise RegistryError(f"{what}: HTTP {status}; the registry asks to retry after "
                                        f"{wait:.0f}s, longer than we wait", source=where)
                self._pause(self._backoff(attempt) if wait is None else wait, what,
                            f"HTTP {status}", attempt, attempts)
                continue
            return response
        raise AssertionError("unreachable")  # the last attempt returns or raises

    def _backoff(self, attempt: int) -> float:
        return min(self.options.backoff * 2 ** attempt, self.options.max_retry_wait)

    @staticmethod
    def _pause(seconds: float, what: str, reason: str, attempt: int, attempts: int) -> None:
        log.warning("%s: %s; retrying in %.2fs (attempt %d of %d)", what, reason, seconds,
                    attempt + 2, attempts)
        time.sleep(seconds)

    def base_url(self) -> str:
        """`https://host` or (loopback / insecure, when HTTPS fails) `http://host`."""
        with self._lock:
            if self._base is None:
                self._base = self._ping()
            return self._base

    def _ping(self) -> str:
        where, what = self.where(), f"contacting registry {self.host}"
        base = f"https://{self.host}"
        try:
            response = self._exchange("GET", base + "/v2/", {}, None, what=what, where=where,
                                      probe=self.plain_allowed)
        except _NotTLS:
            base = f"http://{self.host}"
            response = self._exchange("GET", base + "/v2/", {}, None, what=what, where=where)
        try:
            if response.status_code == 401:
                self._challenged(response)
            elif response.status_code >= 500 or response.status_code == 404:
                self._fail(response, what, where)
        finally:
            response.close()
        return base

    def _challenged(self, response: httpx.Response) -> None:
        """The ping was answered 401: the auth layer reads the challenges."""

    def _read(self, response: httpx.Response, limit: int, what: str, where: str) -> bytes:
        """Read a small body whole, refusing one past `limit` bytes; closes the response."""
        try:
            length = response.headers.get("content-length", "")
            if length.isdigit() and int(length) > limit:
                raise LimitExceeded(f"{what}: {length} bytes is over the {limit}-byte limit",
                                    source=where)
            chunks, total = [], 0
            for chunk in response.iter_bytes():
                total += len(chunk)
                if total > limit:
                    raise LimitExceeded(f"{what}: more than the {limit}-byte limit",
                                        source=where)
                chunks.append(chunk)
            return b"".join(chunks)
        except httpx.TimeoutException:
            raise RegistryError(f"{what}: the registry stopped answering (no data within "
                                f"{self.options.timeout:g}s)", source=where) from None
        except httpx.HTTPError as exc:
            raise RegistryError(f"{what}: transfer failed: {exc}", source=where) from None
        finally:
            response.close()

    def _fail(self, response: httpx.Response, what: str, where: str) -> NoReturn:
        """Raise one line describing an unexpected answer (registry error codes when given)."""
        ctype = response.headers.get("content-type", "").split(";")[0].strip()
        try:
            body = self._read(response, 64 * 1024, what, where)
        except (RegistryError, LimitExceeded):
            body = b""
        detail = ""
        try:
            errors = json.loads(body).get("errors")
            detail = "; ".join(f"{e.get('code', '?')}: {e.get('message', '')}"[:200]
                               for e in errors[:3] if isinstance(e, dict))
        except (ValueError, UnicodeDecodeError, AttributeError, TypeError):
            detail = f"answered {ctype or 'no content type'}" if body else ""
        status = f"HTTP {response.status_code} {response.reason_phrase}".strip()
        raise RegistryError(self._scrub(f"{what} failed: {status}" + (f" ({detail})" if detail
                                                                      else "")), source=where)

