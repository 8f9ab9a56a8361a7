"""What a running server (or worker) holds: settings, database, audit log, job runner."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from stackwarden.server.audit_store import AuditLog
from stackwarden.server.db import Database
from stackwarden.server.settings import ServerSettings

if TYPE_CHECKING:
    from stackwarden.server.jobs import JobRunner


@dataclass
class ServerContext:
    """Shared by the API, the jobs and the CLI; holds no per-request state (API is stateless)."""

    settings: ServerSettings
    db: Database
    audit: AuditLog
    runner: JobRunner | None = field(default=None)

    @classmethod
    def open(cls, settings: ServerSettings, *, migrate: bool | None = None) -> ServerContext:
        """Connect (and migrate, when asked or configured) and load the signing key."""
        db = Database(settings.resolved_database_url())
        if settings.migrate_on_start if migrate is None else migrate:
            from stackwarden.server.db.migrate import upgrade

            upgrade(db.engine)
        audit = AuditLog.from_files(settings.signing_key_path(), settings.checkpoint_every,
                                    settings.trusted_public_keys)
        return cls(settings, db, audit)

    def close(self) -> None:
        """Stop the runner and close connections."""
        if self.runner is not None:
            self.runner.close()
        self.db.dispose()
