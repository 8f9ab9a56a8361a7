"""`stackwarden logs …`: run Sigma rules over log files offline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stackwarden.cli.common import handle_errors, parse_duration, stderr, write_output
from stackwarden.core.errors import UsageError

app = typer.Typer(help="Inspect logs with Sigma rules (built-in or your own).",
                  no_args_is_help=True, rich_markup_mode=None)


def parse_vars(items: list[str]) -> dict[str, list[str]]:
    """`NAME=V1,V2` -> {NAME: [V1, V2]} (placeholder values for `|expand` rules)."""
    values: dict[str, list[str]] = {}
    for item in items:
        name, sep, raw = item.partition("=")
        if not sep or not name:
            raise UsageError(f"--var expects NAME=VALUE[,VALUE…], got {item!r}")
        values[name.strip()] = [v.strip() for v in raw.split(",") if v.strip()]
    return values


def parse_overrides(items: list[str]) -> dict[str, object]:
    """`RULE.threshold=N` / `RULE.timespan=60s` -> CorrelationOverride per rule name or id."""
    from stackwarden.agent.logs.sigma.ruleset import CorrelationOverride

    wanted: dict[str, dict[str, float]] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        rule, dot, attribute = key.rpartition(".")
        if not sep or not dot or attribute not in ("threshold", "timespan"):
            raise UsageError(f"--set expects RULE.threshold=N or RULE.timespan=DURATION, "
                             f"got {item!r}")
        if attribute == "timespan":
            value = parse_duration(raw, f"--set {key}")
        else:
            try:
                value = float(raw)
            except ValueError:
                raise UsageError(f"--set {key}: {raw!r} is not a number") from None
        wanted.setdefault(rule, {})[attribute] = value
    return {rule: CorrelationOverride(**attrs) for rule, attrs in wanted.items()}


@app.command("check")
@handle_errors
def check(
    files: Annotated[list[Path], typer.Argument(help="Log files to check.", show_default=False)],
    rules: Annotated[list[Path] | None, typer.Option(
        "--rules", "-r", help="Sigma rule file or directory (repeatable); replaces the "
        "built-in rules unless --builtin is given.")] = None,
    builtin: Annotated[bool, typer.Option(
        "--builtin", help="Also run the built-in rules when --rules is given.")] = False,
    output_format: Annotated[str, typer.Option(
        "--format", "-f", help="json or table.")] = "table",
    log_format: Annotated[str | None, typer.Option(
        "--log-format", help="Decoder: syslog, journald, auditd, web, nginx, apache, "
        "k8s-audit, suricata-eve, json, raw (default: detected per file).")] = None,
    logsource: Annotated[str | None, typer.Option(
        "--logsource", help="Log source of raw/json input: product=P,category=C,service=S.")
    ] = None,
    variables: Annotated[list[str] | None, typer.Option(
        "--var", help="Placeholder values: NAME=V1,V2 (e.g. sudo_root_allowed_users=alice).")
    ] = None,
    overrides: Annotated[list[str] | None, typer.Option(
        "--set", help="Correlation override: RULE.threshold=N or RULE.timespan=60s "
        "(RULE is the rule's name or id).")] = None,
    skip_bad_rules: Annotated[bool, typer.Option(
        "--skip-bad-rules", help="Warn about rules that fail to load and run the others.")
    ] = False,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write here.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No summary on stderr.")] = False,
) -> None:
    """Run rules over log files offline, like fail2ban-regex: one alert per incident.

    An alert names the rule, its level, the group-by values (such as the source address), how many events it covers and the first and last time. A rule that fails to load is an error naming its file and field (or a warning with --skip-bad-rules).
    """
    from stackwarden.agent.logs.check import (
        BUILTIN_RULES,
        check_files,
        default_settings,
        load_ruleset,
    )
    from stackwarden.agent.logs.events import parse_logsource
    from stackwarden.agent.logs.render import render_json, render_table, summary

    if output_format not in ("json", "table"):
        raise UsageError(f"--format must be json or table, not {output_format!r}")
    rule_paths = list(rules or [])
    if not rule_paths or builtin:
        rule_paths.insert(0, BUILTIN_RULES)
    settings = default_settings(parse_vars(variables or []),
                                overrides=parse_overrides(overrides or []))
    ruleset = load_ruleset(rule_paths, settings, strict=not skip_bad_rules)
    for failure in ruleset.failures:
        stderr.print(f"warning: rule not loaded: {failure}", markup=False, highlight=False)
    report = check_files(files, ruleset, log_format=log_format,
                         source=parse_logsource(logsource) if logsource else None)
    rendered = render_json(report) if output_format == "json" else render_table(report)
    write_output(rendered, output)
    if not quiet:
        stderr.print(summary(report), markup=False, highlight=False)
