"""Reports are pure functions from results to bytes: one module per format, one registry."""

from __future__ import annotations

from collections.abc import Callable

from stackwarden.core.errors import UsageError
from stackwarden.core.models import SBOM

SbomRenderer = Callable[[SBOM], bytes]


def sbom_formats() -> dict[str, SbomRenderer]:
    """Every SBOM output format by name (imported lazily: each pulls in its own library)."""
    from stackwarden.report import cyclonedx, json_report, spdx, table

    return {
        "table": table.render_sbom,
        "json": json_report.render_sbom,
        "cyclonedx": cyclonedx.render_sbom,
        "spdx": spdx.render_sbom,
    }


SBOM_FORMAT_NAMES = ("table", "json", "cyclonedx", "spdx")


def render_sbom(sbom: SBOM, fmt: str) -> bytes:
    """Render an SBOM in the named format."""
    renderer = sbom_formats().get(fmt)
    if renderer is None:
        raise UsageError(f"unknown format {fmt!r} (choose from {', '.join(SBOM_FORMAT_NAMES)})",
                         source="--format")
    return renderer(sbom)
