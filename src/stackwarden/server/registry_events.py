"""Push notifications from registries: Docker Distribution envelopes and Harbor webhooks.

Each watched registry has its own notification token (`swn_…`), sent as the
`Authorization` header the registry is configured with. A notification without it, with a
wrong one, or for a registry that is not watched is rejected and recorded; an accepted one
queues a scan of each pushed digest at once (no waiting for the interval).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from stackwarden.artifact.registry_client import DIGEST, REPOSITORY, TAG
from stackwarden.core.errors import StackWardenError
from stackwarden.server.auth import utcnow
from stackwarden.server.context import ServerContext
from stackwarden.server.db.registry_models import RegistryNotification, WatchedRegistry
from stackwarden.server.registry_watch import (
    notify_token_valid,
    queue_images,
    queue_sweep,
    record_tags,
    repository_selected,
    submit_jobs,
)

MAX_EVENTS = 1000


class NotificationError(StackWardenError):
    """A notification body that is neither format (the message says what was wrong)."""


@dataclass(frozen=True, slots=True)
class PushEvent:
    """One image pushed: repository, tag (may be empty) and manifest digest (may be empty)."""

    repository: str
    tag: str
    digest: str


def _valid(repository: str, tag: str, digest: str) -> bool:
    return (bool(REPOSITORY.fullmatch(repository)) and (not tag or bool(TAG.fullmatch(tag)))
            and (not digest or bool(DIGEST.fullmatch(digest))) and bool(tag or digest))


def _distribution(doc: dict[str, Any]) -> list[PushEvent]:
    events = []
    for event in doc["events"][:MAX_EVENTS]:
        if not isinstance(event, dict) or event.get("action") != "push":
            continue
        target = event.get("target")
        if not isinstance(target, dict):
            continue
        repo, tag = str(target.get("repository") or ""), str(target.get("tag") or "")
        digest = str(target.get("digest") or "")
        media = str(target.get("mediaType") or "")
        # layer uploads are events too: only manifests (and indexes) name an image
        if not tag and ("manifest" not in media and "index" not in media):
            continue
        if _valid(repo, tag, digest):
            events.append(PushEvent(repo, tag, digest))
    return events


def _harbor(doc: dict[str, Any]) -> list[PushEvent]:
    if str(doc.get("type", "")).upper() not in ("PUSH_ARTIFACT", "PUSHIMAGE"):
        return []
    data = doc.get("event_data")
    if not isinstance(data, dict):
        raise NotificationError("a Harbor webhook without event_data")
    repository = data.get("repository") if isinstance(data.get("repository"), dict) else {}
    full = str(repository.get("repo_full_name") or "")
    if not full and repository.get("name"):
        full = "/".join(p for p in (str(repository.get("namespace") or ""),
                                    str(repository["name"])) if p)
    events = []
    for resource in (data.get("resources") or [])[:MAX_EVENTS]:
        if not isinstance(resource, dict):
            continue
        tag, digest = str(resource.get("tag") or ""), str(resource.get("digest") or "")
        if _valid(full, tag, digest):
            events.append(PushEvent(full, tag, digest))
    return events


def parse_notification(body: bytes) -> tuple[str, list[PushEvent]]:
    """(format, push events) from a notification body."""
    try:
        doc = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise NotificationError("the notification is not UTF-8 JSON") from None
    if isinstance(doc, dict) and isinstance(doc.get("events"), list):
        return "distribution", _distribution(doc)
    if isinstance(doc, dict) and "event_data" in doc and "type" in doc:
        return "harbor", _harbor(doc)
    raise NotificationError("neither a Docker Distribution envelope ({\"events\": […]}) nor a "
                            "Harbor webhook ({\"type\", \"event_data\"})")


def _record(ctx: ServerContext, registry_id: int | None, remote: str, fmt: str, accepted: bool,
            reason: str, events: int = 0, queued: int = 0) -> None:
    with ctx.db.transaction() as session:
        session.add(RegistryNotification(received_at=utcnow(), registry_id=registry_id,
                                         remote=remote[:100], format=fmt, accepted=accepted,
                                         reason=reason[:500], events=events, queued=queued))
        if not accepted:
            ctx.audit.append(session, "anonymous", "registry.notification_rejected",
                             f"registry:{registry_id or 'unknown'}",
                             {"remote": remote[:100], "reason": reason[:500]})


def _presented(authorization: str | None) -> str:
    value = (authorization or "").strip()
    scheme, _, rest = value.partition(" ")
    return rest.strip() if scheme.lower() == "bearer" and rest else value


def authenticate_notification(ctx: ServerContext, registry_id: int,
                              authorization: str | None, remote: str) -> WatchedRegistry | None:
    """The registry a notification is for, or None when it is rejected (and recorded)."""
    token = _presented(authorization)
    with ctx.db.session() as session:
        row = session.get(WatchedRegistry, registry_id)
        if row is not None:
            session.expunge(row)
    if row is None or not token or not notify_token_valid(row, token):
        reason = ("no notification token" if not token else
                  "unknown registry" if row is None else "wrong notification token")
        _record(ctx, registry_id if row is not None else None, remote, "", False, reason)
        return None
    return row


def receive_notification(ctx: ServerContext, row: WatchedRegistry, body: bytes,
                         remote: str) -> dict[str, Any]:
    """Parse and act on one authenticated notification: queue each pushed digest now."""
    registry_id = row.id
    try:
        fmt, events = parse_notification(body)
    except NotificationError as exc:
        _record(ctx, registry_id, remote, "", False, exc.message)
        raise
    include, exclude = json.loads(row.include), json.loads(row.exclude)
    chosen = [e for e in events if repository_selected(e.repository, include, exclude)]
    jobs: list[str] = []
    need_sweep = any(not e.digest for e in chosen)
    with ctx.db.transaction() as session:
        by_repo: dict[str, dict[str, str]] = {}
        digests: dict[str, list[str]] = {}
        for event in chosen:
            if not event.digest:
                continue
            digests.setdefault(event.repository, []).append(event.digest)
            if event.tag:
                by_repo.setdefault(event.repository, {})[event.tag] = event.digest
        for repository, found in digests.items():
            record_tags(session, registry_id, repository, by_repo.get(repository, {}),
                        complete=False)
            jobs += queue_images(session, registry_id, repository, found,
                                 f"registry:{row.name}", ctx.audit)
    _record(ctx, registry_id, remote, fmt, True, "", len(events), len(jobs))
    submit_jobs(ctx, jobs)
    sweep = queue_sweep(ctx, registry_id, f"registry:{row.name}")["id"] if need_sweep else None
    return {"format": fmt, "events": len(events), "selected": len(chosen), "queued": len(jobs),
            "sweep_job": sweep}
