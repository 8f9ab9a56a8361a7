"""The `stackwarden` command: one Typer application, one module per command group."""

from __future__ import annotations

import typer

from stackwarden import __version__
from stackwarden.cli import config, db
from stackwarden.cli.demo import demo
from stackwarden.cli.scan import scan
from stackwarden.cli.sbom import sbom

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


@app.command("version")
def version() -> None:
    """Print StackWarden's version."""
    typer.echo(__version__)


def main() -> None:
    """Entry point for `python -m stackwarden`."""
    app()
