"""`stackwarden scan-config`: check configuration files for misconfigurations."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stackwarden.cli.common import handle_errors, write_output
from stackwarden.core.errors import UsageError


@handle_errors
def scan_config(
    path: Annotated[Path, typer.Argument(help="A configuration file or a directory to walk.",
                                         show_default=False)],
    policy_dir: Annotated[Path | None, typer.Option(
        "--policy-dir", help="Directory of custom CEL policies (*.yaml) to apply as well.")]
    = None,
    output_format: Annotated[str, typer.Option(
        "--format", "-f", help="Report format: table or json.")] = "table",
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Write the report to this file (atomically) instead of stdout.")]
    = None,
) -> None:
    """Check Dockerfiles, Kubernetes manifests, Compose, Terraform, CloudFormation and CI files.

    Files that cannot be parsed are listed as skipped with the reason; `# stackwarden:ignore ID reason` comments suppress a finding (it is still listed, with the reason).

    Exit codes: 0 scan done, 2 usage or policy error, 3 scan error.
    """
    from stackwarden.detect.misconfig import PolicyError
    from stackwarden.detect.misconfig import scan_config as run
    from stackwarden.detect.misconfig.report import FORMATS, render

    if output_format not in FORMATS:
        raise UsageError(f"unknown format {output_format!r} (choose from {', '.join(FORMATS)})",
                         source="--format")
    if not path.exists():
        raise UsageError("no such file or directory", source=str(path))
    try:
        outcome = run(path, policy_dir=policy_dir)
    except PolicyError as exc:
        raise UsageError(exc.message, source=exc.source) from None
    write_output(render(outcome, str(path), output_format), output)
