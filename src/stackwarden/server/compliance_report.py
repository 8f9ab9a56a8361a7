"""Compliance reports as files: JSON (stable, for GRC tools), HTML (self-contained and
printable) and PDF (the HTML laid out by WeasyPrint)."""

from __future__ import annotations

import json
from typing import Any

from stackwarden import __version__
from stackwarden.core.errors import StackWardenError
from stackwarden.server.compliance import ComplianceReport
from stackwarden.server.web.charts import percent_line

FORMATS = ("json", "html", "pdf")
MEDIA_TYPES = {"json": "application/json", "html": "text/html; charset=utf-8",
               "pdf": "application/pdf"}


def render_json(report: ComplianceReport) -> bytes:
    """Stable JSON: fixed key order, controls in the framework's order, newline at the end."""
    return json.dumps(report.to_dict(), indent=2, ensure_ascii=False).encode() + b"\n"


def trend_chart(report: ComplianceReport) -> Any:
    """Share of assessed controls passing, per earlier evaluation."""
    points = [t for t in report.trend if t["pass"] + t["fail"]]
    return percent_line(f"{report.framework.name}: controls passing over time",
                        [str(t["at"])[:10] for t in points],
                        [100 * t["pass"] / (t["pass"] + t["fail"]) for t in points])


def render_html(report: ComplianceReport) -> bytes:
    """One printable HTML file (inline style, no script, no external resource)."""
    from stackwarden.server.web.core import templates

    html = templates.get_template("compliance_report.html").render(
        report=report, data=report.to_dict(), counts=report.counts(), version=__version__,
        chart=trend_chart(report) if len(report.trend) > 1 else "")
    return html.encode("utf-8")


def render_pdf(report: ComplianceReport) -> bytes:
    """The HTML report as PDF (WeasyPrint; needs Pango, see scripts/system-packages.txt)."""
    try:
        from weasyprint import HTML
    except (ImportError, OSError) as exc:  # OSError: the Pango library is missing
        raise StackWardenError(f"PDF output needs WeasyPrint and Pango: {exc}") from None
    pdf = HTML(string=render_html(report).decode("utf-8")).write_pdf()
    return bytes(pdf or b"")


def render(report: ComplianceReport, fmt: str) -> bytes:
    """The report in `fmt` (json, html or pdf)."""
    return {"json": render_json, "html": render_html, "pdf": render_pdf}[fmt](report)
