"""`stackwarden scan`: inventory a target and match it against the vulnerability database."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from stackwarden.cli.common import handle_errors, progress_status, stderr, write_output
from stackwarden.core.errors import UsageError
from stackwarden.report import SCAN_FORMAT_NAMES

TARGET_HELP = ("What to scan: any `stackwarden sbom` target (oci-dir:, oci-archive:, "
               "docker-archive:, registry:, rootfs:, dir:, or a bare path or image reference), "
               "or sbom:FILE to match an existing SBOM (CycloneDX JSON, SPDX JSON, Syft JSON, "
               "or StackWarden JSON).")


@handle_errors
def scan(
    target: Annotated[str, typer.Argument(help=TARGET_HELP, show_default=False)],
    scanners: Annotated[list[str] | None, typer.Option(
        "--scanners", help="Scanners to run, comma-separated or repeated (available: vuln).")]
    = None,
    output_format: Annotated[str, typer.Option(
        "--format", "-f", help=f"Report format: {', '.join(SCAN_FORMAT_NAMES)} (the JSON report "
        "is documented in docs/scanning.md).")] = "table",
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Write the report to this file (atomically) instead of stdout.")]
    = None,
    db: Annotated[Path | None, typer.Option(
        "--db", help="Vulnerability database file (default: $STACKWARDEN_DB, else the one "
        "`stackwarden db update` writes).")] = None,
    ignore_unfixed: Annotated[bool, typer.Option(
        "--ignore-unfixed", help="Suppress vulnerabilities that have no fixed version yet "
        "(they are still listed as suppressed in the JSON report).")] = False,
    max_db_age: Annotated[float, typer.Option(
        "--max-db-age", help="Warn when the database is older than this many days.")] = 7.0,
    platform: Annotated[str | None, typer.Option(
        help="Platform to pick from a multi-arch image (os/arch[/variant]).")] = None,
    username: Annotated[str | None, typer.Option(help="Registry user name.")] = None,
    password_stdin: Annotated[bool, typer.Option(
        "--password-stdin", help="Read the registry password from standard input.")] = False,
    insecure: Annotated[bool, typer.Option(
        help="Allow plain HTTP and unverified TLS to a non-loopback registry.")] = False,
    catalogers: Annotated[list[str] | None, typer.Option(
        "--catalogers", help="Choose catalogers by name or tag (see `stackwarden sbom --help`).")]
    = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
    server: Annotated[str | None, typer.Option(
        "--server", help="Also upload the JSON report to this StackWarden server (URL).")]
    = None,
    token: Annotated[str | None, typer.Option(
        "--token", envvar="STACKWARDEN_TOKEN", show_envvar=True,
        help="API token with the scan:submit scope, for --server.")] = None,
) -> None:
    """Scan TARGET for known vulnerabilities and print the findings.

    Each package is compared with the advisories of its ecosystem using that ecosystem's own version rules; distribution packages are matched by source package against the release the image runs. One vulnerability in one package is one finding listing all its ids (CVE, GHSA, PYSEC, …), with fixed versions, CVSS, EPSS and CISA KEV status.

    Exit codes: 0 scan done, 2 usage or configuration error, 3 scan error.
    """
    from stackwarden.artifact.targets import TargetOptions
    from stackwarden.report import render_scan
    from stackwarden.scan import parse_scanners
    from stackwarden.scan import scan as run_scan

    if output_format not in SCAN_FORMAT_NAMES:
        raise UsageError(f"unknown format {output_format!r} (choose from "
                         f"{', '.join(SCAN_FORMAT_NAMES)})", source="--format")
    if server and not token:
        raise UsageError("--server needs --token (or STACKWARDEN_TOKEN)", source="--token")
    chosen = parse_scanners(scanners or ())
    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else None
    with progress_status(not quiet) as progress:
        options = TargetOptions(platform=platform, username=username, password=password,
                                insecure=insecure, progress=progress)
        result = run_scan(target, scanners=chosen, db_path=db, options=options,
                          catalogers=catalogers or (), ignore_unfixed=ignore_unfixed,
                          max_db_age_days=max_db_age, progress=progress)
    write_output(render_scan(result, output_format), output)
    if server and token:
        from stackwarden.server.client import upload_report

        sent = upload_report(server, token, render_scan(result, "json"))
        stderr.print(f"uploaded to {server}: scan {sent.get('scan_id')}, {sent.get('new')} new, "
                     f"{sent.get('fixed')} fixed", highlight=False, markup=False)
    for warning in result.warnings:
        stderr.print(f"[yellow]warning:[/yellow] {warning}", highlight=False)
