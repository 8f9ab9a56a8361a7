"""`stackwarden sbom`: inventory a target and write its SBOM."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from stackwarden.cli.common import handle_errors, progress_status, stderr, write_output
from stackwarden.core.errors import UsageError
from stackwarden.report import SBOM_FORMAT_NAMES

TARGET_HELP = """What to inventory, with a scheme prefix or auto-detected:

oci-dir:PATH[:TAG] (OCI image layout), oci-archive:FILE[:TAG], docker-archive:FILE[:TAG]
(`docker save`, plain or gzipped), registry:HOST/REPO:TAG or registry:HOST/REPO@sha256:…,
rootfs:PATH (a root filesystem), dir:PATH (a project directory; the default for a bare path).
A bare image reference (e.g. `alpine:3.20`) is pulled from its registry."""


def sbom(
    target: Annotated[str, typer.Argument(help=TARGET_HELP, show_default=False)],
    output_format: Annotated[str, typer.Option(
        "--format", "-f", help=f"Output format: {', '.join(SBOM_FORMAT_NAMES)}. "
        "cyclonedx is CycloneDX 1.6 JSON, spdx is SPDX 2.3 JSON, json is StackWarden's own "
        "(documented in docs/inventory.md).")] = "table",
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Write the SBOM to this file (atomically) instead of stdout.")]
    = None,
    platform: Annotated[str | None, typer.Option(
        help="Platform to pick from a multi-arch image, as os/arch[/variant] "
        "(default: linux/<this machine's arch>).")] = None,
    username: Annotated[str | None, typer.Option(
        help="Registry user name (default: ~/.docker/config.json credentials).")] = None,
    password_stdin: Annotated[bool, typer.Option(
        "--password-stdin", help="Read the registry password from standard input.")] = False,
    insecure: Annotated[bool, typer.Option(
        help="Allow plain HTTP and unverified TLS to a non-loopback registry.")] = False,
    catalogers: Annotated[list[str] | None, typer.Option(
        "--catalogers", help="Choose catalogers by name or tag: `python` (only these), "
        "`+declared` (add), `-binary` (remove); repeatable or comma-separated.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
) -> None:
    """Inventory TARGET (an image, root filesystem or directory) and print its SBOM.

    Every package of every supported ecosystem is listed with its version, PURL, licenses, locations and the image layer that introduced it. Files that could not be read are listed with the reason; the inventory of everything else completes.

    Examples: stackwarden sbom dir:. ; stackwarden sbom oci-dir:./image --format cyclonedx -o sbom.cdx.json ; stackwarden sbom registry:localhost:5000/app:1.0 --platform linux/arm64
    """
    from stackwarden.artifact.targets import TargetOptions
    from stackwarden.catalog.sbom import generate_sbom
    from stackwarden.report import render_sbom

    if output_format not in SBOM_FORMAT_NAMES:
        raise UsageError(f"unknown format {output_format!r} (choose from "
                         f"{', '.join(SBOM_FORMAT_NAMES)})", source="--format")
    password = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise UsageError("--password-stdin given but standard input was empty")
    with progress_status(not quiet) as progress:
        options = TargetOptions(platform=platform, username=username, password=password,
                                insecure=insecure, progress=progress)
        result = generate_sbom(target, options=options, catalogers=catalogers or (),
                               progress=progress)
    write_output(render_sbom(result, output_format), output)
    if result.skipped and output_format != "table" and not quiet:
        stderr.print(f"[yellow]{len(result.skipped)} file(s) skipped[/yellow] "
                     "(listed in the report's `skipped` section)")


sbom = handle_errors(sbom)
