"""Reports are pure functions from results to bytes: one module per format, one registry."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from stackwarden.core.errors import UsageError

if TYPE_CHECKING:
    from stackwarden.core.models import SBOM

# format name -> module; modules load only when used (each pulls in its own library).
SBOM_FORMATS = {
    "table": "stackwarden.report.table",
    "json": "stackwarden.report.json_report",
    "cyclonedx": "stackwarden.report.cyclonedx",
    "spdx": "stackwarden.report.spdx",
}
SBOM_FORMAT_NAMES = tuple(SBOM_FORMATS)


def render_sbom(sbom: SBOM, fmt: str) -> bytes:
    """Render an SBOM in the named format."""
    module = SBOM_FORMATS.get(fmt)
    if module is None:
        raise UsageError(f"unknown format {fmt!r} (choose from {', '.join(SBOM_FORMAT_NAMES)})",
                         source="--format")
    return importlib.import_module(module).render_sbom(sbom)  # type: ignore[no-any-return]
