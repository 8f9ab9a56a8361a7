"""The `stackwarden` command: one Typer application, one module per command group."""

from __future__ import annotations

import typer

from stackwarden.cli import (
    admission,
    agent,
    audit,
    cache,
    compliance,
    config,
    db,
    fim,
    inventory,
    logs,
    malware,
    registry,
    secrets,
    server,
)
from stackwarden.cli.demo import demo
from stackwarden.cli.sbom import sbom
from stackwarden.cli.scan import scan
from stackwarden.cli.version import version_app

app = typer.Typer(
    name="stackwarden",
    help="StackWarden: inventory, scan and audit what you build and run.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.command("sbom")(sbom)
app.command("demo")(demo)
app.command("scan")(scan)
app.command("scan-config")(config.scan_config)
app.add_typer(db.app, name="db")
app.add_typer(version_app, name="version")
app.add_typer(malware.app, name="malware")
app.add_typer(cache.app, name="cache")
app.add_typer(server.app, name="server")
app.command("worker")(server.worker)
app.add_typer(audit.app, name="audit")
app.add_typer(secrets.app, name="secrets")
app.add_typer(logs.app, name="logs")
app.add_typer(admission.app, name="admission")
app.add_typer(registry.app, name="registry")
app.add_typer(agent.app, name="agent")
app.add_typer(fim.app, name="fim")
app.add_typer(inventory.app, name="inventory")
app.add_typer(compliance.app, name="compliance")


def main() -> None:
    """Entry point for `python -m stackwarden`."""
    app()
