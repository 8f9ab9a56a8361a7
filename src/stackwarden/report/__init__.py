"""Reports are pure functions from results to bytes: one module per format, one registry."""

from __future__ import annotations

import importlib
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
