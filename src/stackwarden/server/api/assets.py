"""/api/v1/assets: images (by digest, with tags), repositories, hosts, clusters."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy import func, select

from stackwarden.server.api.deps import Ctx, IdPath, requires
from stackwarden.server.auth import Principal, iso
from stackwarden.server.db.models import Asset, AssetTag, FindingRow
from stackwarden.server.errors import not_found

router = APIRouter(tags=["assets"])
Reader = Depends(requires("read"))


def asset_to_dict(asset: Asset, tags: list[str]) -> dict[str, Any]:
    """The API form of an asset."""
    return {"id": asset.id, "kind": asset.kind, "name": asset.name, "key": asset.key,
            "digest": asset.digest, "tags": tags, "created_at": iso(asset.created_at),
            "last_scan_at": iso(asset.last_scan_at), "last_scan_id": asset.last_scan_id}


@router.get("/assets")
def list_assets(ctx: Ctx, kind: str | None = Query(None, max_length=32),
                name: str | None = Query(None, max_length=500),
                limit: Annotated[int, Query(ge=1, le=500)] = 50,
                before: Annotated[int | None, Query(ge=1, le=2**62)] = None,
                caller: Principal = Reader) -> dict[str, Any]:
    """Assets, newest first; `name` matches a name prefix."""
    query = select(Asset).order_by(Asset.id.desc()).limit(limit + 1)
    if kind:
        query = query.where(Asset.kind == kind)
    if name:
        escaped = name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(Asset.name.like(escaped + "%", escape="\\"))
    if before:
        query = query.where(Asset.id < before)
    with ctx.db.session() as session:
        rows = list(session.execute(query).scalars())
        tags: dict[int, list[str]] = {}
        ids = [a.id for a in rows[:limit]]
        for asset_id, tag in session.execute(select(AssetTag.asset_id, AssetTag.tag)
                                             .where(AssetTag.asset_id.in_(ids or [0]))
                                             .order_by(AssetTag.tag)):
            tags.setdefault(asset_id, []).append(tag)
    items = [asset_to_dict(a, tags.get(a.id, [])) for a in rows[:limit]]
    return {"items": items, "next_before": items[-1]["id"] if len(rows) > limit else None}


@router.get("/assets/{asset_id}")
def get_asset(asset_id: IdPath, ctx: Ctx, caller: Principal = Reader) -> dict[str, Any]:
    """One asset with its tags and finding counts by state and severity."""
    with ctx.db.session() as session:
        asset = session.get(Asset, asset_id)
        if asset is None:
            raise not_found(f"asset {asset_id}")
        tags = list(session.execute(select(AssetTag.tag).where(AssetTag.asset_id == asset_id)
                                    .order_by(AssetTag.tag)).scalars())
        counts: dict[str, dict[str, int]] = {}
        for state, severity, count in session.execute(
                select(FindingRow.state, FindingRow.severity, func.count())
                .where(FindingRow.asset_id == asset_id)
                .group_by(FindingRow.state, FindingRow.severity)):
            counts.setdefault(state, {})[severity] = count
        return {**asset_to_dict(asset, tags), "findings": counts}
