"""The jobs of registry monitoring: sweep a registry, scan one new digest, re-match everything.

A scan reads the image from its registry by digest through the ordinary pipeline (so layers
already analysed come from the per-layer cache), ingests the report into the image's asset,
stores the SBOM for later re-matching, and diffs golden images against their previous build.
A re-match reads only stored SBOMs: no image is pulled again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import zlib
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from stackwarden.core.errors import StackWardenError
from stackwarden.server.auth import utcnow
from stackwarden.server.context import ServerContext
from stackwarden.server.credentials import CredentialBox
from stackwarden.server.db.models import FindingRow, Job, Sbom
from stackwarden.server.db.registry_models import (
    GoldenDiff,
    GoldenRule,
    WatchedImage,
    WatchedRegistry,
    WatchedTag,
    WatchState,
)
from stackwarden.server.golden import Rule, diff_builds, golden_tags, is_noteworthy
from stackwarden.server.ingest import ACTIVE, ingest_report
from stackwarden.server.jobs import task
from stackwarden.server.registry_alerts import AlertDraft, raise_alerts
from stackwarden.server.registry_watch import NO_DOCKER_CONFIG, registry_access, sweep_registry

log = logging.getLogger("stackwarden.server.registry_scan")
CONFIG_KEYS = ("User", "ExposedPorts", "Entrypoint", "Cmd", "WorkingDir", "Volumes",
               "StopSignal", "Healthcheck", "Env", "Labels")
DB_STATE_KEY = "rematched_database"


@task("registry_sweep")
def registry_sweep_task(ctx: ServerContext, job: Job) -> dict[str, Any]:
    """Sweep one watched registry."""
    return sweep_registry(ctx, int(json.loads(job.params)["registry_id"]), job.submitted_by)


@task("registry_scan")
def registry_scan_task(ctx: ServerContext, job: Job) -> dict[str, Any]:
    """Scan one image digest found in a watched registry."""
    return scan_image(ctx, int(json.loads(job.params)["image_id"]), job.submitted_by)


@task("registry_rematch")
def registry_rematch_task(ctx: ServerContext, job: Job) -> dict[str, Any]:
    """Re-match every stored image SBOM against the current vulnerability database."""
    return rematch_images(ctx, job.submitted_by)


def _vulndb_path(ctx: ServerContext) -> Any:
    from stackwarden.vulndb.store import default_db_path

    return ctx.settings.vulndb_path or default_db_path()


def _current_tags(session: Session, image: WatchedImage) -> list[str]:
    return sorted(set(session.execute(select(WatchedTag.tag).where(
        WatchedTag.registry_id == image.registry_id, WatchedTag.repository == image.repository,
        WatchedTag.digest == image.digest)).scalars()))


def _fail(ctx: ServerContext, image_id: int, message: str) -> None:
    with ctx.db.transaction() as session:
        image = session.get(WatchedImage, image_id)
        if image is not None:
            image.state, image.error = "failed", message[:2000]


def scan_image(ctx: ServerContext, image_id: int, actor: str) -> dict[str, Any]:
    """Scan a digest once: pull through the pipeline, ingest, keep the SBOM, diff if golden."""
    from stackwarden.artifact.targets import TargetOptions
    from stackwarden.core.config import DEFAULT_LIMITS
    from stackwarden.report.json_report import render_scan
    from stackwarden.scan import ScanOptions, scan

    with ctx.db.transaction() as session:
        image = session.get(WatchedImage, image_id, with_for_update=True)
        if image is None:
            raise StackWardenError(f"image {image_id} is no longer watched")
        if image.state == "scanned":
            return {"image_id": image_id, "digest": image.digest, "skipped": "already scanned"}
        image.state, image.attempts, image.error = "scanning", image.attempts + 1, ""
        registry = session.get(WatchedRegistry, image.registry_id)
        if registry is None:
            raise StackWardenError(f"registry {image.registry_id} is no longer watched")
        tags = _current_tags(session, image)
        session.flush()
        session.expunge(image)
        session.expunge(registry)
    scanners = [s for s in registry.scanners.split(",") if s]
    warnings = []
    if "vuln" in scanners and not _vulndb_path(ctx).is_file():
        scanners.remove("vuln")  # the SBOM is kept; the re-match after `db update` matches it
        warnings.append("no vulnerability database on the server: vulnerabilities not matched")
    target = f"registry:{registry.host}/{image.repository}@{image.digest}"
    limits = replace(DEFAULT_LIMITS, network_timeout=ctx.settings.registry_timeout)
    try:
        box = CredentialBox.from_settings(ctx.settings)
        with registry_access(registry, box) as access:
            options = TargetOptions(username=access.username, password=access.password,
                                    insecure=access.insecure, ca_bundle=access.ca_bundle,
                                    retries=ctx.settings.registry_retries, limits=limits,
                                    docker_config=NO_DOCKER_CONFIG)
            result = scan(target, scanners=scanners, options=options, scan_options=ScanOptions(
                db_path=ctx.settings.vulndb_path, cache_dir=ctx.settings.scan_cache_path(),
                max_db_age_days=float("inf")))
    except Exception as exc:  # any failure: the image must not stay "scanning" forever
        _fail(ctx, image_id, str(exc) if isinstance(exc, StackWardenError)
              else f"{type(exc).__name__}: {str(exc)[:500]}")
        raise
    result.warnings.extend(warnings)
    doc = json.loads(render_scan(result))
    doc["artifact"]["repo_tags"] = [f"{registry.host}/{image.repository}:{t}" for t in tags]
    data = json.dumps(doc, separators=(",", ":")).encode()
    config = result.sbom.artifact.config.get("config") or {}
    kept = {k: config[k] for k in CONFIG_KEYS if k in config}
    drafts: list[AlertDraft] = []
    with ctx.db.transaction() as session:
        ingested = ingest_report(session, data, actor, ctx.audit)
        sbom_id = _store_sbom(session, ingested.asset_id, doc, actor)
        row = session.get(WatchedImage, image_id)
        assert row is not None
        rules = [Rule(r.id, r.repository, r.tag) for r in session.execute(
            select(GoldenRule).where(GoldenRule.registry_id == registry.id)).scalars()]
        golden = golden_tags(rules, image.repository, tags)
        row.state, row.scanned_at, row.error = "scanned", utcnow(), ""
        row.asset_id, row.sbom_id, row.scan_id = ingested.asset_id, sbom_id, ingested.scan_id
        row.config, row.golden = json.dumps(kept, sort_keys=True), bool(golden)
        if golden:
            session.flush()
            drafts += golden_diff(session, registry, row, golden[0])
    raise_alerts(ctx, drafts)
    return {"image_id": image_id, "digest": image.digest, "asset_id": ingested.asset_id,
            "scan_id": ingested.scan_id, "findings": ingested.findings, "golden": bool(golden),
            "layers": len(result.sbom.artifact.layers),
            "cached_layers": {k.split(":", 1)[1]: int(v) for k, v in result.timings.items()
                              if k.startswith("cached_layers:")}}


def _store_sbom(session: Session, asset_id: int, report: dict[str, Any], actor: str) -> int:
    """Keep the image's SBOM (StackWarden JSON) so a later database can re-match it."""
    sbom = {"schema_version": "1.0", "tool": report.get("tool", {}),
            "created": report.get("created", ""), "artifact": report["artifact"],
            "os": report.get("os"), "packages": report["sbom"]["packages"],
            "catalogers": report["sbom"].get("catalogers", [])}
    content = json.dumps(sbom, separators=(",", ":")).encode()
    row = Sbom(asset_id=asset_id, format="stackwarden-json", received_at=utcnow(),
               submitted_by=actor, packages=len(sbom["packages"]),
               sha256=hashlib.sha256(content).hexdigest(), content=zlib.compress(content, 6))
    session.add(row)
    session.flush()
    return row.id


