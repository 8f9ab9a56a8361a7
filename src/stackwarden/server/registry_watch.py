"""Continuous registry monitoring: watched registries, sweeps, the queue of images to scan.

A sweep lists the catalog and every selected repository's tags (paginated, `Link` headers),
resolves each tag to its manifest digest, records the tag history, and queues a scan job for
each digest never seen before. A digest is scanned once, ever: `watched_images.digest` is
unique, whichever registry, repository, tag, sweep or notification brought it. One failing
repository is recorded and the sweep goes on; the registry shows its last error.
(docs/registry-monitoring.md)
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from stackwarden.artifact.registry import HOST
from stackwarden.artifact.registry_client import REPOSITORY, RegistryClient
from stackwarden.artifact.registry_transport import RegistryOptions, is_loopback
from stackwarden.core.errors import StackWardenError, UsageError
from stackwarden.server.auth import iso, utcnow
from stackwarden.server.context import ServerContext
from stackwarden.server.credentials import CredentialBox
from stackwarden.server.db.registry_models import (
    WatchedImage,
    WatchedRegistry,
    WatchedTag,
)
from stackwarden.server.registry_alerts import AlertDraft, raise_alerts

log = logging.getLogger("stackwarden.server.registry_watch")
NOTIFY_PREFIX = "swn_"
DEFAULT_SCANNERS = ("vuln", "secret", "misconfig")
# Only the credentials stored with the registry: never the server account's Docker config.
NO_DOCKER_CONFIG = Path("/nonexistent/stackwarden/docker-config.json")
MAX_SCAN_ATTEMPTS = 3  # a digest whose scan failed is queued again by later sweeps, this often
_INTERVAL = re.compile(r"(\d+)\s*([smhd]?)")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_interval(text: str | int) -> int:
    """`15m`, `1h`, `90s`, `2d` or plain seconds -> seconds (10 s to 30 days)."""
    match = _INTERVAL.fullmatch(str(text).strip().lower())
    if match is None:
        raise UsageError("an interval is a number with s, m, h or d (15m, 1h, 90s)",
                         source=str(text))
    seconds = int(match.group(1)) * _UNITS[match.group(2)]
    if not 10 <= seconds <= 30 * 86400:
        raise UsageError("the interval must be between 10s and 30d", source=str(text))
    return seconds


def parse_registry_url(url: str, insecure: bool) -> str:
    """`https://host:port`, `host:port` or (loopback / insecure) `http://…` -> `host:port`."""
    raw = url.strip().rstrip("/")
    scheme, sep, rest = raw.partition("://")
    host = rest if sep else raw
    if sep and scheme not in ("http", "https"):
        raise UsageError("a registry URL is https://HOST[:PORT]", source=url)
    if "/" in host or not HOST.fullmatch(host):
        raise UsageError("a registry URL is https://HOST[:PORT] (no path)", source=url)
    if scheme == "http" and not (insecure or is_loopback(host)):
        raise UsageError("plain HTTP is allowed only for loopback hosts or with --insecure",
                         source=url)
    return host


def _patterns(values: Sequence[str], what: str) -> list[str]:
    out = []
    for value in values:
        value = value.strip()
        if not value or len(value) > 300 or any(c.isspace() for c in value):
            raise UsageError(f"an {what} pattern is a repository glob like 'team/*'",
                             source=value or "''")
        out.append(value)
    return out


def repository_selected(repository: str, include: Sequence[str], exclude: Sequence[str]) -> bool:
    """Whether the include/exclude globs select a repository (no include: every one)."""
    if include and not any(fnmatchcase(repository, p) for p in include):
        return False
    return not any(fnmatchcase(repository, p) for p in exclude)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class RegistryInput:
    """What `registry add` asks for."""

    url: str
    name: str = ""
    username: str = ""
    password: str = field(default="", repr=False)
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    interval: str | int = "15m"
    insecure: bool = False
    ca_cert: str = ""
    scanners: tuple[str, ...] = DEFAULT_SCANNERS


def add_registry(session: Session, box: CredentialBox, spec: RegistryInput, actor: str,
                 audit: Any) -> tuple[WatchedRegistry, str]:
    """Record a registry (password sealed); returns it and its notification token (shown once)."""
    from stackwarden.scan import parse_scanners

    host = parse_registry_url(spec.url, spec.insecure)
    name = (spec.name or host).strip()[:200]
    if session.execute(select(WatchedRegistry.id).where(WatchedRegistry.name == name)).first():
        raise UsageError(f"a registry named {name!r} is already watched", source=spec.url)
    if spec.password and not spec.username:
        raise UsageError("a password needs a username", source="--username")
    if spec.ca_cert and "-----BEGIN CERTIFICATE-----" not in spec.ca_cert:
        raise UsageError("the CA certificate is not PEM", source="--ca-file")
    token = NOTIFY_PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    row = WatchedRegistry(
        name=name, host=host, username=spec.username[:200], secret=None,
        insecure=spec.insecure, ca_cert=spec.ca_cert,
        include=json.dumps(_patterns(spec.include, "include")),
        exclude=json.dumps(_patterns(spec.exclude, "exclude")),
        interval_seconds=parse_interval(spec.interval),
        scanners=",".join(parse_scanners(list(spec.scanners))), enabled=True,
        notify_token_hash=_token_hash(token), created_at=now, created_by=actor,
        next_sweep_at=now, sweep_state="idle", last_error="", repositories=0, tags=0,
        problems="[]")
    session.add(row)
    session.flush()
    if spec.password:
        row.secret = box.seal(spec.password, f"registry:{row.id}")
    audit.append(session, actor, "registry.add", f"registry:{row.id}",
                 {"name": name, "host": host, "username": spec.username,
                  "include": list(spec.include), "exclude": list(spec.exclude),
                  "interval_seconds": row.interval_seconds, "insecure": spec.insecure})
    return row, token


def rotate_notify_token(session: Session, row: WatchedRegistry, actor: str, audit: Any) -> str:
    """A new notification token (the old one stops working)."""
    token = NOTIFY_PREFIX + secrets.token_urlsafe(32)
    row.notify_token_hash = _token_hash(token)
    audit.append(session, actor, "registry.notify_token", f"registry:{row.id}", {})
    return token


def notify_token_valid(row: WatchedRegistry, presented: str) -> bool:
    """Constant-time check of a notification's token."""
    return secrets.compare_digest(_token_hash(presented), row.notify_token_hash)


