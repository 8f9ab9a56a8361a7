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
    settings = settings_from(config, host=host, port=port, database_url=database_url,
                             broker_url=broker, data_dir=data_dir,
                             migrate_on_start=False if no_migrate else None)
    run_server(settings, workers)


def run_server(settings: Any, workers: int = 1) -> None:
    """Migrate once, then serve the API and dashboard with uvicorn until interrupted."""
    import uvicorn

    from stackwarden.server.context import ServerContext

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


enroll_app = typer.Typer(help="One-time, expiring tokens host agents enroll with "
                         "(docs/agent.md).", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(enroll_app, name="enroll-token")
RemoteServer = Annotated[str | None, typer.Option(
    "--server", help="Manage the tokens of this running server through its API (needs "
    "--token) instead of opening the database.")]
AdminToken = Annotated[str | None, typer.Option(
    "--token", envvar="STACKWARDEN_TOKEN", help="An admin API token, for --server.")]


def _remote(server: str, token: str | None, method: str, path: str,
            body: dict[str, Any] | None = None) -> Any:
    from stackwarden.server.client import call_api

    if not token:
        raise UsageError("--server needs --token (or STACKWARDEN_TOKEN)", source="--token")
    return call_api(server, token, method, f"/api/v1/agents/enrollment-tokens{path}", body=body)


def _local(config: Path | None, database_url: str | None, data_dir: Path | None,
           action: Any) -> Any:
    from stackwarden.server.context import ServerContext
    from stackwarden.server.errors import ApiError

    settings = settings_from(config, database_url=database_url, data_dir=data_dir)
    context = ServerContext.open(settings, migrate=True)
    try:
        with context.db.transaction() as session:
            return action(session, context)
    except ApiError as exc:
        raise UsageError(exc.message) from None
    finally:
        context.close()


@enroll_app.command("create")
@handle_errors
def enroll_token_create(
    expires: Annotated[str, typer.Option(
        "--expires", help="How long it stays usable: 90s, 15m, 1h, 7d (at most 30d).")] = "1h",
    name: Annotated[str, typer.Option(help="A note saying what it is for.")] = "",
    server: RemoteServer = None, token: AdminToken = None,
    database_url: DatabaseUrl = None, data_dir: DataDir = None, config: Config = None,
) -> None:
    """Create a one-time enrollment token and print it (shown only now).

    An agent spends it with `stackwarden agent enroll --server URL --token TOKEN`; it cannot be used twice, nor after it expires.
    """
    from stackwarden.cli.common import parse_duration
    from stackwarden.server.agents.enroll import create_enrollment_token, enrollment_token_to_dict

    seconds = parse_duration(expires, "--expires")
    if server:
        made = _remote(server, token, "POST", "", {"expires_in": seconds, "name": name})
    else:
        def action(session: Any, context: Any) -> dict[str, Any]:
            row, secret = create_enrollment_token(session, "cli", context.audit,
                                                  expires_in=seconds, name=name)
            return {**enrollment_token_to_dict(row), "token": secret}
        made = _local(config, database_url, data_dir, action)
    stderr.print(f"enrollment token {made['id']} expires at {made['expires_at']} (single use; "
                 "shown once):", markup=False, soft_wrap=True)
    typer.echo(made["token"])


@enroll_app.command("list")
@handle_errors
def enroll_token_list(
    server: RemoteServer = None, token: AdminToken = None,
    database_url: DatabaseUrl = None, data_dir: DataDir = None, config: Config = None,
) -> None:
    """List enrollment tokens and their state (usable, used, expired, revoked)."""
    from sqlalchemy import select

    from stackwarden.server.agents.enroll import enrollment_token_to_dict
    from stackwarden.server.db.agent_models import EnrollmentToken

    if server:
        items = _remote(server, token, "GET", "")["items"]
    else:
        items = _local(config, database_url, data_dir, lambda session, _ctx: [
            enrollment_token_to_dict(r) for r in session.execute(
                select(EnrollmentToken).order_by(EnrollmentToken.id.desc())).scalars()])
    for item in items:
        typer.echo(f"{item['id']}\t{item['state']}\texpires {item['expires_at']}\t"
                   f"{item['name']}" + (f"\tused by {item['used_by']}" if item["used_by"] else ""))


@enroll_app.command("revoke")
@handle_errors
def enroll_token_revoke(
    token_id: Annotated[int, typer.Argument(help="The token's id (from `list`).", min=1)],
    server: RemoteServer = None, token: AdminToken = None,
    database_url: DatabaseUrl = None, data_dir: DataDir = None, config: Config = None,
) -> None:
    """Make an enrollment token unusable."""
    from stackwarden.server.agents.enroll import enrollment_token_to_dict, revoke_enrollment_token

    if server:
        done = _remote(server, token, "DELETE", f"/{token_id}")
    else:
        done = _local(config, database_url, data_dir, lambda session, ctx: (
            enrollment_token_to_dict(revoke_enrollment_token(session, token_id, "cli",
                                                             ctx.audit))))
    typer.echo(f"enrollment token {done['id']}: {done['state']}")
