"""`stackwarden audit …`: verify the audit log (database or evidence bundle), export evidence."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from stackwarden.cli.common import EXIT_GATE, handle_errors, stderr, write_output
from stackwarden.cli.server import Config, DatabaseUrl, DataDir, settings_from
from stackwarden.core.errors import UsageError

app = typer.Typer(help="Verify the tamper-evident audit log and export evidence (docs/audit.md).",
                  no_args_is_help=True, rich_markup_mode=None)


@app.command("verify")
@handle_errors
def verify(
    bundle: Annotated[Path | None, typer.Argument(
        help="An evidence bundle (zip) from `audit export`; without it, the server's database.",
        show_default=False)] = None,
    public_key: Annotated[list[Path] | None, typer.Option(
        "--public-key", help="Trust only this Ed25519 public key (PEM); repeat for several.")]
    = None,
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
    config: Config = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Check every entry's hash, every chain link and every signed checkpoint.

    Exit codes: 0 intact, 1 tampered (the first bad sequence number is printed), 2 usage error, 3 unreadable input.
    """
    from stackwarden.audit.signing import key_id, load_public_key

    pinned = {}
    for path in public_key or ():
        try:
            key = load_public_key(path.read_bytes())
        except OSError as exc:
            raise UsageError(f"cannot read: {exc.strerror}", source=str(path)) from None
        pinned[key_id(key)] = key
    notes: list[str] = []
    if bundle is not None:
        from stackwarden.audit.bundle import verify_bundle

        checked = verify_bundle(bundle, pinned or None)
        result = checked.result
        notes.append(f"{checked.reports_checked} scan reports checked against the log")
    else:
        from stackwarden.server.audit_store import verify_database
        from stackwarden.server.context import ServerContext

        settings = settings_from(config, database_url=database_url, data_dir=data_dir)
        context = ServerContext.open(settings, migrate=False)
        try:
            result = verify_database(context.db, pinned or context.audit.trusted_keys)
        finally:
            context.close()
    if as_json:
        typer.echo(json.dumps({"ok": result.ok, "first_bad_seq": result.first_bad_seq,
                               "entries": result.entries, "checkpoints": result.checkpoints,
                               "verified_through": result.verified_through,
                               "problems": [{"seq": p.seq, "message": p.message}
                                            for p in result.problems],
                               "notes": [*result.notes, *notes]}, indent=2))
    else:
        typer.echo(result.summary())
        for problem in sorted(result.problems, key=lambda p: p.seq):
            typer.echo(f"  seq {problem.seq}: {problem.message}")
        for note in [*result.notes, *notes]:
            stderr.print(f"note: {note}", highlight=False, markup=False)
    if not result.ok:
        raise typer.Exit(EXIT_GATE)


@app.command("export")
@handle_errors
def export(
    output: Annotated[Path, typer.Option("--output", "-o", help="Bundle file to write (zip).")],
    server: Annotated[str | None, typer.Option(
        "--server", help="Download from this server's API instead of reading the database.")]
    = None,
    token: Annotated[str | None, typer.Option(
        "--token", envvar="STACKWARDEN_TOKEN", help="Token of an admin or auditor (--server).")]
    = None,
    no_reports: Annotated[bool, typer.Option(
        "--no-reports", help="Leave the scan reports out (entries and checkpoints only).")]
    = False,
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
    config: Config = None,
) -> None:
    """Write an evidence bundle: entries, signed checkpoints, public key, scan reports."""
    if server:
        from stackwarden.server.client import download

        if not token:
            raise UsageError("--server needs --token (or STACKWARDEN_TOKEN)", source="--token")
        data = download(server, token, f"/api/v1/audit/export?reports={str(not no_reports).lower()}")
        write_output(data, output)
        stderr.print(f"wrote {output} ({len(data)} bytes)", highlight=False, markup=False)
        return
    from stackwarden.server.audit_store import export_bundle
    from stackwarden.server.context import ServerContext

    settings = settings_from(config, database_url=database_url, data_dir=data_dir)
    context = ServerContext.open(settings, migrate=False)
    try:
        manifest = export_bundle(context.db, context.audit, output, with_reports=not no_reports)
        with context.db.transaction() as session:
            context.audit.append(session, "cli", "audit.export", "audit:bundle",
                                 {"reports": not no_reports, "entries": manifest["entries"]})
    finally:
        context.close()
    stderr.print(f"wrote {output}: {manifest['entries']} entries, {manifest['checkpoints']} "
                 f"checkpoints", highlight=False, markup=False)
