"""Alembic environment: runs against the engine the server hands over (no alembic.ini)."""

from __future__ import annotations

from alembic import context

from stackwarden.server.db.models import Base

engine = context.config.attributes["engine"]
with engine.begin() as connection:
    # render_as_batch: SQLite cannot ALTER most things; batch mode copies the table instead.
    context.configure(connection=connection, target_metadata=Base.metadata,
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()
