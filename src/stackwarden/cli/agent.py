"""`stackwarden agent …`: enroll with a server, run in the foreground, show the status."""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from stackwarden.cli.common import handle_errors, stderr
from stackwarden.core.errors import UsageError

app = typer.Typer(help="The host agent: log inspection, host vulnerabilities (and the other "
                  "collectors) shipped to a StackWarden server without loss (docs/agent.md).",
                  no_args_is_help=True, rich_markup_mode=None)

StateDirOption = Annotated[Path | None, typer.Option(
    "--state-dir", envvar="STACKWARDEN_AGENT_STATE_DIR",
    help="Where the credential, the event queue and the collectors' state live "
    "(default /var/lib/stackwarden-agent).")]


def _state(path: Path | None) -> Any:
    from stackwarden.agent.state import StateDir

    return StateDir(path)


@app.command("enroll")
@handle_errors
def enroll(
    server: Annotated[str, typer.Option(help="The server's URL (https://HOST:PORT).")],
    token: Annotated[str, typer.Option(
        envvar="STACKWARDEN_ENROLL_TOKEN", help="A one-time enrollment token (swe_…) from "
        "`stackwarden server enroll-token create`; `-` reads it from standard input.")],
    state_dir: StateDirOption = None,
    name: Annotated[str | None, typer.Option(
        help="The host's name on the server (default: this machine's host name).")] = None,
    ca_cert: Annotated[Path | None, typer.Option(
        "--ca-cert", help="CA certificates (PEM) to verify the server with (private PKI).")]
    = None,
    allow_http: Annotated[bool, typer.Option(
        "--allow-http", help="Allow plain HTTP to a server that is not on loopback.")] = False,
    force: Annotated[bool, typer.Option(
        "--force", help="Enroll again even if this state directory is enrolled.")] = False,
) -> None:
    """Exchange an enrollment token for this agent's own credential.

    The credential is written to STATE_DIR/credential with mode 0600; the token cannot be used again.
    """
    from stackwarden.agent.enroll import enroll as do_enroll

    if token == "-":
        token = sys.stdin.readline().strip()
    if ca_cert is not None and not ca_cert.is_file():
        raise UsageError("no such file", source=str(ca_cert))
    state = _state(state_dir)
    identity = do_enroll(server, token, state, name=name, ca_cert=ca_cert,
                         allow_http=allow_http, force=force)
    stderr.print(f"enrolled with {identity.server} as agent {identity.agent_id} "
                 f"(host {identity.hostname!r}); credential in {state.credential_file}",
                 markup=False, soft_wrap=True)


@app.command("run")
@handle_errors
def run(
    state_dir: StateDirOption = None,
    once: Annotated[bool, typer.Option(
        "--once", help="Run every collector once, send what is queued, and exit.")] = False,
    log_level: Annotated[str, typer.Option(
        "--log-level", help="debug, info, warning or error.")] = "info",
) -> None:
    """Run the agent in the foreground (what the systemd unit starts).

    Collectors run on the intervals the server's configuration gives; events wait on disk until the server has them. SIGTERM or SIGINT stop it cleanly.
    """
    from stackwarden.agent.runner import run_agent

    level = getattr(logging, log_level.upper(), None)
    if not isinstance(level, int):
        raise UsageError(f"unknown log level {log_level!r}", source="--log-level")
    logging.basicConfig(level=level, stream=sys.stderr,
                        format="stackwarden-agent: %(levelname)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)

    previous: dict[int, Any] = {}

    def signals(stop: threading.Event) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, lambda *_: stop.set())

    try:
        run_agent(_state(state_dir), once=once, install_signals=signals)
    finally:  # called in-process (tests, embedding): leave the handlers as they were
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _age(iso: str | None) -> str:
    if not iso:
        return "never"
    try:
        then = time.mktime(time.strptime(iso, "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    except ValueError:
        return iso
    return f"{iso} ({max(0, int(time.time() - then))}s ago)"


def _running(state: Any) -> int | None:
    """The pid holding the state directory's lock, or None."""
    import fcntl

    try:
        with open(state.lock_file, "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.seek(0)
                text = handle.read().strip()
                return int(text) if text.isdigit() else -1
            return None
    except OSError:
        return None


@app.command("status")
@handle_errors
def status(
    state_dir: StateDirOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show enrollment, whether the agent runs, its queue and its collectors.

    Exit code 0 when enrolled and running, 1 when enrolled but not running, 2 when not enrolled.
    """
    from stackwarden.agent.transport import EventQueue

    state = _state(state_dir)
    identity = state.identity()
    pid = _running(state)
    last = state.status() or {}
    queue: dict[str, Any] | None = None
    if state.queue_file.exists():
        q = EventQueue(state.queue_file)
        try:
            queue = q.stats()
            queue["dead_recent"] = q.dead(5)
        finally:
            q.close()
    doc = {"state_dir": str(state.path), "enrolled": True, "server": identity.server,
           "agent_id": identity.agent_id, "hostname": identity.hostname,
           "enrolled_at": identity.enrolled_at, "running": pid is not None, "pid": pid,
           "queue": queue, "last_status": last}
    if as_json:
        typer.echo(json.dumps(doc, indent=2, sort_keys=True))
    else:
        lines = [f"agent {identity.agent_id} ({identity.hostname}) enrolled with "
                 f"{identity.server} on {identity.enrolled_at}",
                 f"running: {'yes, pid ' + str(pid) if pid else 'no'}",
                 f"server: {last.get('server_state', 'unknown')}; last sent "
                 f"{_age(last.get('last_sent_at'))}; {last.get('sent_total', 0)} sent, "
                 f"{last.get('duplicates_total', 0)} duplicates, "
                 f"{last.get('rejected_total', 0)} rejected"]
        if queue is not None:
            oldest = queue.get("oldest_queued_at")
            age = f", oldest {int(time.time() - oldest)}s old" if oldest else ""
            lines.append(f"queue: {queue['depth']} event(s), {queue['bytes']} bytes{age}; "
                         f"{queue['dead']} dead-lettered, {queue['dropped']} dropped")
        lines.append(f"configuration: {last.get('config_source', 'unknown')} "
                     f"{last.get('config_etag') or ''}".rstrip())
        for name, info in sorted((last.get("collectors") or {}).items()):
            detail = f"error: {info['error']}" if info.get("error") else (
                f"every {info.get('interval', '?')}s, last run "
                f"{info.get('last_run_at') or 'never'}, {info.get('events_total', 0)} events")
            lines.append(f"collector {name}: {detail}")
        if last.get("last_error"):
            lines.append(f"last error: {last['last_error']} ({last.get('last_error_at')})")
        typer.echo("\n".join(lines))
    if pid is None:
        raise typer.Exit(1)

