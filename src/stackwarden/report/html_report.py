"""One self-contained HTML file: summary charts, a sortable and filterable findings table.

Works offline (no external resource of any kind), every value is HTML-escaped, and a Content
Security Policy allows only the page's own script (by hash): even a value that slipped through
escaping could not run. Charts are SVG drawn here; the script is a few lines of vanilla JS.
"""

from __future__ import annotations

import base64
import hashlib
from collections import Counter
from html import escape
from typing import TYPE_CHECKING

from stackwarden.core.findings import Finding, Severity
from stackwarden.report.findings_dict import (
    SEVERITIES,
    kinds_in,
    sorted_findings,
    sorted_suppressed,
    suppression_info,
)
from stackwarden.report.html_assets import SCRIPT, STYLE
from stackwarden.report.text import http_links, location_text, valid_unicode

if TYPE_CHECKING:
    from stackwarden.scan import ScanResult

COLORS = {Severity.CRITICAL: "#a50e0e", Severity.HIGH: "#e8590c", Severity.MEDIUM: "#f2a900",
          Severity.LOW: "#1971c2", Severity.NEGLIGIBLE: "#7d8a96", Severity.UNKNOWN: "#adb5bd"}


def _e(value: object) -> str:
    return escape(valid_unicode(str(value)), quote=True)


def _link(url: str, text: str) -> str:
    return f'<a href="{_e(url)}" rel="noopener noreferrer">{_e(text)}</a>'