def load_sbom_doc(session: Session, sbom_id: int | None) -> dict[str, Any]:
    """A stored SBOM document ({} when there is none)."""
    row = session.get(Sbom, sbom_id) if sbom_id else None
    return {} if row is None else json.loads(zlib.decompress(row.content))


def active_findings(session: Session, asset_id: int | None) -> list[dict[str, Any]]:
    """The open findings of an asset, in the short form a diff compares."""
    if asset_id is None:
        return []
    # the image's own configuration is located at its reference, which names the digest:
    # the same check on the next build must compare equal
    return [{"kind": kind, "id": vuln, "package": pkg, "version": version,
             "path": "" if path.startswith("registry:") else path, "severity": severity}
            for kind, vuln, pkg, version, path, severity in session.execute(
                select(FindingRow.kind, FindingRow.vuln_id, FindingRow.package_name,
                       FindingRow.package_version, FindingRow.path, FindingRow.severity)
                .where(FindingRow.asset_id == asset_id, FindingRow.state.in_(ACTIVE))
                .order_by(FindingRow.id))]


def golden_diff(session: Session, registry: WatchedRegistry, image: WatchedImage,
                tag: str) -> list[AlertDraft]:
    """Diff a golden image with the previous scanned golden build of its repository."""
    previous = session.execute(
        select(WatchedImage).where(WatchedImage.registry_id == registry.id,
                                   WatchedImage.repository == image.repository,
                                   WatchedImage.golden.is_(True), WatchedImage.state == "scanned",
                                   WatchedImage.id != image.id, WatchedImage.id < image.id)
        .order_by(WatchedImage.id.desc()).limit(1)).scalar_one_or_none()
    if previous is None:
        return []
    old, new = load_sbom_doc(session, previous.sbom_id), load_sbom_doc(session, image.sbom_id)
    diff = diff_builds(old.get("packages", []), new.get("packages", []),
                       active_findings(session, previous.asset_id),
                       active_findings(session, image.asset_id),
                       json.loads(previous.config), json.loads(image.config))
    row = GoldenDiff(registry_id=registry.id, repository=image.repository, tag=tag,
                     previous_digest=previous.digest, digest=image.digest, created_at=utcnow(),
                     summary=json.dumps(diff["summary"]), diff=json.dumps(diff, sort_keys=True))
    session.add(row)
    session.flush()
    if not is_noteworthy(diff["summary"]):
        return []
    return [AlertDraft("golden.changed", f"golden image {registry.host}/{image.repository}:{tag}"
                       " changed", {"diff_id": row.id, "repository": image.repository,
                                    "tag": tag, "previous_digest": previous.digest,
                                    "summary": diff["summary"],
                                    "config": diff["config"],
                                    "findings_new": diff["findings"]["new"][:50]},
                       registry_id=registry.id, digest=image.digest, golden=True)]


