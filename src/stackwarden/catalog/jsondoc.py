"""JSON package files (lockfiles, manifests): parsed once, errors named by line and column."""

from __future__ import annotations

import json
from typing import Any

from stackwarden.artifact.base import FileEntry
from stackwarden.catalog.base import CatalogContext
from stackwarden.core.errors import CatalogError


def load_json(entry: FileEntry, ctx: CatalogContext) -> Any:
    """A JSON document, or CatalogError naming the line and column where it breaks."""
    try:
        return json.loads(ctx.text(entry))
    except json.JSONDecodeError as exc:
        raise CatalogError(f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}",
                           source=entry.path) from exc
