"""The StackWarden JSON SBOM: the documented, versioned form (see docs/inventory.md)."""

from __future__ import annotations

import json

from stackwarden.catalog.sbom import sbom_to_dict
from stackwarden.core.models import SBOM


def render_sbom(sbom: SBOM) -> bytes:
    """Indented JSON, keys in a stable order, paths that are not UTF-8 escaped."""
    text = json.dumps(sbom_to_dict(sbom), indent=2, ensure_ascii=False)
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace").encode() + b"\n"