def image_counts(session: Session, ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """Per registry: images by scan state."""
    counts: dict[int, dict[str, int]] = {i: {} for i in ids}
    for reg, state, count in session.execute(
            select(WatchedImage.registry_id, WatchedImage.state, func.count())
            .where(WatchedImage.registry_id.in_(list(ids) or [0]))
            .group_by(WatchedImage.registry_id, WatchedImage.state)):
        counts.setdefault(reg, {})[state] = count
    return counts


def registry_to_dict(row: WatchedRegistry, images: dict[str, int] | None = None
                     ) -> dict[str, Any]:
    """The API form of a watched registry (never its password or token)."""
    images = images or {}
    return {"id": row.id, "name": row.name, "host": row.host, "username": row.username,
            "has_password": row.secret is not None, "insecure": row.insecure,
            "has_ca_cert": bool(row.ca_cert), "include": json.loads(row.include),
            "exclude": json.loads(row.exclude), "interval_seconds": row.interval_seconds,
            "scanners": row.scanners.split(","), "enabled": row.enabled,
            "created_at": iso(row.created_at), "created_by": row.created_by,
            "sweep": {"state": row.sweep_state, "job_id": row.sweep_job_id,
                      "last_started": iso(row.last_sweep_started),
                      "last_finished": iso(row.last_sweep_finished),
                      "last_success": iso(row.last_success_at),
                      "next": iso(row.next_sweep_at),
                      "last_error": row.last_error or None,
                      "last_error_at": iso(row.last_error_at),
                      "problems": json.loads(row.problems or "[]")},
            "counts": {"repositories": row.repositories, "tags": row.tags,
                       "images": sum(images.values()), "scanned": images.get("scanned", 0),
                       "queued": images.get("queued", 0) + images.get("scanning", 0),
                       "failed": images.get("failed", 0)}}


# --- talking to the registry -----------------------------------------------------------------

@dataclass(frozen=True)
class Access:
    """How to reach one watched registry: host, credentials (opened), TLS settings."""

    host: str
    username: str | None
    password: str | None = field(repr=False)
    insecure: bool
    ca_bundle: Path | None


@contextmanager
def registry_access(row: WatchedRegistry, box: CredentialBox) -> Iterator[Access]:
    """The registry's credentials opened and its CA written to a private temporary file."""
    password = box.open(row.secret, f"registry:{row.id}") if row.secret else None
    with tempfile.TemporaryDirectory(prefix="stackwarden-ca-") as tmp:
        ca = None
        if row.ca_cert:
            ca = Path(tmp) / "ca.pem"
            ca.write_text(row.ca_cert)
        yield Access(row.host, row.username or None, password, row.insecure, ca)


def client_for(access: Access, settings: Any) -> RegistryClient:
    """A registry client with the server's timeouts and retry policy."""
    options = RegistryOptions(username=access.username, password=access.password,
                              insecure=access.insecure, ca_bundle=access.ca_bundle,
                              timeout=settings.registry_timeout,
                              retries=settings.registry_retries,
                              backoff=settings.registry_backoff,
                              docker_config=NO_DOCKER_CONFIG)
    return RegistryClient(access.host, options=options)


def _problem(where: str, exc: BaseException) -> dict[str, str]:
    return {"repository": where, "error": str(exc)[:500]}


@dataclass
class SweepListing:
    """What one sweep saw: repositories listed, tag -> digest, and per-repository problems."""

    repositories: list[str] = field(default_factory=list)
    seen: dict[str, dict[str, str]] = field(default_factory=dict)  # repo -> tag -> digest
    problems: list[dict[str, str]] = field(default_factory=list)


def list_registry(client: RegistryClient, include: Sequence[str], exclude: Sequence[str],
                  page_size: int = 100) -> SweepListing:
    """Catalog, tags and digests; a failing repository or tag is a problem, not the end."""
    listing = SweepListing()
    repositories = client.catalog(page_size=page_size)  # a registry-level failure raises
    for repository in repositories:
        if not REPOSITORY.fullmatch(repository):
            listing.problems.append({"repository": repository[:300],
                                     "error": "not a valid repository name; skipped"})
            continue
        if not repository_selected(repository, include, exclude):
            continue
        listing.repositories.append(repository)
        try:
            tags = client.list_tags(repository, page_size=page_size)
        except StackWardenError as exc:
            listing.problems.append(_problem(repository, exc))
            continue
        found: dict[str, str] = {}
        for tag in tags:
            try:
                digest = client.head_manifest(repository, tag)
            except StackWardenError as exc:
                listing.problems.append(_problem(f"{repository}:{tag}", exc))
                continue
            if digest:
                found[tag] = digest
        listing.seen[repository] = found
    return listing


# --- recording what was seen and queueing scans -----------------------------------------------

def record_tags(session: Session, registry_id: int, repository: str, tags: dict[str, str], *,
                complete: bool) -> None:
    """Update the tag history of one repository (`complete`: tags not listed are gone)."""
    now = utcnow()
    rows = list(session.execute(select(WatchedTag).where(
        WatchedTag.registry_id == registry_id, WatchedTag.repository == repository)).scalars())
    by_key = {(r.tag, r.digest): r for r in rows}
    for row in rows:
        points_elsewhere = row.tag in tags and tags[row.tag] != row.digest
        if row.current and (points_elsewhere or (complete and row.tag not in tags)):
            row.current = False
    for tag, digest in tags.items():
        row = by_key.get((tag, digest))
        if row is None:
            session.add(WatchedTag(registry_id=registry_id, repository=repository, tag=tag,
                                   digest=digest, first_seen=now, last_seen=now, current=True))
        else:
            row.last_seen, row.current = now, True


def queue_images(session: Session, registry_id: int, repository: str, digests: Sequence[str],
                 actor: str, audit: Any) -> list[str]:
    """Queue a scan for each digest never scanned (or whose scans failed, a few times).

    Returns the job ids to submit once the transaction commits.
    """
    from stackwarden.server.jobs import create_job  # jobs.py imports the tasks that use us

    jobs: list[str] = []
    wanted = list(dict.fromkeys(digests))
    known = {img.digest: img for img in session.execute(
        select(WatchedImage).where(WatchedImage.digest.in_(wanted or [""]))).scalars()}
    for digest in wanted:
        image = known.get(digest)
        if image is not None:
            if image.state != "failed" or image.attempts >= MAX_SCAN_ATTEMPTS:
                continue  # scanned, queued, scanning, or given up on
            image.state = "queued"
        else:
            image = WatchedImage(digest=digest, registry_id=registry_id, repository=repository,
                                 state="queued", config="{}", golden=False, queued_at=utcnow(),
                                 error="", attempts=0)
            try:
                with session.begin_nested():  # a notification may be queueing it right now
                    session.add(image)
                    session.flush()
            except IntegrityError:
                continue
        job = create_job(session, "registry_scan", actor, audit, params={"image_id": image.id})
        image.job_id = job.id
        jobs.append(job.id)
    return jobs


def runner_for(ctx: ServerContext) -> Any:
    """The job runner (a worker that queues follow-up jobs makes one on first use)."""
    if ctx.runner is None:
        from stackwarden.server.jobs import make_runner

        ctx.runner = make_runner(ctx)
    return ctx.runner


def submit_jobs(ctx: ServerContext, job_ids: Sequence[str]) -> int:
    """Hand committed jobs to the runner; a job the broker refuses is recorded as failed."""
    from stackwarden.server.jobs import mark_failed

    runner = runner_for(ctx)
    failed = 0
    for job_id in job_ids:
        try:
            runner.submit(job_id)
        except Exception as exc:  # noqa: BLE001 - any broker failure: the job must not hang
            failed += 1
            mark_failed(ctx, job_id, f"the job broker is unreachable ({type(exc).__name__})")
            with ctx.db.transaction() as session:
                session.execute(update(WatchedImage).where(WatchedImage.job_id == job_id)
                                .values(state="failed", error="the job broker is unreachable"))
    return failed


# --- sweeps --------------------------------------------------------------------------------

def queue_sweep(ctx: ServerContext, registry_id: int, actor: str) -> dict[str, Any]:
    """Queue a sweep of one registry now; returns the job."""
    from stackwarden.server.jobs import create_job, job_to_dict

    with ctx.db.transaction() as session:
        row = session.get(WatchedRegistry, registry_id)
        if row is None:
            raise UsageError(f"registry {registry_id} is not watched")
        job = create_job(session, "registry_sweep", actor, ctx.audit,
                         params={"registry_id": registry_id})
        row.sweep_state, row.sweep_job_id = "queued", job.id
        row.next_sweep_at = utcnow() + timedelta(seconds=row.interval_seconds)
        out = job_to_dict(job)
    submit_jobs(ctx, [out["id"]])
    return out


def sweep_registry(ctx: ServerContext, registry_id: int, actor: str) -> dict[str, Any]:
    """List the registry, record tag history, queue scans of new digests; errors recorded."""
    box = CredentialBox.from_settings(ctx.settings)
    with ctx.db.transaction() as session:
        row = session.get(WatchedRegistry, registry_id)
        if row is None:
            raise StackWardenError(f"registry {registry_id} is no longer watched")
        row.sweep_state, row.last_sweep_started = "running", utcnow()
        include, exclude = json.loads(row.include), json.loads(row.exclude)
        session.flush()
        session.expunge(row)
    try:
        with registry_access(row, box) as access, client_for(access, ctx.settings) as client:
            listing = list_registry(client, include, exclude)
    except StackWardenError as exc:
        message = str(exc)[:1000]
        log.warning("sweep of registry %s failed: %s", row.name, message)
        with ctx.db.transaction() as session:
            session.execute(update(WatchedRegistry).where(WatchedRegistry.id == registry_id)
                            .values(sweep_state="error", last_error=message,
                                    last_error_at=utcnow(), last_sweep_finished=utcnow()))
        raise_alerts(ctx, [AlertDraft("registry.sweep_failed", f"sweep of {row.name} failed",
                                      {"registry": row.name, "error": message},
                                      registry_id=registry_id)])
        raise
    jobs: list[str] = []
    with ctx.db.transaction() as session:
        for repository in listing.repositories:
            if repository not in listing.seen:
                continue  # its tags could not be listed: keep its history as it was
            tags = listing.seen[repository]
            complete = not any(p["repository"].startswith(repository + ":")
                               for p in listing.problems)
            record_tags(session, registry_id, repository, tags, complete=complete)
            jobs += queue_images(session, registry_id, repository, sorted(set(tags.values())),
                                 actor, ctx.audit)
        now = utcnow()
        error = "; ".join(f"{p['repository']}: {p['error']}" for p in listing.problems[:3])
        values: dict[str, Any] = {
            "sweep_state": "error" if listing.problems else "ok", "last_sweep_finished": now,
            "repositories": len(listing.repositories),
            "tags": sum(len(t) for t in listing.seen.values()),
            "problems": json.dumps(listing.problems[:100])}
        if listing.problems:
            values.update(last_error=error[:1000], last_error_at=now)
        else:
            values.update(last_success_at=now)
        session.execute(update(WatchedRegistry).where(WatchedRegistry.id == registry_id)
                        .values(**values))
    submit_jobs(ctx, jobs)
    return {"registry_id": registry_id, "repositories": len(listing.repositories),
            "tags": sum(len(t) for t in listing.seen.values()), "queued": len(jobs),
            "problems": listing.problems[:100]}