# --- re-matching ---------------------------------------------------------------------------

def database_identity(path: Any) -> str | None:
    """What identifies a vulnerability database build (None when there is none)."""
    from stackwarden.vulndb.store import VulnDB

    try:
        stat = path.stat()
    except OSError:
        return None
    try:
        with VulnDB(path) as db:
            built = db.meta.get("built_at", "")
    except StackWardenError:
        return None
    return f"{built}|{stat.st_size}|{stat.st_mtime_ns}"


def _state(session: Session, key: str) -> str | None:
    row = session.get(WatchState, key)
    return None if row is None else row.value


def rematch_if_database_changed(ctx: ServerContext) -> str | None:
    """Queue a re-match when the database differs from the one last re-matched; the job id."""
    from stackwarden.server.jobs import create_job
    from stackwarden.server.registry_watch import submit_jobs

    identity = database_identity(_vulndb_path(ctx))
    if identity is None:
        return None
    with ctx.db.session() as session:
        known = _state(session, DB_STATE_KEY)
    if known == identity:
        return None
    try:
        with ctx.db.transaction() as session:
            # several API processes tick: the one whose write lands queues the job
            if known is None:
                session.add(WatchState(key=DB_STATE_KEY, value=identity))
                session.flush()
            elif session.execute(update(WatchState).where(
                    WatchState.key == DB_STATE_KEY, WatchState.value == known)
                    .values(value=identity)).rowcount != 1:  # type: ignore[attr-defined]
                return None
            if known is None and not session.execute(select(WatchedImage.id).limit(1)).first():
                return None  # the first database of a server with no images: nothing to do
            job_id = create_job(session, "registry_rematch", "scheduler", ctx.audit,
                                params={"database": identity}).id
    except IntegrityError:
        return None
    submit_jobs(ctx, [job_id])
    return job_id


