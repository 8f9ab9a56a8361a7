"""`stackwarden secrets scan PATH`: find credentials in a directory or in a repository's history."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import typer

from stackwarden import __version__
from stackwarden.cli.common import EXIT_GATE, handle_errors, stderr, write_output
from stackwarden.core.errors import UsageError

app = typer.Typer(help="Secret detection (credentials, tokens, private keys, passwords).",
                  no_args_is_help=True, rich_markup_mode=None)
FORMATS = ("table", "json")
SCHEMA_VERSION = "1.0"


@app.command("scan")
@handle_errors
def scan(
    path: Annotated[Path, typer.Argument(help="Directory or file to scan (with --git: a "
                                         "repository).", show_default=False)],
    git: Annotated[bool, typer.Option("--git", help="Scan the lines every commit added to "
                                      "the repository's history instead of the files.")] = False,
    since: Annotated[str | None, typer.Option(help="With --git: only commits after this date "
                                              "(anything `git log --since` accepts).")] = None,
    branch: Annotated[str | None, typer.Option(help="With --git: the branch or ref to walk "
                                               "(default: HEAD).")] = None,
    all_branches: Annotated[bool, typer.Option("--all-branches", help="With --git: walk every "
                                               "ref (branches, tags, remotes).")] = False,
    secret_config: Annotated[list[Path] | None, typer.Option(
        "--secret-config", help="Rule file adding, overriding or disabling rules (our TOML "
        "format or a gitleaks.toml); repeat to layer several.")] = None,
    show_secrets: Annotated[bool, typer.Option(
        "--show-secrets", help="Print secrets in full instead of their first 4 characters.")]
    = False,
    output_format: Annotated[str, typer.Option("--format", "-f", help="table or json.")]
    = "table",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the report to "
                                                "this file (atomically).")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes (default: one per "
                                                "CPU).")] = None,
    fail: Annotated[bool, typer.Option("--fail", help="Exit with code 1 when anything is "
                                       "found.")] = False,
) -> None:
    """Scan PATH for secrets and print the findings (secrets redacted unless --show-secrets).

    Exit codes: 0 scan done, 1 findings with --fail, 2 usage or rule-file error, 3 scan error.
    """
    from stackwarden.detect.secrets.directory import scan_directory
    from stackwarden.detect.secrets.git import GitOptions, scan_git_history

    if output_format not in FORMATS:
        raise UsageError(f"unknown format {output_format!r} (choose from table, json)",
                         source="--format")
    if not git and (since or branch or all_branches):
        raise UsageError("--since, --branch and --all-branches need --git")
    configs = tuple(secret_config or ())
    if git:
        options = GitOptions(branch=branch, all_branches=all_branches, since=since)
        result = scan_git_history(path, options=options, configs=configs,
                                  show_secrets=show_secrets, workers=workers)
    else:
        result = scan_directory(path, configs=configs, show_secrets=show_secrets,
                                workers=workers)
    render = _json if output_format == "json" else _table
    write_output(render(result, str(path), git), output)
    for warning in result.warnings:
        stderr.print(f"[yellow]warning:[/yellow] {warning}", highlight=False, markup=True)
    if fail and result.findings:
        raise typer.Exit(EXIT_GATE)


@app.command("rules")
@handle_errors
def rules(
    secret_config: Annotated[list[Path] | None, typer.Option(
        "--secret-config", help="Rule files to layer on the shipped rules (as for scan).")]
    = None,
    output_format: Annotated[str, typer.Option("--format", "-f", help="table or json.")]
    = "table",
) -> None:
    """List the secret rules in force: id, severity, title and format documentation."""
    from stackwarden.detect.secrets.rules import load_ruleset

    if output_format not in FORMATS:
        raise UsageError(f"unknown format {output_format!r} (choose from table, json)",
                         source="--format")
    ruleset = load_ruleset(tuple(secret_config or ()))
    rows = [{"id": r.id, "severity": str(r.severity), "title": r.title,
             "reference": r.reference, "source": r.source, "tags": list(r.tags)}
            for r in ruleset.rules]
    if output_format == "json":
        from stackwarden.report.json_report import dump

        write_output(dump({"schema_version": SCHEMA_VERSION, "rules": rows}), None)
    else:
        lines = [f"{r['id']:45} {r['severity']:8} {r['title']}" for r in rows]
        write_output(("\n".join(lines) + f"\n{len(rows)} rules\n").encode(), None)
    for warning in ruleset.warnings:
        stderr.print(f"[yellow]warning:[/yellow] {warning}", highlight=False, markup=True)


def _json(result: Any, target: str, git: bool) -> bytes:
    from stackwarden.report.findings_dict import finding_to_dict, severity_counts
    from stackwarden.report.json_report import dump

    doc = {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "stackwarden", "version": __version__},
        "target": target,
        "mode": "git" if git else "directory",
        "summary": {
            "findings": len(result.findings),
            "by_severity": severity_counts(result.findings),
            "by_rule": dict(sorted(Counter(f.id for f in result.findings).items())),
            "skipped": len(result.skipped),
        },
        "findings": [finding_to_dict(f) for f in result.findings],
        "skipped": [{"path": s.path, "reason": s.reason, "by": s.by} for s in result.skipped],
        "warnings": list(result.warnings),
        "stats": {"files": result.files, "bytes": result.bytes, "commits": result.commits,
                  "seconds": round(result.seconds, 3)},
    }
    return dump(json.loads(json.dumps(doc, default=str)))


def _table(result: Any, target: str, git: bool) -> bytes:
    import io

    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from stackwarden.report.findings_dict import severity_counts
    from stackwarden.report.table import SEVERITY_STYLE

    out = io.StringIO()
    console = Console(file=out, width=160, highlight=False, color_system=None)
    counts = ", ".join(f"{n} {s}" for s, n in severity_counts(result.findings).items() if n)
    scanned = (f"{result.commits} commits" if git else f"{result.files} files") + \
        f", {result.bytes / 1e6:.1f} MB in {result.seconds:.1f} s"
    console.print(Text(f"{target}: {len(result.findings)} secrets "
                       f"({counts or 'none'}); {scanned}"))
    if result.findings:
        table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
        for column in ("SEVERITY", "RULE", "LOCATION", "SECRET", "TITLE"):
            table.add_column(column, overflow="fold")
        for f in result.findings:
            where = f.location.path + (f":{f.location.line}" if f.location.line else "")
            if f.location.commit:
                where += f" @ {f.location.commit[:12]}"
            table.add_row(Text(str(f.severity).upper(), style=SEVERITY_STYLE[f.severity]),
                          Text(f.id), Text(where), Text(str(f.evidence.get("secret", ""))),
                          Text(f.title))
        console.print(table)
    if result.skipped:
        console.print(Text(f"\n{len(result.skipped)} skipped:"))
        for skip in result.skipped[:20]:
            console.print(Text(f"  {skip.path}: {skip.reason}"))
    return out.getvalue().encode()
