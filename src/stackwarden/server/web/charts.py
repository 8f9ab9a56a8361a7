"""Charts as inline SVG drawn on the server: no script, no front-end library, printable, and
readable by screen readers (a title and a data table accompany each chart)."""

from __future__ import annotations

from html import escape

from markupsafe import Markup

from stackwarden.core.findings import Severity
from stackwarden.report.html_report import COLORS, bar_chart

SEVERITY_ORDER = ("critical", "high", "medium", "low", "negligible", "unknown")


def severity_bars(title: str, counts: dict[str, int]) -> Markup:
    """One bar per severity (the scan report's chart, reused)."""
    rows = [(s, [(Severity(s), counts.get(s, 0))]) for s in SEVERITY_ORDER]
    return Markup(bar_chart(title, rows))  # noqa: S704 - bar_chart escapes every value


def stacked_area(title: str, labels: list[str], series: dict[str, list[int]],
                 width: int = 640, height: int = 220) -> Markup:
    """Counts over time, stacked by severity (worst on top), with axes and a legend."""
    left, bottom, top, right = 44, 24, 10, 110
    plot_w, plot_h = width - left - right, height - top - bottom
    n = len(labels)
    order = [s for s in reversed(SEVERITY_ORDER) if s in series]
    totals = [sum(series[s][i] for s in order) for i in range(n)]
    peak = max(totals, default=0) or 1

    def x(i: int) -> float:
        return left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def y(v: float) -> float:
        return top + plot_h - plot_h * v / peak

    parts = [f'<svg class="chart trend" role="img" aria-label="{escape(title)}" '
             f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
             f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>']
    for frac in (0.0, 0.5, 1.0):
        value = peak * frac
        parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y(value):.1f}" '
                     f'y2="{y(value):.1f}" stroke="#dee2e6"/>')
        parts.append(f'<text x="{left - 6}" y="{y(value) + 4:.1f}" text-anchor="end" '
                     f'font-size="11">{int(round(value))}</text>')
    base = [0] * n
    for severity in order:
        upper = [base[i] + series[severity][i] for i in range(n)]
        if any(series[severity]):
            points = [f"{x(i):.1f},{y(upper[i]):.1f}" for i in range(n)]
            points += [f"{x(i):.1f},{y(base[i]):.1f}" for i in reversed(range(n))]
            parts.append(f'<polygon class="area-{severity}" points="{" ".join(points)}" '
                         f'fill="{COLORS[Severity(severity)]}" fill-opacity="0.85">'
                         f'<title>{escape(severity)}</title></polygon>')
        base = upper
    if n:
        for i in sorted({0, n // 2, n - 1}):
            parts.append(f'<text x="{x(i):.1f}" y="{height - 6}" text-anchor="middle" '
                         f'font-size="11">{escape(labels[i])}</text>')
    for k, severity in enumerate(reversed(order)):
        ly = top + 14 * k
        parts.append(f'<rect x="{width - right + 12}" y="{ly}" width="10" height="10" '
                     f'fill="{COLORS[Severity(severity)]}"/><text x="{width - right + 26}" '
                     f'y="{ly + 9}" font-size="11">{escape(severity)} '
                     f'{series[severity][-1] if n else 0}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every value above is escaped or numeric


def percent_line(title: str, labels: list[str], values: list[float],
                 width: int = 420, height: int = 140) -> Markup:
    """A 0-100 % line over time (compliance trend, gate pass rate)."""
    left, bottom, top, right = 36, 22, 8, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    n = len(values)

    def x(i: int) -> float:
        return left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def y(v: float) -> float:
        return top + plot_h - plot_h * v / 100

    parts = [f'<svg class="chart line" role="img" aria-label="{escape(title)}" '
             f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
             f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>']
    for value in (0, 50, 100):
        parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y(value):.1f}" '
                     f'y2="{y(value):.1f}" stroke="#dee2e6"/><text x="{left - 4}" '
                     f'y="{y(value) + 4:.1f}" text-anchor="end" font-size="10">{value}%</text>')
    if n:
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
        parts.append(f'<polyline points="{points}" fill="none" stroke="#1971c2" '
                     f'stroke-width="2"/>')
        for i, v in enumerate(values):
            parts.append(f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="3" fill="#1971c2">'
                         f'<title>{escape(labels[i])}: {v:.0f}%</title></circle>')
        for i in sorted({0, n - 1}):
            parts.append(f'<text x="{x(i):.1f}" y="{height - 5}" text-anchor="middle" '
                         f'font-size="10">{escape(labels[i])}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every value above is escaped or numeric