def bar_chart(title: str, rows: list[tuple[str, list[tuple[Severity, int]]]]) -> str:
    """A horizontal stacked bar chart (one bar per row, one segment per severity) as inline SVG."""
    label_w, bar_w, row_h = 130, 260, 24
    total_max = max((sum(n for _, n in segs) for _, segs in rows), default=0) or 1
    height = row_h * len(rows) + 8
    width = label_w + bar_w + 60
    parts = [(f'<svg class="chart" role="img" aria-label="{_e(title)}" width="{width}" '
              f'height="{height}" viewBox="0 0 {width} {height}" '
              f'xmlns="http://www.w3.org/2000/svg"><title>{_e(title)}</title>')]
    for i, (label, segments) in enumerate(rows):
        y = i * row_h + 4
        parts.append(f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end">{_e(label)}</text>')
        x = float(label_w)
        for severity, count in segments:
            if not count:
                continue
            bar = bar_w * count / total_max
            parts.append(f'<rect x="{x:.1f}" y="{y}" width="{bar:.1f}" height="{row_h - 6}" '
                         f'fill="{COLORS[severity]}"><title>{count} {_e(severity)}</title></rect>')
            x += bar
        parts.append(f'<text x="{x + 6:.1f}" y="{y + 15}">{sum(n for _, n in segments)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _charts(result: ScanResult) -> str:
    counts = Counter(f.severity for f in result.findings)
    by_severity = [(str(s), [(s, counts.get(s, 0))]) for s in SEVERITIES]
    by_kind = []
    for kind in kinds_in(result):
        kind_counts = Counter(f.severity for f in result.findings if f.kind is kind)
        by_kind.append((str(kind), [(s, kind_counts.get(s, 0)) for s in SEVERITIES]))
    return (f'<figure>{bar_chart("Findings by severity", by_severity)}'
            '<figcaption>Findings by severity</figcaption></figure>'
            f'<figure>{bar_chart("Findings by scanner", by_kind)}'
            '<figcaption>Findings by scanner</figcaption></figure>')


def _details(f: Finding) -> str:
    parts = [f"<summary>{_e(f.title or f.id)}</summary>"]
    if f.description:
        parts.append(f'<p class="desc">{_e(f.description)}</p>')
    if f.remediation:
        parts.append(f"<p><strong>Remediation:</strong> {_e(f.remediation)}</p>")
    if f.aliases:
        parts.append(f"<p><strong>Aliases:</strong> {_e(', '.join(f.aliases))}</p>")
    if f.kev_due:
        parts.append(f"<p><strong>Known exploited</strong> (CISA KEV), due {_e(f.kev_due)}</p>")
    if f.epss:
        parts.append(f"<p>EPSS {f.epss[0]:.3f} (percentile {f.epss[1]:.3f})</p>")
    links = http_links(f.references)[:10]
    if links:
        parts.append("<ul>" + "".join(f"<li>{_link(u, u)}</li>" for u in links) + "</ul>")
    parts.append(f'<p class="fp">fingerprint {_e(f.fingerprint)}</p>')
    return f"<details>{''.join(parts)}</details>"


def _finding_row(f: Finding, layer_index: dict[str, int]) -> str:
    layer = layer_index.get(f.location.layer or "")
    where = location_text(f) if not f.package else (f.package.name + (
        f" ({location_text(f)})" if location_text(f) else ""))
    cells = [
        (f'<td data-sort="{f.severity.rank}"><span class="sev sev-{_e(f.severity)}">'
         f"{_e(f.severity)}</span></td>"),
        f"<td>{_e(f.kind)}</td>",
        f"<td>{_e(f.id)}{' <span class=kev>KEV</span>' if f.in_kev else ''}</td>",
        f"<td>{_e(where)}</td>",
        f"<td>{_e(f.package.version if f.package else '')}</td>",
        f"<td>{_e(', '.join(f.fixed_versions))}</td>",
        (f'<td data-sort="{layer if layer is not None else -1}">'
         f"{'' if layer is None else layer}</td>"),
        f'<td data-sort="{_e((f.title or f.id).lower())}">{_details(f)}</td>',
    ]
    return (f'<tr data-sev="{f.severity.rank}" data-kind="{_e(f.kind)}">'
            f"{''.join(cells)}</tr>")


def _findings_table(result: ScanResult) -> str:
    layer_index = {layer.diff_id: layer.index for layer in result.sbom.artifact.layers}
    headers = ("Severity", "Kind", "ID", "Package / location", "Installed", "Fixed in",
               "Layer", "Title")
    head = "".join(f'<th scope="col" aria-sort="none"><button type="button" data-col="{i}">'
                   f"{h}</button></th>" for i, h in enumerate(headers))
    rows = "\n".join(_finding_row(f, layer_index) for f in sorted_findings(result.findings))
    sev_options = "".join(f'<option value="{s.rank}">{s} or worse</option>'
                          for s in SEVERITIES if s is not Severity.UNKNOWN)
    kind_options = "".join(f'<option value="{_e(k)}">{_e(k)}</option>' for k in kinds_in(result))
    return (
        '<div class="filters"><label>Filter <input id="filter-text" type="search" '
        'placeholder="id, package, path, title…"></label> <label>Severity <select '
        f'id="filter-severity"><option value="">any</option>{sev_options}</select></label> '
        '<label>Scanner <select id="filter-kind"><option value="">any</option>'
        f'{kind_options}</select></label> <span id="shown" aria-live="polite"></span></div>'
        f'<table id="findings"><thead><tr>{head}</tr></thead><tbody>\n{rows}\n</tbody></table>'
        + ("" if result.findings else '<p class="none">No findings.</p>'))


def _suppressed_table(result: ScanResult) -> str:
    if not result.suppressed:
        return "<p>Nothing was suppressed.</p>"
    rows = []
    for s in sorted_suppressed(result.suppressed):
        info, f = suppression_info(s), s.finding
        status = " ".join(v for v in (info["status"], info["justification"]) if v)
        rows.append(f"<tr><td>{_e(f.severity)}</td><td>{_e(f.id)}</td>"
                    f"<td>{_e(f.package.name + ' ' + f.package.version if f.package else '')}"
                    f"{_e(' ' + location_text(f)) if not f.package else ''}</td>"
                    f"<td>{_e(info['source'])}</td><td>{_e(info['reason'])}</td>"
                    f"<td>{_e(status)}</td><td>{_e(info['origin'])}</td>"
                    f"<td>{_e(info['expires'])}</td></tr>")
    return ("<table><thead><tr><th>Severity</th><th>ID</th><th>Package / location</th>"
            "<th>Source</th><th>Reason</th><th>VEX status</th><th>From</th><th>Expires</th>"
            f"</tr></thead><tbody>{''.join(rows)}</tbody></table>")


def _meta(result: ScanResult) -> str:
    art = result.sbom.artifact
    os_name = result.sbom.os.pretty_name or result.sbom.os.id if result.sbom.os else ""
    items = [("Target", result.target), ("Kind", art.kind),
             ("Digest", art.digest or art.config_digest or ""), ("OS", os_name),
             ("Scanners", ", ".join(result.scanners)), ("Created", result.created),
             ("Database", result.database.get("built_at", "")),
             ("StackWarden", result.tool_version)]
    rows = "".join(f"<dt>{k}</dt><dd>{_e(v)}</dd>" for k, v in items if v)
    total = result.timings.get("total")
    if total is not None:
        rows += f'<dt>Duration</dt><dd><span class="duration">{total:.2f} s</span></dd>'
    return f"<dl>{rows}</dl>"


def _cards(result: ScanResult) -> str:
    cards = [("findings", len(result.findings)), ("suppressed", len(result.suppressed)),
             ("skipped files", len(result.skipped)), ("packages", len(result.sbom.packages))]
    return '<div class="cards">' + "".join(
        f'<div class="card"><b>{n}</b> {label}</div>' for label, n in cards) + "</div>"


def _packages(result: ScanResult) -> str:
    rows = "".join(f"<tr><td>{_e(p.name)}</td><td>{_e(p.version)}</td><td>{_e(p.type)}</td>"
                   f"<td>{_e(p.purl)}</td><td>{_e(', '.join(p.licenses))}</td></tr>"
                   for p in sorted(result.sbom.packages, key=lambda p: (p.name, p.version)))
    return (f"<details><summary>{len(result.sbom.packages)} packages</summary><table><thead>"
            "<tr><th>Name</th><th>Version</th><th>Type</th><th>PURL</th><th>Licenses</th></tr>"
            f"</thead><tbody>{rows}</tbody></table></details>")


def render_scan(result: ScanResult) -> bytes:
    """The HTML report (UTF-8)."""
    script_hash = base64.b64encode(hashlib.sha256(SCRIPT.encode()).digest()).decode()
    csp = (f"default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-{script_hash}'; "
           "img-src data:; base-uri 'none'; form-action 'none'")
    skipped_rows = "".join(f"<tr><td>{_e(s.path)}</td><td>{_e(s.reason)}</td><td>{_e(s.by)}</td>"
                           "</tr>" for s in result.skipped)
    skipped = ("<table><thead><tr><th>Path</th><th>Reason</th><th>By</th></tr></thead>"
               f"<tbody>{skipped_rows}</tbody></table>" if skipped_rows
               else "<p>No file was skipped.</p>")
    warning_items = "".join(f"<li>{_e(w)}</li>" for w in result.warnings)
    warnings = f'<ul class="warnings">{warning_items}</ul>' if warning_items else ""
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="StackWarden {_e(result.tool_version)}">
<title>StackWarden scan: {_e(result.target)}</title>
<style>{STYLE}</style>
</head>
<body>
<header><h1>StackWarden scan report</h1>{_meta(result)}</header>
<main>
<section id="summary"><h2>Summary</h2>{_cards(result)}<div class="charts">{_charts(result)}</div>
{warnings}</section>
<section><h2>Findings</h2>{_findings_table(result)}</section>
<section><h2>Suppressed ({len(result.suppressed)})</h2>{_suppressed_table(result)}</section>
<section><h2>Skipped files ({len(result.skipped)})</h2>{skipped}</section>
<section><h2>Inventory</h2>{_packages(result)}</section>
</main>
<script>{SCRIPT}</script>
</body>
</html>
"""
    return page.encode("utf-8")
