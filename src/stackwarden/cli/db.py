"""`stackwarden db …`: build, inspect, import, update and re-match with the vulnerability database."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from stackwarden.cli.common import handle_errors, progress_status, stderr, write_output

app = typer.Typer(help="Build, update, inspect and distribute the vulnerability database.",
                  no_args_is_help=True, rich_markup_mode=None)
DB_HELP = "Database file (default: $STACKWARDEN_DB, else the one `db update` writes)."


@app.command("build")
@handle_errors
def build(
    sources: Annotated[list[str], typer.Option(
        "--source", "-s", help="An advisory source: a file, directory or zip of OSV records "
        "(JSON or YAML, osv.dev's all.zip), an Alpine secdb tree, the RustSec or RubySec "
        "repository, CISA's KEV JSON or FIRST's EPSS CSV. Repeat for several. Prefix with a "
        "kind (osv:, alpine-secdb:, rustsec:, rubysec:, kev:, epss:) to skip detection.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Database file to write.")],
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
) -> None:
    """Build a vulnerability database from local advisory sources.

    Malformed records are skipped and counted; the first reasons are shown. The file is written under a temporary name and renamed when complete, so a failed build never leaves a half-written database.
    """
    from stackwarden.vulndb.build import build_database

    with progress_status(not quiet) as progress:
        report = build_database(sources, output, progress=progress)
    for src in report.sources:
        extra = f", {src.withdrawn} withdrawn" if src.withdrawn else ""
        stderr.print(f"{src.kind:<13} {src.location}: {src.records} records, {src.skipped} "
                     f"skipped{extra}", highlight=False, markup=False)
        for reason in src.reasons[:5]:
            stderr.print(f"    skipped: {reason}", highlight=False, markup=False)
    stderr.print(f"{report.advisories} advisories in {report.seconds:.1f} s "
                 f"({report.per_second:.0f}/s) -> {report.output}", highlight=False,
                 markup=False)


@app.command("status")
@handle_errors
def status(
    db: Annotated[Path | None, typer.Option("--db", help=DB_HELP)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Print the database's age, record counts and sources."""
    from stackwarden.scan import database_age_days
    from stackwarden.vulndb.store import VulnDB, default_db_path

    with VulnDB(db or default_db_path()) as opened:
        info = {"path": str(opened.path), **opened.meta, "counts": opened.counts(),
                "age_days": database_age_days(opened.meta.get("built_at", "")),
                "sources": opened.sources()}
    if as_json:
        write_output(json.dumps(info, indent=2).encode() + b"\n", None)
        return
    lines = [f"database   {info['path']}",
             f"built      {info.get('built_at', '?')} ({(info['age_days'] or 0):.1f} days ago) "
             f"by stackwarden {info.get('tool_version', '?')}, schema {info['schema_version']}",
             "records    " + ", ".join(f"{v} {k}" for k, v in info["counts"].items())]
    lines += [f"source     {s['kind']:<13} {s['records']:>7} records {s['skipped']:>5} skipped "
              f"sha256:{s['sha256'][:12]}  {s['location']}" for s in info["sources"]]
    write_output(("\n".join(lines) + "\n").encode(), None)


