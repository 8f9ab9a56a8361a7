"""Markdown for pull-request comments: the summary first, then the findings, within a size limit.

GitHub refuses comments longer than 65,536 characters; the default limit leaves room for a
header a CI step might add. Rows that do not fit are left out with a note saying how many.
Every value is escaped, so advisory text or file names cannot inject markup, links or HTML.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from stackwarden.report.findings_dict import (
    SEVERITIES,
    kinds_in,
    sorted_findings,
    sorted_suppressed,
    suppression_info,
)
from stackwarden.report.text import location_text, valid_unicode

if TYPE_CHECKING:
    from stackwarden.core.findings import Finding
    from stackwarden.scan import ScanResult

DEFAULT_LIMIT = 65_000
MAX_CELL = 160
_ESCAPES = {c: f"\\{c}" for c in "\\`*_[]|~"} | {"<": "&lt;", ">": "&gt;", "&": "&amp;",
                                                       "\n": " ", "\r": " "}
_TABLE = str.maketrans(_ESCAPES)


def md(text: object, limit: int = MAX_CELL) -> str:
    """One value as inert Markdown table-cell text (escaped, one line, shortened)."""
    value = valid_unicode(str(text))
    if len(value) > limit:
        value = value[:limit - 1] + "…"
    return value.translate(_TABLE)


def _summary(result: ScanResult) -> list[str]:
    counts = Counter(f.severity for f in result.findings)
    worst = ", ".join(f"**{counts[s]} {s}**" for s in SEVERITIES if counts.get(s))
    lines = [f"## StackWarden scan: `{md(result.target, 200).replace('`', '')}`", ""]
    art = result.sbom.artifact
    digest = art.digest or art.config_digest
    if digest:
        os_release = result.sbom.os
        os_name = f" · {md(os_release.pretty_name or os_release.id)}" if os_release else ""
        lines += [f"Digest `{md(digest)}`{os_name}", ""]
    lines.append(f"**{len(result.findings)} findings**" + (f" ({worst})" if worst else "")
                 + f" · {len(result.suppressed)} suppressed · {len(result.skipped)} skipped "
                 f"· {len(result.sbom.packages)} packages")
    kinds = kinds_in(result)
    if kinds:
        lines += ["", "| Scanner | " + " | ".join(str(s) for s in SEVERITIES) + " | Total |",
                  "|---|" + "---:|" * (len(SEVERITIES) + 1)]
        for kind in kinds:
            per = Counter(f.severity for f in result.findings if f.kind is kind)
            lines.append(f"| {kind} | " + " | ".join(str(per.get(s, 0)) for s in SEVERITIES)
                         + f" | {sum(per.values())} |")
    for warning in result.warnings:
        lines += ["", f"> **Warning:** {md(warning, 500)}"]
    return lines


def _what(f: Finding) -> str:
    return f.package.name if f.package else location_text(f)


def _row(f: Finding) -> str:
    flags = " (KEV)" if f.in_kev else ""
    return (f"| {md(f.severity)} | {md(f.id)}{flags} | {md(_what(f))} | "
            f"{md(f.package.version if f.package else '')} | {md(', '.join(f.fixed_versions))} | "
            f"{md(f.title)} |")


def render_markdown(result: ScanResult, *, limit: int = DEFAULT_LIMIT) -> str:
    """The comment text, never longer than `limit` characters."""
    head = "\n".join(_summary(result))
    findings = sorted_findings(result.findings)
    rows = [_row(f) for f in findings]
    table_head = ["", "### Findings", "",
                  "| Severity | ID | Package / location | Installed | Fixed in | Title |",
                  "|---|---|---|---|---|---|"] if rows else []
    suppressed = [f"- {md(s.finding.id)} {md(_what(s.finding))}: "
                  f"{md(suppression_info(s)['reason'], 300)}"
                  for s in sorted_suppressed(result.suppressed)]
    out = head + "\n".join([""] + table_head)
    # Room for the notes that may follow the table.
    reserve = 400
    shown = 0
    for row in rows:
        if len(out) + len(row) + 1 + reserve > limit:
            break
        out += "\n" + row
        shown += 1
    if shown < len(rows):
        out += (f"\n\n_{len(rows) - shown} more findings are not shown (the comment is limited "
                f"to {limit:,} characters); see the JSON, SARIF or HTML report._")
    if suppressed:
        block = ["", "", f"<details><summary>{len(suppressed)} suppressed</summary>", ""]
        kept = 0
        for line in suppressed:
            if len(out) + sum(len(b) + 1 for b in block) + len(line) + reserve // 2 > limit:
                break
            block.append(line)
            kept += 1
        if kept < len(suppressed):
            block.append(f"- _… {len(suppressed) - kept} more (see the JSON report)_")
        block += ["", "</details>"]
        candidate = out + "\n".join(block)
        if len(candidate) + 1 <= limit:
            out = candidate
    out += "\n"
    return out if len(out) <= limit else out[:limit - 2] + "…\n"


def render_scan(result: ScanResult) -> bytes:
    """Markdown with the default limit (65,000 characters)."""
    return render_markdown(result).encode("utf-8")
