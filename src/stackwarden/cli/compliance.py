"""`stackwarden compliance …`: compliance reports from the server's records."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stackwarden.cli.common import handle_errors, stderr, write_output
from stackwarden.cli.server import Config, DatabaseUrl, DataDir, settings_from
from stackwarden.core.errors import UsageError

app = typer.Typer(help="Compliance reports: PCI DSS 4.0, NIST SP 800-53 r5, SOC 2, CIS "
                  "Controls v8 (docs/compliance.md).", no_args_is_help=True,
                  rich_markup_mode=None)


@app.command("frameworks")
@handle_errors
def frameworks() -> None:
    """List the frameworks shipped (id, name, number of controls)."""
    from stackwarden.policy.compliance import framework_ids, load_framework

    for name in framework_ids():
        fw = load_framework(name)
        typer.echo(f"{fw.id}\t{fw.name}\t{len(fw.controls)} controls")


@app.command("report")
@handle_errors
def report(
    framework: Annotated[str, typer.Option(
        "--framework", help="Framework id (see `compliance frameworks`), e.g. pci-dss-4, or a "
        "YAML file in the same format.")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="html (printable), json (stable, "
                                     "for GRC tools) or pdf.")] = "html",
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Write here (default: standard output).")] = None,
    record: Annotated[bool, typer.Option(
        "--record/--no-record", help="Keep the outcome for the trend over time.")] = True,
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
    config: Config = None,
) -> None:
    """Evaluate a framework against the server's records and write the report.

    Each control is pass, fail or not assessed, with its evidence (queries over findings, scans, agents and the audit log's signed checkpoints) and the date of that data. Reads the server's database (same options as `stackwarden server`).
    """
    from stackwarden.policy.compliance import load_framework
    from stackwarden.server.compliance import evaluate, record_snapshot
    from stackwarden.server.compliance_report import FORMATS, render
    from stackwarden.server.context import ServerContext

    if fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r} (one of {', '.join(FORMATS)})",
                         source="--format")
    if fmt == "pdf" and output is None:
        raise UsageError("a PDF goes to a file: add --output FILE.pdf", source="--format")
    fw = load_framework(framework)
    settings = settings_from(config, database_url=database_url, data_dir=data_dir)
    context = ServerContext.open(settings, migrate=False)
    try:
        result = evaluate(context, fw)
        if record:
            record_snapshot(context, result)
    finally:
        context.close()
    write_output(render(result, fmt), output)
    counts = result.counts()
    stderr.print(f"{fw.name}: {counts['pass']} pass, {counts['fail']} fail, "
                 f"{counts['not_assessed']} not assessed", highlight=False, markup=False)
