"""`scan-config` output (JSON and table) until misconfigurations join the main scan report.

The JSON form reuses the scan report's finding dictionaries, so the integrator can fold
these results into `ScanResult` without changing any field.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from stackwarden import __version__
from stackwarden.detect.misconfig.engine import Outcome
from stackwarden.detect.misconfig.kubernetes import WORKLOAD_KINDS
from stackwarden.detect.misconfig.model import Check
from stackwarden.report.findings_dict import finding_to_dict, severity_counts
from stackwarden.report.table import SEVERITY_STYLE

SCHEMA_VERSION = "1.0"
FORMATS = ("table", "json")


def outcome_to_dict(outcome: Outcome, target: str) -> dict[str, Any]:
    """The documented JSON form: summary, findings, suppressed (with reasons), skipped."""
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "stackwarden", "version": __version__},
        "target": target,
        "scanners": ["misconfig"],
        "summary": {
            "findings": len(outcome.findings),
            "by_severity": severity_counts(outcome.findings),
            "by_file_type": dict(sorted(Counter(str(f.evidence.get("file_type", ""))
                                                for f in outcome.findings).items())),
            "suppressed": len(outcome.suppressed),
            "skipped": len(outcome.skipped),
        },
        "findings": [finding_to_dict(f) for f in outcome.findings],
        "suppressed": [{"reason": reason, "finding": finding_to_dict(f)}
                       for f, reason in outcome.suppressed],
        "skipped": [{"path": s.path, "reason": s.reason, "by": s.by} for s in outcome.skipped],
    }


def render(outcome: Outcome, target: str, fmt: str, *, width: int = 160) -> bytes:
    """JSON or a terminal table."""
    if fmt == "json":
        return (json.dumps(outcome_to_dict(outcome, target), indent=2) + "\n").encode()
    out = io.StringIO()
    console = Console(file=out, width=width, highlight=False, color_system=None)
    counts = severity_counts(outcome.findings)
    console.print(f"{target}: {len(outcome.findings)} misconfigurations ("
                  + ", ".join(f"{n} {s}" for s, n in counts.items() if n) + ")"
                  if outcome.findings else f"{target}: no misconfigurations", markup=False)
    if outcome.findings:
        table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
        for column in ("SEVERITY", "ID", "LOCATION", "RESOURCE", "MESSAGE"):
            table.add_column(column, overflow="fold")
        for f in outcome.findings:
            where = f.location.path + (f":{f.location.line}" if f.location.line else "")
            table.add_row(Text(str(f.severity).upper(), style=SEVERITY_STYLE[f.severity]),
                          Text(f.id), Text(where), Text(f.location.resource or ""),
                          Text(str(f.evidence.get("message") or f.title)))
        console.print(table)
    if outcome.suppressed:
        console.print(f"\n{len(outcome.suppressed)} suppressed:", markup=False)
        for f, reason in outcome.suppressed:
            console.print(f"  {f.id} {f.location.path}:{f.location.line or ''}: {reason}",
                          markup=False)
    if outcome.skipped:
        console.print(f"\n{len(outcome.skipped)} skipped (not analysed):", markup=False)
        for skip in outcome.skipped:
            console.print(f"  {skip.path}: {skip.reason}", markup=False)
    return out.getvalue().encode()


FILE_TYPE_TITLES = {
    "dockerfile": "Dockerfile", "image-config": "Image configuration", "kubernetes": "Kubernetes",
    "compose": "Docker Compose", "terraform": "Terraform (AWS, Azure, GCP)",
    "cloudformation": "CloudFormation", "github-actions": "GitHub Actions",
    "gitlab-ci": "GitLab CI",
}


def checks_markdown(checks: Sequence[Check]) -> str:
    """The check list of docs/misconfig.md (kept in step by a test; regenerate it with
    `STACKWARDEN_UPDATE_DOCS=1 pytest tests/detect/misconfig/test_docs.py`)."""
    lines: list[str] = []
    for file_type, title in FILE_TYPE_TITLES.items():
        subset = [c for c in checks if c.file_type == file_type]
        lines += [f"### {title} ({len(subset)})", "",
                  "| ID | Severity | Title | Applies to | Controls |", "|---|---|---|---|---|"]
        for c in subset:
            kinds = "pods and workload templates" if c.kinds == WORKLOAD_KINDS else \
                ", ".join(sorted(c.kinds)) if len(c.kinds) <= 3 else f"{len(c.kinds)} kinds"
            lines.append(f"| {c.id} | {c.severity} | {c.title} | {kinds or 'all'} | "
                         f"{', '.join(c.controls) or '-'} |")
        lines.append("")
    return "\n".join(lines)
