"""Human-readable terminal output: the SBOM package table, and the scan summary and findings."""

from __future__ import annotations

import io
from collections import Counter
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table
from rich.text import Text

from stackwarden.core.findings import Finding, FindingKind, Severity
from stackwarden.core.models import SBOM
from stackwarden.report.findings_dict import (
    kind_severity_counts,
    severity_counts,
    sorted_findings,
    sorted_suppressed,
    suppression_info,
)
from stackwarden.report.text import location_text, subject_text

if TYPE_CHECKING:
    from stackwarden.scan import ScanResult

SEVERITY_STYLE = {Severity.CRITICAL: "bold red", Severity.HIGH: "red",
                  Severity.MEDIUM: "yellow", Severity.LOW: "cyan",
                  Severity.NEGLIGIBLE: "dim", Severity.UNKNOWN: "dim"}
MAX_LISTED = 50


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


def _findings_table(findings: list[Finding], layer_index: dict[str, int]) -> Table:
    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    for column in ("SEVERITY", "ID", "PACKAGE", "INSTALLED", "FIXED IN", "LAYER", "TITLE"):
        table.add_column(column, overflow="fold")
    for f in findings:
        flags = " KEV" if f.in_kev else ""
        if f.epss:
            flags += f" EPSS {f.epss[0]:.2f}"
        layer = str(layer_index[f.location.layer]) if f.location.layer in layer_index else ""
        table.add_row(Text(str(f.severity).upper(), style=SEVERITY_STYLE[f.severity]),
                      Text(f.id + flags), Text(f.package.name if f.package else f.location.path),
                      Text(f.package.version if f.package else ""),
                      Text(", ".join(f.fixed_versions) or ("-" if f.package else "")),
                      Text(layer), Text(f.title))
    return table


def _located_table(findings: list[Finding], layer_index: dict[str, int]) -> Table:
    """Findings about files (secrets, malware, misconfigurations): where, not which package."""
    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    for column in ("SEVERITY", "ID", "LOCATION", "LAYER", "TITLE"):
        table.add_column(column, overflow="fold")
    for f in findings:
        layer = str(layer_index[f.location.layer]) if f.location.layer in layer_index else ""
        table.add_row(Text(str(f.severity).upper(), style=SEVERITY_STYLE[f.severity]),
                      Text(f.id), Text(location_text(f)), Text(layer), Text(f.title))
    return table


def render_scan(result: ScanResult, *, color: bool = False, width: int = 140) -> bytes:
    """A summary by severity and scanner, findings per scanner, then what was suppressed or
    skipped, and why."""
    out = io.StringIO()
    console = Console(file=out, force_terminal=color, width=width, highlight=False,
                      color_system="auto" if color else None)
    art = result.sbom.artifact
    console.print(Text(result.target, style="bold"), Text(f" ({art.kind})"))
    if art.digest or art.config_digest:
        console.print(Text(f"digest {art.digest or art.config_digest}"))
    if result.sbom.os:
        console.print(Text(f"OS: {result.sbom.os.pretty_name or result.sbom.os.id}"))
    counts = severity_counts(result.findings)
    summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n) or "no findings"
    console.print(Text(f"{len(result.sbom.packages)} packages, {len(result.findings)} findings "
                       f"({summary}); {len(result.suppressed)} suppressed, "
                       f"{len(result.skipped)} skipped"))
    per_kind = kind_severity_counts(result)
    if len(per_kind) > 1 or result.findings:
        for kind, kind_counts in per_kind.items():
            text = ", ".join(f"{n} {s}" for s, n in kind_counts.items() if n) or "none"
            console.print(Text(f"  {kind}: {text}"))
    layer_index = {layer.diff_id: layer.index for layer in art.layers}
    findings = sorted_findings(result.findings)
    for kind in FindingKind:
        of_kind = [f for f in findings if f.kind is kind]
        if not of_kind:
            continue
        console.print(Text(f"\n{kind} ({len(of_kind)})", style="bold"))
        packaged = all(f.package for f in of_kind)
        console.print(_findings_table(of_kind, layer_index) if packaged
                      else _located_table(of_kind, layer_index))
    if result.suppressed:
        console.print(Text(f"\n{len(result.suppressed)} suppressed:", style="yellow"))
        shown = sorted_suppressed(result.suppressed)[:MAX_LISTED]
        for s in shown:
            info = suppression_info(s)
            console.print(Text(f"  {s.finding.id} {subject_text(s.finding)}: {info['reason']}"
                               f" [{info['source']}]"))
        if len(result.suppressed) > len(shown):
            console.print(Text(f"  … and {len(result.suppressed) - len(shown)} more "
                               "(see --format json)"))
    if result.skipped:
        console.print(Text(f"\n{len(result.skipped)} skipped (not analysed):", style="yellow"))
        for skip in result.skipped[:10]:
            console.print(Text(f"  {skip.path}: {skip.reason}"))
        if len(result.skipped) > 10:
            console.print(Text(f"  … and {len(result.skipped) - 10} more (see --format json)"))
    for warning in result.warnings:
        console.print(Text(f"warning: {warning}", style="yellow"))
    return out.getvalue().encode()
