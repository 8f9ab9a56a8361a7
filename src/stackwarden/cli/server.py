"""`stackwarden server …` and `stackwarden worker`: run the API, set it up, migrate, run jobs."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from stackwarden.cli.common import handle_errors, stderr
from stackwarden.core.errors import StackWardenError, UsageError

app = typer.Typer(help="Run and administer the StackWarden server (docs/server.md).",
                  invoke_without_command=True, rich_markup_mode=None)

Config = Annotated[Path | None, typer.Option(
    "--config", envvar="STACKWARDEN_SERVER_CONFIG", help="TOML configuration file.")]
DatabaseUrl = Annotated[str | None, typer.Option(
    "--database-url", help="sqlite:///FILE (default: the embedded database in the data "
    "directory) or postgresql+psycopg://USER@HOST/DB.")]
Broker = Annotated[str | None, typer.Option(
    "--broker", help="redis://HOST:PORT/N to run jobs on Celery workers (default: in-process).")]
DataDir = Annotated[Path | None, typer.Option(
    "--data-dir", help="Where the embedded database and the signing key live.")]


def settings_from(config: Path | None, **overrides: Any) -> Any:
    """Load settings (file, env, flags) as one usage error on a bad value."""
    from stackwarden.server.settings import load_settings

    return load_settings(config, **overrides)


@app.callback()
@handle_errors
def serve(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="Address to listen on (127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on (8080).")] = None,
    database_url: DatabaseUrl = None,
    broker: Broker = None,
    data_dir: DataDir = None,
    config: Config = None,
    workers: Annotated[int, typer.Option(
        help="API processes (they share nothing but the database).")] = 1,
    no_migrate: Annotated[bool, typer.Option(
        "--no-migrate", help="Do not run database migrations on start.")] = False,
) -> None:
    """Start the API server (with `init` or `migrate`: set it up instead).

    By default: 127.0.0.1:8080, an embedded SQLite database and in-process jobs — nothing else to install. Every endpoint except /healthz and /readyz needs a token: run `stackwarden server init` once to create the first admin.
    """
    if ctx.invoked_subcommand is not None:
        return
    import uvicorn

    from stackwarden.server.context import ServerContext

    settings = settings_from(config, host=host, port=port, database_url=database_url,
                             broker_url=broker, data_dir=data_dir,
                             migrate_on_start=False if no_migrate else None)
    if settings.migrate_on_start:  # once, here, before any API process starts
        ServerContext.open(settings, migrate=True).close()
    # The API processes read their settings from the environment (uvicorn starts them).
    env = {"STACKWARDEN_SERVER_MIGRATE_ON_START": "false", "STACKWARDEN_SERVER_HOST":
           settings.host, "STACKWARDEN_SERVER_PORT": str(settings.port),
           "STACKWARDEN_SERVER_DATABASE_URL": settings.resolved_database_url(),
           "STACKWARDEN_SERVER_BROKER_URL": settings.broker_url,
           "STACKWARDEN_SERVER_JOB_QUEUE": settings.job_queue,
           "STACKWARDEN_SERVER_DATA_DIR": str(settings.data_dir),
           "STACKWARDEN_SERVER_SIGNING_KEY": str(settings.signing_key_path())}
    os.environ.update(env)
    stderr.print(f"StackWarden server on http://{settings.host}:{settings.port} "
                 f"({_describe(settings)})", highlight=False, markup=False)
    uvicorn.run("stackwarden.server.app:app_from_environment", factory=True,
                host=settings.host, port=settings.port, workers=workers,
                log_level=settings.log_level, proxy_headers=False)


def _describe(settings: Any) -> str:
    from sqlalchemy.engine import make_url

    url = make_url(settings.resolved_database_url())
    where = url.render_as_string(hide_password=True)
    jobs = "Celery on " + make_url(settings.broker_url).render_as_string(hide_password=True) \
        if settings.broker_url else "in-process jobs"
    return f"{where}, {jobs}"


@app.command("init")
@handle_errors
def init(
    username: Annotated[str, typer.Option(help="The first admin's user name.")] = "admin",
    password_stdin: Annotated[bool, typer.Option(
        "--password-stdin", help="Read the password from standard input (else prompt).")]
    = False,
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
    config: Config = None,
) -> None:
    """Create the first admin and print a one-time API token (shown only now)."""
    from stackwarden.server.bootstrap import init_server
    from stackwarden.server.context import ServerContext

    settings = settings_from(config, database_url=database_url, data_dir=data_dir)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password for " + username, hide_input=True,
                                confirmation_prompt=True)
    context = ServerContext.open(settings, migrate=True)
    try:
        result = init_server(context, username, password)
    finally:
        context.close()
    stderr.print(f"created admin {result.username!r}; audit signing key id {result.key_id} "
                 f"({settings.signing_key_path()})", highlight=False, markup=False)
    stderr.print("API token (shown once; store it now):", highlight=False, markup=False)
    typer.echo(result.token)


@app.command("migrate")
@handle_errors
def migrate(database_url: DatabaseUrl = None, data_dir: DataDir = None,
            config: Config = None) -> None:
    """Bring the database schema to this version's (Alembic migrations)."""
    from sqlalchemy.exc import SQLAlchemyError

    from stackwarden.server.db import Database
    from stackwarden.server.db.migrate import upgrade

    settings = settings_from(config, database_url=database_url, data_dir=data_dir)
    db = Database(settings.resolved_database_url())
    try:
        before, after = upgrade(db.engine)
    except SQLAlchemyError as exc:  # one line, never a traceback
        raise StackWardenError(f"migration failed: {type(exc).__name__}: "
                               f"{str(getattr(exc, 'orig', None) or exc)[:300]}") from None
    finally:
        db.dispose()
    typer.echo(f"database schema: {before or 'empty'} -> {after}")


@handle_errors
def worker(
    database_url: DatabaseUrl = None,
    broker: Broker = None,
    data_dir: DataDir = None,
    config: Config = None,
    concurrency: Annotated[int, typer.Option(help="Jobs run at once by this worker.")] = 2,
) -> None:
    """Run jobs from the Celery broker (start as many, on as many machines, as needed)."""
    from stackwarden.server.context import ServerContext
    from stackwarden.server.jobs import worker_app

    settings = settings_from(config, database_url=database_url, broker_url=broker,
                             data_dir=data_dir)
    if not settings.broker_url:
        raise UsageError("a worker needs --broker redis://… (or STACKWARDEN_SERVER_BROKER_URL)",
                         source="--broker")
    context = ServerContext.open(settings, migrate=False)
    celery = worker_app(context)
    # Threads, not forked processes: each job uses the one connection pool opened here.
    celery.worker_main(["worker", "--loglevel=INFO", f"--concurrency={concurrency}",
                        "--pool=threads", "-Q", settings.job_queue, "--without-gossip",
                        "--without-mingle"])