def rematch_images(ctx: ServerContext, actor: str, *, chunk: int = 200) -> dict[str, Any]:
    """Re-match every scanned image's SBOM; newly affected images alert, golden first."""
    from stackwarden.catalog.sbom import sbom_from_dict
    from stackwarden.report.json_report import render_scan
    from stackwarden.scan import ScanResult
    from stackwarden.vulndb.match import match_sbom
    from stackwarden.vulndb.store import VulnDB

    path = _vulndb_path(ctx)
    identity = database_identity(path)
    with ctx.db.session() as session:
        ids = list(session.execute(select(WatchedImage.id).where(
            WatchedImage.state == "scanned", WatchedImage.sbom_id.is_not(None))
            .order_by(WatchedImage.golden.desc(), WatchedImage.id)).scalars())
    drafts: list[AlertDraft] = []
    totals = {"images": len(ids), "changed": 0, "newly_affected": 0, "new_findings": 0,
              "fixed_findings": 0}
    with VulnDB(path) as vdb:
        database = {"path": str(path), **vdb.meta}
        for start in range(0, len(ids), chunk):
            with ctx.db.session() as session:
                images = list(session.execute(select(WatchedImage).where(
                    WatchedImage.id.in_(ids[start:start + chunk]))
                    .order_by(WatchedImage.golden.desc(), WatchedImage.id)).scalars())
                docs = {i.id: load_sbom_doc(session, i.sbom_id) for i in images}
                active = _active_vulns(session, [i.asset_id for i in images if i.asset_id])
            for image in images:
                try:
                    sbom = sbom_from_dict(docs[image.id], where=f"sbom:{image.sbom_id}")
                except StackWardenError as exc:
                    log.warning("cannot re-match %s: %s", image.digest, exc)
                    continue
                matched = match_sbom(sbom, vdb).findings
                before = active.get(image.asset_id or 0, set())
                new = [f for f in matched if f.fingerprint not in before]
                gone = before - {f.fingerprint for f in matched}
                if not new and not gone:
                    continue
                totals["changed"] += 1
                totals["new_findings"] += len(new)
                totals["fixed_findings"] += len(gone)
                result = ScanResult(target=f"sbom:{image.digest}", sbom=sbom,
                                    findings=list(matched), scanners=("vuln",),
                                    database=database, created=utcnow().strftime(
                                        "%Y-%m-%dT%H:%M:%SZ"))
                data = render_scan(result)
                with ctx.db.transaction() as session:
                    ingest_report(session, data, actor, ctx.audit)
                    if new:
                        drafts.append(_affected_alert(session, image, new))
                        totals["newly_affected"] += 1
    with ctx.db.transaction() as session:
        if identity is not None:
            session.merge(WatchState(key=DB_STATE_KEY, value=identity))
    raise_alerts(ctx, drafts)
    return totals


def _active_vulns(session: Session, asset_ids: Sequence[int]) -> dict[int, set[str]]:
    found: dict[int, set[str]] = {a: set() for a in asset_ids}
    for asset_id, fingerprint in session.execute(
            select(FindingRow.asset_id, FindingRow.fingerprint).where(
                FindingRow.asset_id.in_(list(asset_ids) or [0]),
                FindingRow.kind == "vulnerability", FindingRow.state.in_(ACTIVE))):
        found[asset_id].add(fingerprint)
    return found


def affected_since(session: Session, image: WatchedImage) -> str:
    """Since when the image has carried what it carries: its first sighting in a registry."""
    first = session.execute(select(WatchedTag.first_seen).where(
        WatchedTag.digest == image.digest).order_by(WatchedTag.first_seen).limit(1)).scalar()
    when = min(d for d in (first, image.queued_at) if d is not None)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _affected_alert(session: Session, image: WatchedImage, new: Sequence[Any]) -> AlertDraft:
    tags = _current_tags(session, image)
    since = affected_since(session, image)
    detected = utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")
    items = [{"id": f.id, "severity": str(f.severity), "title": f.title,
              "package": None if f.package is None else f.package.name,
              "version": None if f.package is None else f.package.version,
              "fixed_versions": list(f.fixed_versions), "affected_since": since,
              "detected_at": detected} for f in new[:100]]
    worst = max((f.severity.rank for f in new), default=0)
    name = f"{image.repository}@{image.digest[:19]}"
    return AlertDraft("image.newly_affected",
                      f"{len(new)} new vulnerabilit{'y' if len(new) == 1 else 'ies'} in "
                      f"{'golden image ' if image.golden else ''}{name}",
                      {"repository": image.repository, "tags": tags, "findings": items,
                       "worst_severity_rank": worst, "asset_id": image.asset_id},
                      registry_id=image.registry_id, digest=image.digest, golden=image.golden)
