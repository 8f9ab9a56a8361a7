"""Reports are pure functions from results to bytes: one module per format, one registry."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from stackwarden.core.errors import UsageError

if TYPE_CHECKING:
    from stackwarden.core.models import SBOM
    from stackwarden.scan import ScanResult

# format name -> module; modules load only when used (each pulls in its own library).
SBOM_FORMATS = {
    "table": "stackwarden.report.table",
    "json": "stackwarden.report.json_report",
    "cyclonedx": "stackwarden.report.cyclonedx",
    "spdx": "stackwarden.report.spdx",
}
SBOM_FORMAT_NAMES = tuple(SBOM_FORMATS)
SCAN_FORMATS = {
    "table": "stackwarden.report.table",
    "json": "stackwarden.report.json_report",
    "sarif": "stackwarden.report.sarif",
    "cyclonedx": "stackwarden.report.cyclonedx",
    "spdx": "stackwarden.report.spdx",
    "junit": "stackwarden.report.junit",
    "html": "stackwarden.report.html_report",
    "markdown": "stackwarden.report.markdown",
    "gitlab": "stackwarden.report.gitlab",
}
SCAN_FORMAT_NAMES = tuple(SCAN_FORMATS)


def render_sbom(sbom: SBOM, fmt: str) -> bytes:
    """Render an SBOM in the named format."""
    module = SBOM_FORMATS.get(fmt)
    if module is None:
        raise UsageError(f"unknown format {fmt!r} (choose from {', '.join(SBOM_FORMAT_NAMES)})",
                         source="--format")
    return importlib.import_module(module).render_sbom(sbom)  # type: ignore[no-any-return]


def render_scan(result: ScanResult, fmt: str) -> bytes:
    """Render a scan result in the named format."""
    module = SCAN_FORMATS.get(fmt)
    if module is None:
        raise UsageError(f"unknown format {fmt!r} (choose from {', '.join(SCAN_FORMAT_NAMES)})",
                         source="--format")
    return importlib.import_module(module).render_scan(result)  # type: ignore[no-any-return]


def parse_outputs(specs: Sequence[str], output: Path | None = None, *,
                  formats: Sequence[str] = SCAN_FORMAT_NAMES) -> list[tuple[str, Path | None]]:
    """`--format FORMAT[:FILE]` values (and a bare `--output`) as (format, file or None=stdout).

    `--output` applies to the one format given without a file. At most one report may go to
    standard output, and no file may be named twice.
    """
    outputs: list[tuple[str, Path | None]] = []
    for spec in specs or ("table",):
        name, sep, file = spec.partition(":")
        name = name.strip().lower()
        if name not in formats:
            raise UsageError(f"unknown format {name!r} (choose from {', '.join(formats)})",
                             source="--format")
        if sep and not file:
            raise UsageError(f"{spec!r}: no file after ':' (use FORMAT or FORMAT:FILE)",
                             source="--format")
        outputs.append((name, Path(file) if file and file != "-" else None))
    to_stdout = [i for i, (_, path) in enumerate(outputs) if path is None]
    if output is not None and str(output) != "-":
        if len(to_stdout) != 1:
            raise UsageError("--output names one file: give it to exactly one --format without "
                             "a file, or use --format FORMAT:FILE", source="--output")
        outputs[to_stdout[0]] = (outputs[to_stdout[0]][0], output)
    elif len(to_stdout) > 1:
        raise UsageError("only one report can go to standard output; give the others a file "
                         "(--format FORMAT:FILE)", source="--format")
    files = [str(path.resolve()) for _, path in outputs if path is not None]
    duplicated = sorted({f for f in files if files.count(f) > 1})
    if duplicated:
        raise UsageError(f"{duplicated[0]} is named by two reports", source="--format")
    return outputs
