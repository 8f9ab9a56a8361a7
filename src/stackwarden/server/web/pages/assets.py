"""Assets: images, repositories, hosts and clusters (filter, search); one asset's layers, SBOM,
findings per layer, scan history and the difference between two scans; labels."""

from __future__ import annotations

import json
import zlib
from collections import Counter
from typing import Annotated, Any

from fastapi import Query
from fastapi.responses import Response
from sqlalchemy import delete, func, select

from stackwarden.server.api.deps import IdPath
from stackwarden.server.api.registries import diff_to_dict, tag_history
from stackwarden.server.auth import utcnow
from stackwarden.server.db.models import Asset, AssetTag, FindingRow, Scan
from stackwarden.server.db.models_dashboard import AssetLabel, ScanGate
from stackwarden.server.db.registry_models import GoldenDiff, WatchedImage, WatchedRegistry
from stackwarden.server.errors import not_found
from stackwarden.server.risk import LABELS
from stackwarden.server.teams import asset_visibility, can_see
from stackwarden.server.web.charts import SEVERITY_ORDER
from stackwarden.server.web.core import Page, PageDep, nav, router
from stackwarden.server.web.queries import ACTIVE

nav("Assets", "/assets", order=20)
ASSET_KINDS = ("image", "repository", "host", "cluster", "filesystem")
PAGE = 50
MAX_PACKAGES = 2000  # shown on the asset page; the SBOM itself is at /api/v1/scans/{id}/report


@router.get("/assets")
def assets_list(page: PageDep, kind: str = "", q: str = "", label: str = "",
                page_number: Annotated[int, Query(alias="page")] = 1) -> Response:
    """Assets, most recently scanned first."""
    errors = {}
    if kind and kind not in ASSET_KINDS:
        errors["kind"] = f"one of {', '.join(ASSET_KINDS)}"
        kind = ""
    number = page_number if 0 < page_number < 100000 else 1
    with page.ctx.db.session() as session:
        query = select(Asset).where(asset_visibility(session, page.who))
        if kind:
            query = query.where(Asset.kind == kind)
        if q:
            like = "%" + q[:200].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") \
                + "%"
            query = query.where(Asset.name.like(like, escape="\\"))
        if label:
            query = query.where(Asset.id.in_(select(AssetLabel.asset_id)
                                             .where(AssetLabel.label == label[:64])))
        rows = list(session.execute(query.order_by(Asset.last_scan_at.desc(), Asset.id.desc())
                                    .offset((number - 1) * PAGE).limit(PAGE + 1)).scalars())
        ids = [a.id for a in rows[:PAGE]]
        counts: dict[int, dict[str, int]] = {}
        for asset_id, severity, count in session.execute(
                select(FindingRow.asset_id, FindingRow.severity, func.count())
                .where(FindingRow.asset_id.in_(ids or [0]), FindingRow.state.in_(ACTIVE))
                .group_by(FindingRow.asset_id, FindingRow.severity)):
            counts.setdefault(asset_id, {})[severity] = count
        labels: dict[int, list[str]] = {}
        for asset_id, name in session.execute(select(AssetLabel.asset_id, AssetLabel.label)
                                              .where(AssetLabel.asset_id.in_(ids or [0]))):
            labels.setdefault(asset_id, []).append(name)
    return page.render("assets.html", title="Assets", assets=rows[:PAGE], counts=counts,
                       labels=labels, more=len(rows) > PAGE, number=number, kinds=ASSET_KINDS,
                       all_labels=LABELS, filters={"kind": kind, "q": q, "label": label},
                       errors=errors, severities=SEVERITY_ORDER)


def _report(session: Any, scan_id: int | None) -> dict[str, Any]:
    if scan_id is None:
        return {}
    blob = session.execute(select(Scan.report).where(Scan.id == scan_id)).scalar()
    if blob is None:
        return {}
    try:
        doc = json.loads(zlib.decompress(blob))
    except (ValueError, zlib.error):
        return {}
    return doc if isinstance(doc, dict) else {}


def _visible_asset(page: Page, session: Any, asset_id: int) -> Asset:
    asset = session.get(Asset, asset_id)
    if asset is None or not can_see(session, page.who, asset):
        raise not_found(f"asset {asset_id}")
    return asset


