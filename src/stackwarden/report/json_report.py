"""StackWarden's own JSON: the SBOM (docs/inventory.md) and the scan report (docs/scanning.md)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from stackwarden.catalog.sbom import sbom_to_dict
from stackwarden.core.models import SBOM
from stackwarden.report.findings_dict import scan_to_dict

if TYPE_CHECKING:
    from stackwarden.scan import ScanResult


def dump(doc: Any) -> bytes:
    """Indented JSON, keys in a stable order, paths that are not UTF-8 made valid UTF-8."""
    text = json.dumps(doc, indent=2, ensure_ascii=False)
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace").encode() + b"\n"


def render_sbom(sbom: SBOM) -> bytes:
    """The SBOM JSON document."""
    return dump(sbom_to_dict(sbom))


def render_scan(result: ScanResult) -> bytes:
    """The scan report JSON document."""
    return dump(scan_to_dict(result))
