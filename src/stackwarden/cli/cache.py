"""`stackwarden cache …`: the per-layer result cache."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stackwarden.cli.common import handle_errors, stderr

app = typer.Typer(help="Manage the scan cache (per image, per layer).", no_args_is_help=True,
                  rich_markup_mode=None)


@app.command("clean")
@handle_errors
def clean(
    cache_dir: Annotated[Path | None, typer.Option(
        "--cache-dir", help="The cache to empty (default: ~/.cache/stackwarden/scan).")] = None,
) -> None:
    """Remove every cached result: whole images, per-layer findings, layer indexes and
    cataloger results (the next scan reads and analyses every layer)."""
    from stackwarden.detect.cache import clean_cache

    removed = clean_cache(cache_dir)
    stderr.print(f"removed {removed} cached results", highlight=False)
