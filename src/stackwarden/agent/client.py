"""The agent's side of the server API (httpx): enroll, configuration with ETag, event batches,
heartbeats. Every failure becomes one `AgentError` line; the credential never appears in one."""

from __future__ import annotations

import ipaddress
import ssl
from typing import Any
from urllib.parse import urlsplit

import httpx

from stackwarden import __version__
from stackwarden.core.errors import StackWardenError, UsageError

API = "/api/v1/agents"


class AgentError(StackWardenError):
    """The server could not be reached, or refused what the agent sent."""


class ServerUnreachable(AgentError):
    """No answer: connection refused, DNS, TLS, time-out."""


class ServerRefused(AgentError):
    """The server answered with an error status."""

    def __init__(self, message: str, *, status: int, code: str = "",
                 retry_after: float | None = None, source: str | None = None) -> None:
        super().__init__(message, source=source)
        self.status, self.code, self.retry_after = status, code, retry_after

    @property
    def retryable(self) -> bool:
        """Worth trying the same request again later (the server or a proxy was unwell)."""
        return self.status >= 500 or self.status in (408, 409, 425, 429)


def check_server_url(url: str, *, allow_http: bool = False) -> str:
    """The base URL, refusing plain HTTP to anything but loopback (the credential would travel
    in clear) unless `allow_http`."""
    url = url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError("the server URL must look like https://HOST[:PORT]", source=url)
    if parts.scheme == "http" and not allow_http and not _loopback(parts.hostname):
        raise UsageError("refusing plain HTTP to a non-loopback server (the credential would "
                         "travel in clear); use https:// or --allow-http", source=url)
    return url


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _reason(response: httpx.Response) -> tuple[str, str]:
    try:
        error = response.json()["error"]
        return f"{error['message']} (HTTP {response.status_code} {error['code']})", \
            str(error["code"])
    except (ValueError, KeyError, TypeError):
        return f"HTTP {response.status_code}", ""


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


class AgentClient:
    """One keep-alive HTTP client to the server."""

    def __init__(self, server: str, credential: str | None = None, *,
                 ca_cert: str | None = None, allow_http: bool = False,
                 timeout: float = 30.0) -> None:
        self.server = check_server_url(server, allow_http=allow_http)
        verify: ssl.SSLContext | bool = True
        if ca_cert:
            try:
                verify = ssl.create_default_context(cafile=ca_cert)
            except (OSError, ssl.SSLError) as exc:
                raise UsageError(f"cannot load the CA certificates: {exc}",
                                 source=ca_cert) from None
        headers = {"User-Agent": f"stackwarden-agent/{__version__}"}
        if credential:
            headers["Authorization"] = f"Bearer {credential}"
        self.http = httpx.Client(base_url=self.server, verify=verify, headers=headers,
                                 timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)))

    def close(self) -> None:
        """Close the connections."""
        self.http.close()

    def __enter__(self) -> AgentClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def request(self, method: str, path: str, *, ok: tuple[int, ...] = (200,),
                **kwargs: Any) -> httpx.Response:
        """One call; ServerUnreachable or ServerRefused (with status) unless the status is ok."""
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.TimeoutException:
            raise ServerUnreachable("the server did not answer in time",
                                    source=self.server) from None
        except httpx.HTTPError as exc:
            cause = exc.__cause__ or exc.__context__
            detail = f"{type(exc).__name__}" + (f" ({cause})" if cause else "")
            if isinstance(cause, ssl.SSLError) or "CERTIFICATE" in str(cause):
                detail = f"TLS failed: {cause}"
            raise ServerUnreachable(f"cannot reach the server: {detail}"[:300],
                                    source=self.server) from None
        if response.status_code not in ok:
            message, code = _reason(response)
            raise ServerRefused(f"the server refused {method} {path}: {message}",
                                status=response.status_code, code=code,
                                retry_after=_retry_after(response), source=self.server)
        return response

    def _json(self, response: httpx.Response) -> dict[str, Any]:
        try:
            value = response.json()
        except ValueError:
            raise ServerRefused("the server's answer is not JSON", status=response.status_code,
                                source=self.server) from None
        if not isinstance(value, dict):
            raise ServerRefused("the server's answer is not a JSON object",
                                status=response.status_code, source=self.server)
        return value

    def enroll(self, token: str, host: dict[str, str]) -> dict[str, Any]:
        """Spend an enrollment token; the server's answer holds the credential."""
        answer = self._json(self.request("POST", f"{API}/enroll", ok=(201,),
                                         json={"token": token, **host}))
        if not str(answer.get("credential", "")).startswith("swt_"):
            raise ServerRefused("the server's enrollment answer has no credential",
                                status=201, source=self.server)
        return answer

    def config(self, etag: str | None) -> tuple[Any, str] | None:
        """(document, etag) of the agent's configuration, or None when `etag` is current."""
        headers = {"If-None-Match": etag} if etag else {}
        response = self.request("GET", f"{API}/config", ok=(200, 304), headers=headers)
        if response.status_code == 304:
            return None
        try:
            document = response.json()
        except ValueError:
            raise ServerRefused("the configuration the server sent is not JSON",
                                status=200, source=self.server) from None
        return document, response.headers.get("etag", "")

    def send_events(self, gzipped: bytes) -> dict[str, Any]:
        """POST a gzip-compressed batch; the server's count of accepted, duplicate, rejected."""
        return self._json(self.request(
            "POST", f"{API}/events", content=gzipped,
            headers={"Content-Type": "application/json", "Content-Encoding": "gzip"}))

    def heartbeat(self, status: dict[str, Any]) -> dict[str, Any]:
        """Report the agent's status; the answer carries the configuration's current ETag."""
        return self._json(self.request("POST", f"{API}/heartbeat", json={"status": status}))
