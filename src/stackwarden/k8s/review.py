"""AdmissionReview (admission.k8s.io/v1) on the wire: read a request, write a response.

A body that is not a well-formed AdmissionReview raises `MalformedReview` with the reason and
whatever `uid` could still be recovered, so the webhook always answers a well-formed review
(a denial, or an allow in audit mode), never an HTTP error the API server cannot explain.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

API_VERSIONS = ("admission.k8s.io/v1", "admission.k8s.io/v1beta1")
MAX_BODY_BYTES = 8 * 1024 * 1024  # objects are at most ~3 MiB; UPDATE sends two
# Kubernetes documents these limits for warnings: 256 characters each, 4096 in all.
MAX_WARNING_CHARS = 256
MAX_WARNINGS_TOTAL = 4000
MAX_MESSAGE_CHARS = 3000
_UID = re.compile(rb'"uid"\s*:\s*"([A-Za-z0-9._:-]{1,128})"')


class MalformedReview(Exception):
    """The body is not an AdmissionReview we can judge (the reason is user-facing)."""

    def __init__(self, reason: str, uid: str = "", api_version: str = API_VERSIONS[0]) -> None:
        super().__init__(reason)
        self.reason = reason
        self.uid = uid
        self.api_version = api_version


@dataclass(frozen=True, slots=True)
class AdmissionRequest:
    """The parts of `request` the webhook uses."""

    uid: str
    api_version: str
    operation: str
    kind: str  # request.kind.kind (e.g. Pod)
    namespace: str
    name: str
    sub_resource: str
    username: str
    dry_run: bool
    object: Mapping[str, Any] | None
    old_object: Mapping[str, Any] | None
    resource: str = ""  # request.resource.resource (e.g. pods)
    groups: tuple[str, ...] = field(default=())


def recover_uid(body: bytes) -> str:
    """The first `"uid": "…"` in the body's head (the request's, as the API server writes it)."""
    found = _UID.search(body[:65536])
    return found.group(1).decode() if found else ""


def _text(raw: Mapping[str, Any], key: str, where: str, uid: str, version: str,
          *, required: bool = False) -> str:
    value = raw.get(key)
    if value is None:
        if required:
            raise MalformedReview(f"{where}.{key} is missing", uid, version)
        return ""
    if not isinstance(value, str):
        raise MalformedReview(f"{where}.{key} must be a string", uid, version)
    return value


def parse_review(body: bytes) -> AdmissionRequest:
    """Read an AdmissionReview; MalformedReview says what is wrong (and keeps the uid)."""
    if len(body) > MAX_BODY_BYTES:
        raise MalformedReview(f"request body larger than {MAX_BODY_BYTES // 2**20} MiB",
                              recover_uid(body))
    try:
        doc = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        where = f" at line {exc.lineno} column {exc.colno}" if isinstance(
            exc, json.JSONDecodeError) else ""
        raise MalformedReview(f"body is not JSON{where}", recover_uid(body)) from None
    except RecursionError:
        raise MalformedReview("body is nested too deeply", recover_uid(body)) from None
    if not isinstance(doc, dict):
        raise MalformedReview("body is not a JSON object", recover_uid(body))
    request = doc.get("request")
    uid = request.get("uid") if isinstance(request, dict) else None
    uid = uid if isinstance(uid, str) and len(uid) <= 128 else ""
    version = doc.get("apiVersion")
    if version not in API_VERSIONS:
        raise MalformedReview(f"apiVersion must be {API_VERSIONS[0]}, not {version!r}"[:300],
                              uid)
    if doc.get("kind") != "AdmissionReview":
        raise MalformedReview(f"kind must be AdmissionReview, not {doc.get('kind')!r}"[:300],
                              uid, version)
    if not isinstance(request, dict):
        raise MalformedReview("request is missing or not an object", uid, version)
    if not uid:
        raise MalformedReview("request.uid is missing or not a string", uid, version)
    kind = request.get("kind")
    if not isinstance(kind, dict) or not isinstance(kind.get("kind"), str):
        raise MalformedReview("request.kind.kind is missing", uid, version)
    resource = request.get("resource")
    operation = _text(request, "operation", "request", uid, version, required=True)
    if operation not in ("CREATE", "UPDATE", "DELETE", "CONNECT"):
        raise MalformedReview(f"request.operation {operation[:40]!r} is not CREATE, UPDATE, "
                              "DELETE or CONNECT", uid, version)
    user = request.get("userInfo") if isinstance(request.get("userInfo"), dict) else {}
    assert isinstance(user, dict)
    groups = user.get("groups") if isinstance(user.get("groups"), list) else []
    assert isinstance(groups, list)
    obj, old = request.get("object"), request.get("oldObject")
    for key, value in (("object", obj), ("oldObject", old)):
        if value is not None and not isinstance(value, dict):
            raise MalformedReview(f"request.{key} must be an object or null", uid, version)
    if operation in ("CREATE", "UPDATE") and obj is None:
        raise MalformedReview(f"request.object is missing for {operation}", uid, version)
    dry_run = request.get("dryRun", False)
    return AdmissionRequest(
        uid=uid, api_version=version, operation=operation, kind=kind["kind"],
        namespace=_text(request, "namespace", "request", uid, version),
        name=_text(request, "name", "request", uid, version),
        sub_resource=_text(request, "subResource", "request", uid, version),
        username=str(user.get("username") or ""), dry_run=dry_run is True,
        object=obj, old_object=old,
        resource=str(resource.get("resource") or "") if isinstance(resource, dict) else "",
        groups=tuple(str(g) for g in groups))


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, with an ellipsis when cut."""
    return text if len(text) <= limit else text[:limit - 1] + "…"


def fit_warnings(warnings: list[str]) -> list[str]:
    """Warnings the API server will pass on whole: each ≤ 256 characters, ≤ ~4 KiB in all."""
    out: list[str] = []
    total = 0
    for i, warning in enumerate(warnings):
        item = clip(warning, MAX_WARNING_CHARS)
        if total + len(item) > MAX_WARNINGS_TOTAL - 64:
            out.append(f"stackwarden: {len(warnings) - i} more warnings in the decision log")
            break
        out.append(item)
        total += len(item)
    return out


def build_response(uid: str, allowed: bool, *, message: str = "", warnings: Sequence[str] = (),
                   code: int = 403, api_version: str = API_VERSIONS[0]) -> dict[str, Any]:
    """The AdmissionReview the webhook answers with (`status` only on a denial)."""
    response: dict[str, Any] = {"uid": uid, "allowed": allowed}
    if not allowed:
        response["status"] = {"code": code, "reason": "Forbidden" if code == 403 else "BadRequest",
                              "message": clip(message, MAX_MESSAGE_CHARS)}
    if warnings:
        response["warnings"] = fit_warnings(list(warnings))
    return {"apiVersion": api_version, "kind": "AdmissionReview", "response": response}
