"""Registries: every watched registry with its sweep state, last error, per-repository
problems and image counts; one registry's failed images, tag history and golden diffs; a sweep
on demand (admins). The same query functions as /api/v1/registries."""

from __future__ import annotations

from fastapi.responses import Response
from sqlalchemy import select

from stackwarden.server.api.deps import IdPath
from stackwarden.server.api.registries import diff_to_dict, tag_history
from stackwarden.server.db.registry_models import (
    GoldenDiff,
    GoldenRule,
    WatchedImage,
    WatchedRegistry,
)
from stackwarden.server.errors import forbidden, not_found
from stackwarden.server.registry_watch import image_counts, queue_sweep, registry_to_dict
from stackwarden.server.teams import TEAM_SCOPED_ROLES
from stackwarden.server.web.core import Page, PageDep, nav, router

# Registries hold every team's images: team-scoped roles (developers) see their images on the
# asset pages instead.
READERS = frozenset({"admin", "security-engineer", "auditor"})
nav("Registries", "/registries", order=35, roles=READERS)
MAX_IMAGES = 200


def _require_reader(page: Page) -> None:
    if page.who.role in TEAM_SCOPED_ROLES:
        raise forbidden(f"your role ({page.who.role}) sees images on the asset pages only")


@router.get("/registries")
def registries(page: PageDep) -> Response:
    """Watched registries: sweep state, last sweep, last error, problems, counts."""
    _require_reader(page)
    with page.ctx.db.session() as session:
        rows = list(session.execute(select(WatchedRegistry).order_by(WatchedRegistry.id))
                    .scalars())
        counts = image_counts(session, [r.id for r in rows])
        items = [registry_to_dict(r, counts.get(r.id)) for r in rows]
    return page.render("registries.html", title="Registries", items=items)


@router.get("/registries/{registry_id}")
def registry_detail(registry_id: IdPath, page: PageDep) -> Response:
    """One registry: its sweep, problems, images (failed first), golden rules and diffs."""
    _require_reader(page)
    with page.ctx.db.session() as session:
        row = session.get(WatchedRegistry, registry_id)
        if row is None:
            raise not_found(f"registry {registry_id}")
        item = registry_to_dict(row, image_counts(session, [row.id]).get(row.id))
        images = list(session.execute(
            select(WatchedImage).where(WatchedImage.registry_id == registry_id)
            .order_by((WatchedImage.state == "failed").desc(), WatchedImage.id.desc())
            .limit(MAX_IMAGES)).scalars())
        repositories = sorted({i.repository for i in images})
        history = {repo: tag_history(session, registry_id, repo, limit=100)
                   for repo in repositories[:20]}
        rules = list(session.execute(select(GoldenRule).where(
            GoldenRule.registry_id == registry_id).order_by(GoldenRule.id)).scalars())
        diffs = [diff_to_dict(d, False) for d in session.execute(
            select(GoldenDiff).where(GoldenDiff.registry_id == registry_id)
            .order_by(GoldenDiff.id.desc()).limit(20)).scalars()]
    return page.render("registry.html", title=item["name"], item=item, images=images,
                       history=history, rules=rules, diffs=diffs)


@router.post("/registries/{registry_id}/sweep")
async def sweep_now(registry_id: IdPath, page: PageDep) -> Response:
    """Queue a sweep of the registry now (admins), as POST /api/v1/registries/{id}/sweep."""
    await page.form()
    page.require("admin")
    with page.ctx.db.session() as session:
        if session.get(WatchedRegistry, registry_id) is None:
            raise not_found(f"registry {registry_id}")
    queue_sweep(page.ctx, registry_id, page.who.username)
    return page.redirect(f"/registries/{registry_id}", done="sweep")
