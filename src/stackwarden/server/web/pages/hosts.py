"""Hosts: monitored hosts with their agent's status, last contact, open alerts and
vulnerabilities; one host's latest inventory, FIM changes, alerts, incidents and
vulnerabilities. The same query functions as /api/v1/hosts (docs/agent.md)."""

from __future__ import annotations

import json
import zlib
from typing import Annotated, Any

from fastapi import Query
from fastapi.responses import Response
from sqlalchemy import select

from stackwarden.server.api import hosts as api
from stackwarden.server.api.deps import IdPath
from stackwarden.server.db.agent_models import HostInventory
from stackwarden.server.db.models import Asset
from stackwarden.server.errors import not_found
from stackwarden.server.teams import asset_visibility, can_see
from stackwarden.server.web.charts import SEVERITY_ORDER
from stackwarden.server.web.core import Page, PageDep, nav, router

nav("Hosts", "/hosts", order=25)
PAGE = 50
SHOWN = 50  # FIM changes, alerts, incidents, vulnerabilities on the host page


@router.get("/hosts")
def hosts_list(page: PageDep, page_number: Annotated[int, Query(alias="page")] = 1) -> Response:
    """Hosts, newest first: agent status, last seen, silent flag, open alerts, vulnerabilities."""
    number = page_number if 0 < page_number < 100000 else 1
    with page.ctx.db.session() as session:
        rows = list(session.execute(
            select(Asset).where(Asset.kind == "host", asset_visibility(session, page.who))
            .order_by(Asset.id.desc()).offset((number - 1) * PAGE).limit(PAGE + 1)).scalars())
        summaries = api.host_summaries(session, [a.id for a in rows[:PAGE]])
        hosts = [api.host_to_dict(a, summaries[a.id]) for a in rows[:PAGE]]
    return page.render("hosts.html", title="Hosts", hosts=hosts, more=len(rows) > PAGE,
                       number=number, severities=SEVERITY_ORDER)


def _visible_host(page: Page, session: Any, host_id: int) -> Asset:
    asset = session.get(Asset, host_id)
    if asset is None or asset.kind != "host" or not can_see(session, page.who, asset):
        raise not_found(f"host {host_id}")
    return asset


def inventory_summary(document: dict[str, Any]) -> dict[str, Any]:
    """What the host page shows of an inventory snapshot (agent/inventory/model.py): OS,
    item counts per section, listening sockets, users, notes (the whole snapshot is at
    /api/v1/hosts/{id}/inventory)."""
    sections = document.get("sections")
    sections = sections if isinstance(sections, dict) else {}

    def items(name: str) -> list[dict[str, Any]]:
        value = sections.get(name)
        return [i for i in value if isinstance(i, dict)] if isinstance(value, list) else []

    os_info, host = document.get("os"), document.get("host")
    notes = document.get("notes")
    return {"os": os_info if isinstance(os_info, dict) else {},
            "host": host if isinstance(host, dict) else {},
            "counts": {name: len(v) for name, v in sections.items() if isinstance(v, list)},
            "listening": items("listening")[:SHOWN * 2], "users": items("users")[:SHOWN * 2],
            "notes": [str(n) for n in notes][:20] if isinstance(notes, list) else []}


@router.get("/hosts/{host_id}")
def host_detail(host_id: IdPath, page: PageDep) -> Response:
    """One host: agents, inventory summary, FIM changes, alerts, incidents, vulnerabilities."""
    with page.ctx.db.session() as session:
        asset = _visible_host(page, session, host_id)
        row = session.get(HostInventory, host_id)
        inventory = None
        if row is not None:
            try:
                document = json.loads(zlib.decompress(row.data))
            except (ValueError, zlib.error):
                document = {}
            inventory = {"taken_at": row.taken_at,
                         **inventory_summary(document if isinstance(document, dict) else {})}
    host = api.get_host(host_id, page.ctx, page.who)
    fim = api.host_fim(host_id, page.ctx, path=None, limit=SHOWN, before=None, caller=page.who)
    alerts = api.host_alerts(host_id, page.ctx, state=None, limit=SHOWN, before=None,
                             caller=page.who)
    incidents = api.host_incidents(host_id, page.ctx, limit=SHOWN, caller=page.who)
    vulns = api.host_vulnerabilities(host_id, page.ctx, state=None, limit=SHOWN, cursor=None,
                                     caller=page.who)
    return page.render("host.html", title=asset.name, asset=asset, host=host,
                       inventory=inventory, fim=fim["items"], alerts=alerts["items"],
                       incidents=incidents["items"], vulns=vulns["items"],
                       vulns_more=vulns["next_cursor"] is not None, severities=SEVERITY_ORDER)