@router.get("/assets/{asset_id}")
def asset_detail(asset_id: IdPath, page: PageDep, pkg: str = "") -> Response:
    """One asset: facts, labels, layers, SBOM, findings per layer, scan history."""
    with page.ctx.db.session() as session:
        asset = _visible_asset(page, session, asset_id)
        tags = list(session.execute(select(AssetTag.tag).where(AssetTag.asset_id == asset_id)
                                    .order_by(AssetTag.tag)).scalars())
        labels = sorted(session.execute(select(AssetLabel.label)
                                        .where(AssetLabel.asset_id == asset_id)).scalars())
        scans = session.execute(select(Scan.id, Scan.received_at, Scan.submitted_by,
                                       Scan.findings_count, Scan.kinds, Scan.tool_version,
                                       ScanGate.passed)
                                .outerjoin(ScanGate, ScanGate.scan_id == Scan.id)
                                .where(Scan.asset_id == asset_id)
                                .order_by(Scan.id.desc()).limit(100)).all()
        report = _report(session, asset.last_scan_id)
        watched = _watched(session, asset)
        active = list(session.execute(select(FindingRow).where(
            FindingRow.asset_id == asset_id, FindingRow.state.in_(ACTIVE))
            .order_by(FindingRow.severity_rank.desc(), FindingRow.id).limit(5000)).scalars())
    layers = (report.get("artifact") or {}).get("layers") or []
    per_layer: dict[str, Counter[str]] = {}
    for row in active:
        try:
            layer = (json.loads(row.data).get("location") or {}).get("layer") or ""
        except (ValueError, AttributeError):
            layer = ""
        per_layer.setdefault(layer, Counter())[row.severity] += 1
    wanted = pkg.lower()
    packages = [p for p in (report.get("sbom") or {}).get("packages") or []
                if isinstance(p, dict) and wanted in str(p.get("name", "")).lower()]
    layer_index = {str(layer.get("diff_id")): layer.get("index") for layer in layers
                   if isinstance(layer, dict)}
    return page.render(
        "asset.html", title=asset.name, asset=asset, tags=tags, labels=labels,
        all_labels=LABELS, scans=scans, layers=layers, per_layer=per_layer,
        layer_index=layer_index, packages=packages[:MAX_PACKAGES],
        packages_total=len(packages), pkg=pkg, severities=SEVERITY_ORDER,
        by_severity=Counter(r.severity for r in active), os=report.get("os") or {},
        watched=watched)


def _watched(session: Any, asset: Asset) -> dict[str, Any] | None:
    """For an image a watched registry found: its repository's tag history and, when it is
    golden, the latest diff against the previous golden build."""
    if asset.kind != "image":
        return None
    image = session.execute(select(WatchedImage).where(
        (WatchedImage.asset_id == asset.id) | (WatchedImage.digest == (asset.digest or "")))
        .order_by(WatchedImage.id).limit(1)).scalar_one_or_none()
    if image is None:
        return None
    registry = session.get(WatchedRegistry, image.registry_id)
    diff = session.execute(select(GoldenDiff).where(GoldenDiff.digest == image.digest)
                           .order_by(GoldenDiff.id.desc()).limit(1)).scalar_one_or_none()
    return {"image": image, "registry": registry,
            "history": tag_history(session, image.registry_id, image.repository, limit=200),
            "diff": diff_to_dict(diff, True) if diff is not None else None}


@router.post("/assets/{asset_id}/labels")
async def set_labels(asset_id: IdPath, page: PageDep) -> Response:
    """Set the asset's labels (internet-facing, golden, monitored-host), audited."""
    form = await page.form()
    page.require("triage")
    wanted = sorted({v for v in form.getlist("labels") if v in LABELS})
    with page.ctx.db.transaction() as session:
        _visible_asset(page, session, asset_id)
        before = sorted(session.execute(select(AssetLabel.label)
                                        .where(AssetLabel.asset_id == asset_id)).scalars())
        if wanted != before:
            session.execute(delete(AssetLabel).where(AssetLabel.asset_id == asset_id))
            session.add_all(AssetLabel(asset_id=asset_id, label=label,
                                       added_by=page.who.username, added_at=utcnow())
                            for label in wanted)
            page.ctx.audit.append(session, page.who.username, "asset.labels",
                                  f"asset:{asset_id}", {"labels": wanted, "before": before})
    return page.redirect(f"/assets/{asset_id}", done="labels")


def _fingerprints(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {str(f.get("fingerprint")): f for f in report.get("findings") or []
            if isinstance(f, dict) and f.get("fingerprint")}


def _packages(report: dict[str, Any]) -> set[tuple[str, str]]:
    return {(str(p.get("name")), str(p.get("version"))) for p in
            (report.get("sbom") or {}).get("packages") or [] if isinstance(p, dict)}


@router.get("/assets/{asset_id}/diff")
def scan_diff(asset_id: IdPath, page: PageDep, a: int = 0, b: int = 0) -> Response:
    """What changed between two scans of the asset: findings added, removed, kept."""
    with page.ctx.db.session() as session:
        asset = _visible_asset(page, session, asset_id)
        ids = set(session.execute(select(Scan.id).where(Scan.asset_id == asset_id,
                                                        Scan.id.in_([a, b]))).scalars())
        errors = {}
        if a not in ids:
            errors["a"] = "choose a scan of this asset"
        if b not in ids:
            errors["b"] = "choose a scan of this asset"
        if not errors and a == b:
            errors["b"] = "choose two different scans"
        if errors:
            return page.render("error.html", status=422, title="Cannot compare",
                               message="; ".join(f"{k}: {v}" for k, v in errors.items()))
        old, new = sorted((a, b))
        old_report, new_report = _report(session, old), _report(session, new)
    before, after = _fingerprints(old_report), _fingerprints(new_report)
    old_packages, new_packages = _packages(old_report), _packages(new_report)

    def order(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        rank = {s: i for i, s in enumerate(SEVERITY_ORDER)}
        return sorted(items, key=lambda f: (rank.get(f.get("severity"), 9), str(f.get("id"))))

    return page.render(
        "diff.html", title=f"{asset.name}: scan {old} → {new}", asset=asset, old=old, new=new,
        added=order([f for fp, f in after.items() if fp not in before]),
        removed=order([f for fp, f in before.items() if fp not in after]),
        kept=sum(1 for fp in after if fp in before),
        packages_added=sorted(new_packages - old_packages, key=str),
        packages_removed=sorted(old_packages - new_packages, key=str))