@app.command("rematch")
@handle_errors
def rematch(
    reports: Annotated[list[Path], typer.Argument(
        help="Stored scan reports (stackwarden scan --format json) or SBOM files.",
        show_default=False)],
    db: Annotated[Path | None, typer.Option("--db", help=DB_HELP)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Re-match stored SBOMs against the current database and print what changed.

    No image is pulled or read: the packages come from the stored report. For a scan report, findings are compared with the ones it recorded (new, fixed, unchanged); for a plain SBOM every finding is new.
    """
    from stackwarden.vulndb.rematch import rematch_files

    with progress_status(True) as progress:
        changes = rematch_files(reports, db, progress=progress)
    if as_json:
        write_output(json.dumps([c.to_dict() for c in changes], indent=2).encode() + b"\n",
                     None)
        return
    out = []
    for change in changes:
        out.append(f"{change.path}: {len(change.new)} new, {len(change.fixed)} fixed, "
                   f"{change.unchanged} unchanged")
        out += [f"  + {f.id} {f.package.name if f.package else ''} {f.severity}"
                for f in change.new]
        out += [f"  - {fid} {name}" for fid, name in change.fixed]
    write_output(("\n".join(out) + "\n").encode(), None)


@app.command("update")
@handle_errors
def update(
    db: Annotated[Path | None, typer.Option("--db", help="Database file to replace (default: "
                                            "$STACKWARDEN_DB, else the cache location).")]
    = None,
    sources: Annotated[list[str] | None, typer.Option(
        "--source", "-s", help="Replace the default sources (osv.dev's per-ecosystem all.zip, "
        "CISA KEV, FIRST EPSS) with these: URLs or paths, optionally prefixed with a kind "
        "(osv:, kev:, epss:, alpine-secdb:, rustsec:, rubysec:).")] = None,
    osv_mirror: Annotated[str | None, typer.Option(
        "--osv-mirror", help="Base URL of a mirror of osv.dev's bucket "
        "(<base>/<Ecosystem>/all.zip).")] = None,
    timeout: Annotated[float, typer.Option(help="Per-request network timeout, seconds.")]
    = 60.0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
) -> None:
    """Download the advisory sources and rebuild the database atomically.

    Every source is downloaded first; only when all downloads and the build succeed does the new file replace the old one. A failed or interrupted update leaves the previous database in use.
    """  # noqa: E501
    from stackwarden.vulndb.distribute import default_sources, update_database
    from stackwarden.vulndb.store import default_db_path

    chosen = sources or (default_sources(osv_mirror) if osv_mirror else None)
    target = db or default_db_path()
    with progress_status(not quiet) as progress:
        report = update_database(target, chosen, progress=progress, timeout=timeout)
    stderr.print(f"{report.advisories} advisories from {len(report.sources)} sources in "
                 f"{report.seconds:.1f} s -> {target}", highlight=False, markup=False)


@app.command("import")
@handle_errors
def import_file(
    file: Annotated[Path, typer.Argument(help="A database file built elsewhere "
                                         "(`stackwarden db build`).", show_default=False)],
    db: Annotated[Path | None, typer.Option("--db", help=DB_HELP)] = None,
) -> None:
    """Install a database file for air-gapped sites (validated, then renamed into place)."""
    from stackwarden.vulndb.distribute import install_file
    from stackwarden.vulndb.store import default_db_path

    target = db or default_db_path()
    meta = install_file(file, target)
    stderr.print(f"imported database built {meta.get('built_at')} -> {target}",
                 highlight=False, markup=False)


def _registry_options(username: str | None, password_stdin: bool, insecure: bool) -> object:
    import sys

    from stackwarden.artifact.registry import RegistryOptions

    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else None
    return RegistryOptions(username=username, password=password, insecure=insecure)


@app.command("push")
@handle_errors
def push(
    reference: Annotated[str, typer.Argument(help="REGISTRY/REPO:TAG to push to.",
                                             show_default=False)],
    db: Annotated[Path | None, typer.Option("--db", help=DB_HELP)] = None,
    username: Annotated[str | None, typer.Option(help="Registry user name.")] = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin",
                                                 help="Read the password from stdin.")] = False,
    insecure: Annotated[bool, typer.Option(help="Allow plain HTTP to a non-loopback registry.")]
    = False,
) -> None:
    """Push the database as an OCI artifact, for a fleet to pull through a registry it trusts."""
    from stackwarden.vulndb.distribute import push_database
    from stackwarden.vulndb.store import default_db_path

    result = push_database(db or default_db_path(), reference,
                           options=_registry_options(username, password_stdin, insecure))
    write_output(f"{result.reference}@{result.digest}\n".encode(), None)


@app.command("pull")
@handle_errors
def pull(
    reference: Annotated[str, typer.Argument(help="REGISTRY/REPO:TAG or @sha256:… to pull.",
                                             show_default=False)],
    db: Annotated[Path | None, typer.Option("--db", help=DB_HELP)] = None,
    username: Annotated[str | None, typer.Option(help="Registry user name.")] = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin",
                                                 help="Read the password from stdin.")] = False,
    insecure: Annotated[bool, typer.Option(help="Allow plain HTTP to a non-loopback registry.")]
    = False,
) -> None:
    """Pull a database artifact, verify its digest and integrity, and install it atomically."""
    from stackwarden.vulndb.distribute import pull_database
    from stackwarden.vulndb.store import default_db_path

    target = db or default_db_path()
    meta = pull_database(reference, target,
                         options=_registry_options(username, password_stdin, insecure))
    stderr.print(f"pulled database built {meta.get('built_at')} -> {target}", highlight=False,
                 markup=False)
