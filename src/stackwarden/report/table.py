"""A human-readable SBOM summary and package table for the terminal."""

from __future__ import annotations

import io
from collections import Counter

from rich.console import Console
from rich.table import Table
from rich.text import Text

from stackwarden.core.models import SBOM


def render_sbom(sbom: SBOM, *, color: bool = False, width: int = 120) -> bytes:
    """The artifact, its OS, counts by type, then one row per package."""
    out = io.StringIO()
    console = Console(file=out, force_terminal=color, width=width, highlight=False,
                      color_system="auto" if color else None)
    art = sbom.artifact
    console.print(Text(art.reference, style="bold"), Text(f" ({art.kind})"))
    if art.digest or art.config_digest:
        console.print(f"digest {art.digest or '-'}  image id {art.config_digest or '-'}  "
                      f"platform {art.platform or '-'}  layers {len(art.layers)}")
    if sbom.os:
        console.print(f"OS: {sbom.os.pretty_name or sbom.os.id + ' ' + sbom.os.version_id}")
    counts = Counter(str(p.type) for p in sbom.packages)
    summary = ", ".join(f"{n} {t}" for t, n in sorted(counts.items())) or "none"
    console.print(f"{len(sbom.packages)} packages ({summary})")
    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    for column in ("NAME", "VERSION", "TYPE", "LOCATION"):
        table.add_column(column, overflow="fold")
    layer_index = {layer.diff_id: layer.index for layer in art.layers}
    for pkg in sbom.packages:
        location = pkg.locations[0].path if pkg.locations else ""
        if len(pkg.locations) > 1:
            location += f" (+{len(pkg.locations) - 1})"
        if pkg.layer in layer_index:
            location += f"  [layer {layer_index[pkg.layer]}]"
        table.add_row(*(Text(v) for v in (pkg.name, pkg.version, str(pkg.type), location)))
    console.print(table)
    if sbom.skipped:
        console.print(f"\n[yellow]{len(sbom.skipped)} skipped[/yellow] (not analysed):")
        for skip in sbom.skipped[:20]:
            console.print(f"  {skip.path}: {skip.reason}", markup=False)
        if len(sbom.skipped) > 20:
            console.print(f"  … and {len(sbom.skipped) - 20} more (see --format json)")
    return out.getvalue().encode()
