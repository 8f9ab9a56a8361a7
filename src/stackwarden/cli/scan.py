"""`stackwarden scan`: inventory a target and match it against the vulnerability database."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from stackwarden.cli.common import (
    check_output_paths,
    handle_errors,
    progress_status,
    stderr,
    write_outputs,
)
from stackwarden.core.errors import UsageError
from stackwarden.report import SCAN_FORMAT_NAMES

TARGET_HELP = ("What to scan: any `stackwarden sbom` target (oci-dir:, oci-archive:, "
               "docker-archive:, registry:, rootfs:, dir:, or a bare path or image reference), "
               "repo:PATH (a git repository: its files plus every commit's added lines for "
               "secrets), config:PATH (configuration files only: misconfiguration checks), "
               "or sbom:FILE to match an existing SBOM (CycloneDX JSON, SPDX JSON, Syft JSON, "
               "or StackWarden JSON).")


@handle_errors
def scan(
    targets: Annotated[list[str], typer.Argument(
        help=TARGET_HELP + " Several file paths scan just those files (what pre-commit passes).",
        show_default=False, metavar="TARGET...")],
    scanners: Annotated[list[str] | None, typer.Option(
        "--scanners", help="Scanners to run, comma-separated or repeated: vuln, secret, "
        "malware, misconfig, license (default: all).")] = None,
    output_formats: Annotated[list[str] | None, typer.Option(
        "--format", "-f", metavar="FORMAT[:FILE]",
        help=f"Report format, repeatable: {', '.join(SCAN_FORMAT_NAMES)}; FORMAT:FILE writes "
        "that report to FILE (atomically), so one scan can write several (docs/scanning.md). "
        "Default: table on stdout.")] = None,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Write the one --format given without a FILE to this file.")]
    = None,
    db: Annotated[Path | None, typer.Option(
        "--db", help="Vulnerability database file (default: $STACKWARDEN_DB, else the one "
        "`stackwarden db update` writes).")] = None,
    ignore_unfixed: Annotated[bool, typer.Option(
        "--ignore-unfixed", help="Suppress vulnerabilities that have no fixed version yet "
        "(they are still listed as suppressed in the JSON report).")] = False,
    max_db_age: Annotated[float, typer.Option(
        "--max-db-age", help="Warn when the database is older than this many days.")] = 7.0,
    platform: Annotated[str | None, typer.Option(
        help="Platform to pick from a multi-arch image (os/arch[/variant]).")] = None,
    username: Annotated[str | None, typer.Option(help="Registry user name.")] = None,
    password_stdin: Annotated[bool, typer.Option(
        "--password-stdin", help="Read the registry password from standard input.")] = False,
    insecure: Annotated[bool, typer.Option(
        help="Allow plain HTTP and unverified TLS to a non-loopback registry.")] = False,
    catalogers: Annotated[list[str] | None, typer.Option(
        "--catalogers", help="Choose catalogers by name or tag (see `stackwarden sbom --help`).")]
    = None,
    ignore_file: Annotated[Path | None, typer.Option(
        "--ignore-file", help="Ignore file (default: the policy file's ignore_file, else "
        ".stackwardenignore in the working directory when there is one).")] = None,
    vex: Annotated[list[Path] | None, typer.Option(
        "--vex", help="OpenVEX or CycloneDX VEX document; repeatable (later ones win ties).")]
    = None,
    policy: Annotated[Path | None, typer.Option(
        "--policy", help="Policy file (default: stackwarden.yaml in the working directory when "
        "there is one; schema in docs/ci.md).")] = None,
    fail_on: Annotated[str | None, typer.Option(
        "--fail-on", metavar="SEVERITY", help="Fail (exit 1) when a finding of this severity or "
        "worse remains after suppression: critical, high, medium, low, negligible, unknown.")]
    = None,
    exit_code: Annotated[int | None, typer.Option(
        "--exit-code", help="Exit code when the gate fails (default 1; 0 reports only). Alone, "
        "it fails the gate on any finding.")] = None,
    secret_config: Annotated[Path | None, typer.Option(
        "--secret-config", help="Secret rules to add or override (StackWarden TOML, or a "
        "gitleaks.toml as is; docs/secrets.md).")] = None,
    show_secrets: Annotated[bool, typer.Option(
        "--show-secrets", help="Show whole secrets in reports (default: first 4 characters).")]
    = False,
    branch: Annotated[str | None, typer.Option(
        help="repo:PATH: the branch whose history is scanned for secrets (default: HEAD).")]
    = None,
    all_branches: Annotated[bool, typer.Option(
        "--all-branches", help="repo:PATH: scan every branch and tag.")] = False,
    since: Annotated[str | None, typer.Option(
        help="repo:PATH: only commits after this date (anything `git log --since` accepts).")]
    = None,
    policy_dir: Annotated[list[Path] | None, typer.Option(
        "--policy-dir", help="A directory of custom misconfiguration checks in CEL (YAML files; "
        "docs/misconfig.md), repeatable.")] = None,
    yara_rules: Annotated[list[Path] | None, typer.Option(
        "--yara-rules", help="A directory of extra YARA rules (.yar/.yara), repeatable; added to "
        "the built-in rules.")] = None,
    blocklist: Annotated[list[Path] | None, typer.Option(
        "--blocklist", help="SHA-256 blocklist (one hash a line, or MalwareBazaar's CSV), "
        "repeatable.")] = None,
    clamd: Annotated[str | None, typer.Option(
        "--clamd", help="clamd to stream files to: a unix socket path or HOST:PORT.")] = None,
    license_deny: Annotated[list[str] | None, typer.Option(
        "--license-deny", help="SPDX ids (globs allowed) that fail the license scanner; "
        "replaces the default (AGPL-*, SSPL-*, OSL-3.0, RPL-*).")] = None,
    license_allow: Annotated[list[str] | None, typer.Option(
        "--license-allow", help="When given, only these SPDX ids (globs allowed) are "
        "acceptable.")] = None,
    cache_dir: Annotated[Path | None, typer.Option(
        "--cache-dir", help="Where per-layer and per-image results are cached (default: "
        "~/.cache/stackwarden/scan).")] = None,
    no_cache: Annotated[bool, typer.Option(
        "--no-cache", help="Analyse every layer afresh and store nothing.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
    server: Annotated[str | None, typer.Option(
        "--server", help="Also upload the JSON report to this StackWarden server (URL).")]
    = None,
    token: Annotated[str | None, typer.Option(
        "--token", envvar="STACKWARDEN_TOKEN", show_envvar=True,
        help="API token with the scan:submit scope, for --server.")] = None,
) -> None:
    """Scan TARGET for vulnerabilities, secrets, malware, misconfigurations and license problems.

    Each package is compared with the advisories of its ecosystem using that ecosystem's own version rules; distribution packages are matched by source package against the release the image runs. One vulnerability in one package is one finding listing all its ids (CVE, GHSA, PYSEC, …), with fixed versions, CVSS, EPSS and CISA KEV status.

    Policy (docs/ci.md): VEX documents and the ignore file move findings to `suppressed` with their reason; the gate (--fail-on, --exit-code, the policy file's rules) decides on the rest.

    Exit codes: 0 passed, 1 gate failed (or --exit-code), 2 usage or configuration error (including a bad policy, ignore or VEX file), 3 scan error (including a report that cannot be written).
    """  # noqa: E501
    from stackwarden.artifact.targets import TargetOptions
    from stackwarden.policy import apply_policy, load_policy
    from stackwarden.report import parse_outputs, render_scan
    from stackwarden.detect.license import DEFAULT_DENY, LicensePolicy
    from stackwarden.detect.registry import DetectorOptions
    from stackwarden.scan import GitHistory, ScanOptions, parse_scanners

    from stackwarden.artifact.targets import is_plain_file

    files: tuple[str, ...] = ()
    target = targets[0]
    if len(targets) > 1 or is_plain_file(target):
        if any(":" in t.split("/")[0] and not Path(t).exists() for t in targets):
            raise UsageError("several targets must all be file paths", source=" ".join(targets))
        files = tuple(targets)
        target = "files:" + " ".join(targets)
    from stackwarden.scan import scan as run_scan

    outputs = parse_outputs(output_formats or (), output)
    check_output_paths([path for _, path in outputs])
    if server and not token:
        raise UsageError("--server needs --token (or STACKWARDEN_TOKEN)", source="--token")
    if target.startswith("config:"):  # infrastructure-as-code only, unless scanners are named
        target = "dir:" + target[len("config:"):]
        scanners = scanners or ["misconfig"]
    chosen = parse_scanners(scanners or ())
    rules = load_policy(policy_file=policy, ignore_file=ignore_file, vex_files=vex or (),
                        fail_on=fail_on, exit_code=exit_code)
    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else None
    with progress_status(not quiet) as progress:
        options = TargetOptions(platform=platform, username=username, password=password,
                                insecure=insecure, progress=progress)
        scan_options = ScanOptions(
            db_path=db, ignore_unfixed=ignore_unfixed, max_db_age_days=max_db_age,
            catalogers=tuple(catalogers or ()),
            detectors=DetectorOptions(yara_rules=tuple(yara_rules or ()),
                                      blocklists=tuple(blocklist or ()), clamd=clamd,
                                      secret_config=secret_config, show_secrets=show_secrets,
                                      policy_dirs=tuple(policy_dir or ())),
            git=GitHistory(branch=branch, all_branches=all_branches, since=since),
            files=files,
            licenses=LicensePolicy(deny=tuple(license_deny or DEFAULT_DENY),
                                   allow=tuple(license_allow or ())),
            cache_dir=cache_dir, use_cache=not no_cache)
        result = run_scan(target, scanners=chosen, options=options, scan_options=scan_options,
                          progress=progress)
    result, decision = apply_policy(result, ignore=rules.ignore, vex=rules.vex, gate=rules.gate)
    write_outputs([(render_scan(result, fmt), path) for fmt, path in outputs])
    if server and token:
        from stackwarden.server.client import upload_report

        sent = upload_report(server, token, render_scan(result, "json"),
                             gate=decision.to_dict())
        stderr.print(f"uploaded to {server}: scan {sent.get('scan_id')}, {sent.get('new')} new, "
                     f"{sent.get('fixed')} fixed", highlight=False, markup=False)
    for warning in result.warnings:
        stderr.print(f"[yellow]warning:[/yellow] {escape(warning)}", highlight=False)
    for line in decision.summary():
        stderr.print(f"[red]{escape(line)}[/red]", highlight=False, soft_wrap=True)
    if decision.exit_code:
        raise typer.Exit(decision.exit_code)
