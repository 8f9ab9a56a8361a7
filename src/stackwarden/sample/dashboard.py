"""The demo's dashboard: an embedded-SQLite server data directory holding the sample scan.

`stackwarden demo` calls `prepare_demo_server` after scanning the sample image. Everything is
in-process (no server runs): the first admin is made by the same `init_server` as
`stackwarden server init`, the report is stored by the same `ingest_report` as
`POST /api/v1/scans` (what `stackwarden scan --server` uploads to). Running it again reuses the
directory: the same admin, and the scan lands on the same asset (images are keyed by digest),
so findings are deduplicated by fingerprint rather than duplicated.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select

from stackwarden.core.errors import UsageError
from stackwarden.server.bootstrap import init_server
from stackwarden.server.context import ServerContext
from stackwarden.server.db.models import User
from stackwarden.server.ingest import IngestResult, ingest_report
from stackwarden.server.settings import ServerSettings, load_settings

DEMO_ADMIN = "admin"
# the sample image's only tag is "latest": the dashboard would list it under that name
SAMPLE_ASSET = {"kind": "image", "name": "stackwarden/sample-app"}
PASSWORD_FILE = "admin-password"


@dataclass(frozen=True, slots=True)
class DemoServer:
    """The prepared data directory, its admin and what ingesting the sample scan did."""

    settings: ServerSettings
    username: str
    password: str
    password_file: Path
    created: bool  # the admin (and its password) was made by this call
    ingest: IngestResult


def demo_settings(data_dir: Path, *, port: int | None = None) -> ServerSettings:
    """Settings for the demo: the embedded database in `data_dir`, in-process jobs, loopback."""
    # explicit values beat STACKWARDEN_SERVER_* variables: the demo never touches a real server
    return load_settings(None, data_dir=data_dir, database_url="", broker_url="",
                         host="127.0.0.1", port=port)


def prepare_demo_server(data_dir: Path, report: bytes) -> DemoServer:
    """Create (or reuse) the demo data directory and its admin, then ingest `report` (JSON).

    The report is stored as the asset `stackwarden/sample-app` unless it names its own asset.
    """
    doc = json.loads(report)
    doc.setdefault("asset", SAMPLE_ASSET)
    report = json.dumps(doc, ensure_ascii=False).encode()
    data_dir.mkdir(parents=True, exist_ok=True)
    data_dir.chmod(0o700)  # it holds the audit signing key and the admin's password
    settings = demo_settings(data_dir)
    password_file = data_dir / PASSWORD_FILE
    context = ServerContext.open(settings, migrate=True)
    try:
        password, created = _admin(context, password_file)
        with context.db.transaction() as session:
            result = ingest_report(session, report, DEMO_ADMIN, context.audit)
    finally:
        context.close()
    return DemoServer(settings, DEMO_ADMIN, password, password_file, created, result)


def _admin(context: ServerContext, password_file: Path) -> tuple[str, bool]:
    """The admin's password: read back when the directory has users, else a new admin."""
    with context.db.session() as session:
        has_users = bool(session.execute(select(func.count()).select_from(User)).scalar())
    if has_users:
        try:
            return password_file.read_text(encoding="utf-8").strip(), False
        except OSError:
            raise UsageError(f"{context.settings.data_dir} has users but no readable "
                             f"{PASSWORD_FILE}; delete the directory to start the demo server "
                             "afresh", source=str(password_file)) from None
    password = secrets.token_urlsafe(18)
    # written before the admin exists: a failure here leaves nothing half made
    fd = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        os.fchmod(handle.fileno(), 0o600)  # O_CREAT's mode only applies to a new file
        handle.write(password + "\n")
    init_server(context, DEMO_ADMIN, password)
    return password, True
