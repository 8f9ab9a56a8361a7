"""Registry monitoring's alerts: a golden image changed, an image newly affected after a
database update. Stored in `registry_alerts` (golden images first); a golden image's alert is
also a notification (docs/notifications.md). (docs/registry-monitoring.md)
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from stackwarden.server.auth import iso, utcnow
from stackwarden.server.context import ServerContext
from stackwarden.server.db.registry_models import RegistryAlert
from stackwarden.server.notify import notify

log = logging.getLogger("stackwarden.server.registry_watch")


@dataclass(frozen=True)
class AlertDraft:
    """An alert before it is stored."""

    kind: str
    title: str
    payload: dict[str, Any]
    registry_id: int | None = None
    digest: str = ""
    golden: bool = False


def golden_notification(draft: AlertDraft) -> dict[str, Any]:
    """A golden-image alert as a notification (docs/notifications.md)."""
    from stackwarden.core.findings import Severity

    rank = int(draft.payload.get("worst_severity_rank") or 0)
    severity = next((str(s) for s in Severity if s.rank == rank), "high") if rank else "high"
    items = [{"text": f"{str(f.get('severity', '')).upper()} {f.get('id', '')} "
                      f"{f.get('package') or ''} {f.get('version') or ''}".strip(), **f}
             for f in draft.payload.get("findings") or [] if isinstance(f, dict)]
    asset_id = draft.payload.get("asset_id")
    return {"title": draft.title, "severity": severity,
            "summary": str(draft.payload.get("summary") or draft.title), "items": items,
            "count": len(items), "digest": draft.digest, "kind": draft.kind,
            "path": f"/assets/{asset_id}" if asset_id else "/assets"}


def raise_alerts(ctx: ServerContext, drafts: Sequence[AlertDraft]) -> list[int]:
    """Store alerts (golden images first); a golden image's alert is also queued as a
    notification in the same transaction (sent by the notification dispatcher)."""
    ordered = sorted(drafts, key=lambda d: not d.golden)  # stable: golden first, else as given
    stored = []
    with ctx.db.transaction() as session:
        for draft in ordered:
            row = RegistryAlert(kind=draft.kind, created_at=utcnow(),
                                registry_id=draft.registry_id, digest=draft.digest,
                                golden=draft.golden, title=draft.title[:500],
                                payload=json.dumps(draft.payload, sort_keys=True))
            session.add(row)
            session.flush()
            stored.append((row.id, draft))
            if draft.golden:
                notify(session, "golden_image_threat", golden_notification(draft),
                       group_key=f"golden:{draft.digest or draft.kind}")
    for alert_id, draft in stored:
        log.info("alert %s %s: %s", alert_id, draft.kind, draft.title)
    return [a for a, _ in stored]


def alert_to_dict(row: RegistryAlert) -> dict[str, Any]:
    """The API form of an alert."""
    return {"id": row.id, "kind": row.kind, "created_at": iso(row.created_at),
            "registry_id": row.registry_id, "digest": row.digest or None, "golden": row.golden,
            "title": row.title, "payload": json.loads(row.payload)}
