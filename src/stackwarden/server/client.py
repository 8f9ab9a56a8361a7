"""A small client for the server API: `stackwarden scan --server URL --token TOKEN` uploads."""

from __future__ import annotations

import json
from typing import Any

import httpx

from stackwarden.core.errors import StackWardenError

DEFAULT_TIMEOUT = 120.0


class UploadError(StackWardenError):
    """The server refused or could not take a report (the token is never in the message)."""


def _base(url: str) -> str:
    url = url.rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise UploadError("the server URL must start with http:// or https://", source=url)
    return url


def _reason(response: httpx.Response) -> str:
    try:
        error = response.json()["error"]
        return f"{error['message']} ({response.status_code} {error['code']})"
    except (ValueError, KeyError, TypeError):
        return f"HTTP {response.status_code}"


def upload_report(url: str, token: str, report: bytes, *, wait: bool = True,
                  timeout: float = DEFAULT_TIMEOUT, gate: dict[str, Any] | None = None
                  ) -> dict[str, Any]:
    """POST a JSON scan report to `url`/api/v1/scans; returns the server's answer.

    `gate`: the pipeline gate's decision, sent with the report (the dashboard's pass rate).
    """
    base = _base(url)
    if gate is not None:
        doc = json.loads(report)
        doc["gate"] = gate
        report = json.dumps(doc, ensure_ascii=False).encode()
    try:
        response = httpx.post(f"{base}/api/v1/scans", content=report,
                              params={"wait": str(wait).lower()}, timeout=timeout,
                              headers={"Authorization": f"Bearer {token}",
                                       "Content-Type": "application/json"})
    except httpx.HTTPError as exc:
        raise UploadError(f"cannot reach the server: {type(exc).__name__}", source=base) from None
    if response.status_code not in (201, 202):
        raise UploadError(f"upload refused: {_reason(response)}", source=base)
    answer: dict[str, Any] = response.json()
    return answer


def download(url: str, token: str, path: str, *, timeout: float = DEFAULT_TIMEOUT) -> bytes:
    """GET an API path (e.g. /api/v1/audit/export) and return the body."""
    base = _base(url)
    try:
        response = httpx.get(f"{base}{path}", timeout=timeout,
                             headers={"Authorization": f"Bearer {token}"})
    except httpx.HTTPError as exc:
        raise UploadError(f"cannot reach the server: {type(exc).__name__}", source=base) from None
    if response.status_code != 200:
        raise UploadError(f"request refused: {_reason(response)}", source=base)
    return response.content


def call_api(url: str, token: str, method: str, path: str, *, body: Any = None,
             params: dict[str, Any] | None = None, timeout: float = DEFAULT_TIMEOUT) -> Any:
    """One JSON API call (`path` under the server URL); the answer's JSON, None for 204."""
    base = _base(url)
    try:
        response = httpx.request(method, f"{base}{path}", json=body, params=params,
                                 timeout=timeout, headers={"Authorization": f"Bearer {token}"})
    except httpx.HTTPError as exc:
        raise UploadError(f"cannot reach the server: {type(exc).__name__}", source=base) from None
    if response.status_code >= 400:
        raise UploadError(f"request refused: {_reason(response)}", source=f"{method} {path}")
    return None if response.status_code == 204 or not response.content else response.json()
