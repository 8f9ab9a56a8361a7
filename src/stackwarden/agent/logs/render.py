"""Render an offline check: JSON (stable keys, schema version) or a plain table."""

from __future__ import annotations

import json

from stackwarden.agent.logs.alerts import iso
from stackwarden.agent.logs.check import CheckReport

_COLUMNS = ("LEVEL", "RULE", "GROUP", "COUNT", "FIRST", "LAST")


def render_json(report: CheckReport) -> bytes:
    """The report as indented JSON."""
    return json.dumps(report.to_dict(), indent=2, sort_keys=False, default=str).encode() + b"\n"


def render_table(report: CheckReport, width: int = 60) -> bytes:
    """One row per alert: level, rule title, group-by values, count, first and last time."""
    rows = [_COLUMNS]
    for alert in report.alerts:
        title = alert.title if len(alert.title) <= width else alert.title[:width - 1] + "…"
        rows.append((alert.level, title, alert.group_text or "-", str(alert.count),
                     iso(alert.first) or "-", iso(alert.last) or "-"))
    if len(rows) == 1:
        return b"no alerts\n"
    widths = [max(len(row[i]) for row in rows) for i in range(len(_COLUMNS))]
    lines = ["  ".join(cell.ljust(widths[i]) if i < len(widths) - 1 else cell
                       for i, cell in enumerate(row)) for row in rows]
    return ("\n".join(lines) + "\n").encode()


def summary(report: CheckReport) -> str:
    """One line: what was read, how fast, what was found."""
    events = sum(f.events for f in report.files)
    return (f"{report.lines} lines ({events} events) from {len(report.files)} file(s) in "
            f"{report.seconds:.2f} s ({report.lines_per_second:,.0f} lines/s); "
            f"{report.rules} rules, {report.correlations} correlations; "
            f"{report.matches} matches, {len(report.alerts)} alerts")
