"""`stackwarden inventory …`: snapshots of a host and the differences between them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from stackwarden.cli.common import EXIT_GATE, handle_errors, stderr, write_output
from stackwarden.core.errors import UsageError

app = typer.Typer(help="Host inventory: what a host runs and holds, and what changed.",
                  no_args_is_help=True, rich_markup_mode=None)


@app.command("snapshot")
@handle_errors
def snapshot(
    root: Annotated[str, typer.Option(
        "--root", help="Root filesystem to inventory; / is the running host (processes, "
        "sockets, kernel modules and Docker are only collected there).")] = "/",
    section: Annotated[list[str] | None, typer.Option(
        "--section", "-s", help="Only these sections (repeatable): packages, processes, "
        "listening, users, groups, sudoers, kernel_modules, services, containers, images.")
    ] = None,
    all_packages: Annotated[bool, typer.Option(
        "--all-packages", help="Every ecosystem (Python, npm, Go, …) from a walk of the whole "
        "root, not only the OS packages (much slower).")] = False,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write here.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No summary on stderr.")] = False,
) -> None:
    """Take an inventory snapshot (JSON): OS and packages, processes with their executable's
    SHA-256 and owning package, listening sockets with their process, users, groups, sudo
    rules, kernel modules, systemd services, Docker containers and images.

    A section that cannot be collected is named in `notes` with the reason; the rest is kept.
    """
    from stackwarden.agent.inventory import take_snapshot
    from stackwarden.agent.inventory.render import snapshot_summary

    snap = take_snapshot(root, sections=section, all_packages=all_packages)
    doc = snap.to_dict()
    write_output(json.dumps(doc, indent=2, ensure_ascii=False).encode() + b"\n", output)
    if not quiet:
        for note in snap.notes:
            stderr.print(f"note: {note}", markup=False, highlight=False, soft_wrap=True)
        stderr.print(snapshot_summary(doc), markup=False, highlight=False, soft_wrap=True)


@app.command("diff")
@handle_errors
def diff(
    before: Annotated[Path, typer.Argument(help="The older snapshot (JSON).", show_default=False)],
    after: Annotated[Path, typer.Argument(help="The newer snapshot (JSON).", show_default=False)],
    output_format: Annotated[str, typer.Option("--format", "-f", help="table or json.")
                             ] = "table",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write here.")] = None,
    exit_zero: Annotated[bool, typer.Option(
        "--exit-zero", help="Exit 0 even when the snapshots differ.")] = False,
) -> None:
    """What appeared, went away or changed between two snapshots, section by section.

    Exit code 1 when they differ (0 with --exit-zero), 3 when a snapshot cannot be read.
    """
    from stackwarden.agent.inventory import diff_snapshots
    from stackwarden.agent.inventory.collector import load_snapshot
    from stackwarden.agent.inventory.render import render_diff_table

    if output_format not in ("json", "table"):
        raise UsageError(f"--format must be json or table, not {output_format!r}")
    result = diff_snapshots(load_snapshot(str(before)), load_snapshot(str(after)))
    rendered = (json.dumps(result, indent=2, ensure_ascii=False).encode() + b"\n"
                if output_format == "json" else render_diff_table(result))
    write_output(rendered, output)
    for line in result["not_compared"]:
        stderr.print(f"note: {line}", markup=False, highlight=False)
    if result["sections"] and not exit_zero:
        raise typer.Exit(EXIT_GATE)


@app.command("vulns")
@handle_errors
def vulns(
    root: Annotated[str, typer.Option("--root", help="Root filesystem (/ is this host).")] = "/",
    db: Annotated[Path | None, typer.Option(
        "--db", help="Vulnerability database (default: the one `stackwarden db update` "
        "keeps; $STACKWARDEN_DB).")] = None,
    all_packages: Annotated[bool, typer.Option(
        "--all-packages", help="Every ecosystem from a walk of the whole root, not only the "
        "OS packages.")] = False,
    ignore_unfixed: Annotated[bool, typer.Option(
        "--ignore-unfixed", help="Leave out vulnerabilities without a fixed version.")] = False,
    output_format: Annotated[str, typer.Option("--format", "-f", help="table or json.")
                             ] = "table",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write here.")] = None,
) -> None:
    """The host's vulnerabilities: its packages matched with the same matcher and database as
    images (for a full report with secrets and misconfigurations: `stackwarden scan rootfs:/`).
    """
    from stackwarden.agent.inventory.vulns import (
        host_vulnerabilities,
        vulnerabilities_dict,
        vulnerabilities_table,
    )

    if output_format not in ("json", "table"):
        raise UsageError(f"--format must be json or table, not {output_format!r}")
    result = host_vulnerabilities(root, db, all_packages=all_packages,
                                  ignore_unfixed=ignore_unfixed)
    rendered = (json.dumps(vulnerabilities_dict(result, root), indent=2).encode() + b"\n"
                if output_format == "json" else vulnerabilities_table(result))
    write_output(rendered, output)
