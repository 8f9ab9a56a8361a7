"""`stackwarden fim …`: file integrity monitoring on its own, like AIDE."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer

from stackwarden.cli.common import EXIT_GATE, handle_errors, stderr, write_output
from stackwarden.core.errors import UsageError

app = typer.Typer(help="File integrity monitoring: baseline files, check them, watch them.",
                  no_args_is_help=True, rich_markup_mode=None)

DbOption = Annotated[Path, typer.Option("--db", help="The baseline database (SQLite) file.")]


def _say(message: str) -> None:
    stderr.print(message, markup=False, highlight=False, soft_wrap=True)


@app.command("baseline")
@handle_errors
def baseline(
    paths: Annotated[list[str], typer.Argument(help="Files and directories to monitor.",
                                               show_default=False)],
    db: DbOption,
    ignore: Annotated[list[str] | None, typer.Option(
        "--ignore", "-i", help="Glob to leave out (repeatable): with a / it matches the full "
        "path ('/var/log/*'), without one any name ('*.swp').")] = None,
    diff: Annotated[list[str] | None, typer.Option(
        "--diff", help="Glob of small text files whose content is kept (redacted) so checks "
        "show a diff (repeatable; default /etc/*).")] = None,
    diff_max_bytes: Annotated[int, typer.Option(
        "--diff-max-bytes", help="Largest file kept for diffs; 0 turns diffs off.")] = 65536,
    one_file_system: Annotated[bool, typer.Option(
        "--one-file-system", "-x", help="Do not descend into other mounted filesystems.")
    ] = False,
    root: Annotated[str, typer.Option(
        "--root", help="System root whose dpkg/rpm database recognises package updates.")
    ] = "/",
    workers: Annotated[int, typer.Option(
        "--workers", help="Hashing processes (0: one per CPU).")] = 0,
    no_xattrs: Annotated[bool, typer.Option(
        "--no-xattrs", help="Do not record extended attributes and capabilities.")] = False,
    output_format: Annotated[str, typer.Option("--format", "-f", help="table or json.")
                             ] = "table",
) -> None:
    """Record SHA-256, size, mode, owner, group, mtime, inode, symlink target, file
    capabilities and extended attributes of every path below PATH... into --db.

    The database is replaced atomically and created readable by its owner only. Paths that
    cannot be read are listed and the rest is recorded.
    """
    from stackwarden.agent.fim import Baseline, FimOptions
    from stackwarden.agent.fim.model import DEFAULT_DIFF_GLOBS

    _check_format(output_format)
    if diff_max_bytes < 0 or workers < 0:
        raise UsageError("--diff-max-bytes and --workers cannot be negative")
    options = FimOptions(ignore=tuple(ignore or ()), one_filesystem=one_file_system,
                         workers=workers, diff_globs=tuple(diff or DEFAULT_DIFF_GLOBS),
                         diff_max_bytes=diff_max_bytes, root=root, xattrs=not no_xattrs)
    result = Baseline.build(paths, db, options)
    for note in result.notes:
        _say(f"warning: {note}")
    if output_format == "json":
        write_output(json.dumps(result.to_dict(), indent=2).encode() + b"\n", None)
    else:
        _say(f"baseline of {result.files} paths under {', '.join(result.roots)} written to "
             f"{db} in {result.seconds:.2f} s")


def _check_format(value: str) -> None:
    if value not in ("json", "table"):
        raise UsageError(f"--format must be json or table, not {value!r}")


@app.command("check")
@handle_errors
def check(
    db: DbOption,
    output_format: Annotated[str, typer.Option("--format", "-f", help="table or json.")
                             ] = "table",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write here.")] = None,
    update: Annotated[bool, typer.Option(
        "--update", help="Accept what changed into the baseline after reporting it.")] = False,
    exit_zero: Annotated[bool, typer.Option(
        "--exit-zero", help="Exit 0 even when something changed.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No summary on stderr.")] = False,
) -> None:
    """Walk the baseline's paths again and report every change: added, modified (content,
    type or symlink target), deleted, metadata (mode, owner, group, mtime, inode,
    capabilities, xattrs), with before and after.

    A changed file whose new content matches the digest dpkg or rpm records for it is labelled
    package_update. Exit code 1 when anything changed (0 with --exit-zero), 3 on error.
    """
    from stackwarden.agent.fim import check as run_check
    from stackwarden.agent.fim.render import render_json, render_table, summary

    _check_format(output_format)
    result = run_check(str(db), update=update)
    for note in result.notes:
        _say(f"warning: {note}")
    write_output(render_json(result) if output_format == "json" else render_table(result),
                 output)
    if not quiet:
        _say(summary(result) + (" (accepted into the baseline)" if update else ""))
    if result.changes and not exit_zero:
        raise typer.Exit(EXIT_GATE)


@app.command("watch")
@handle_errors
def watch(
    db: DbOption,
    interval: Annotated[float, typer.Option(
        "--interval", help="Seconds between full checks while inotify works.")] = 3600.0,
    fallback_interval: Annotated[float, typer.Option(
        "--fallback-interval", help="Seconds between full checks when inotify cannot be "
        "used (watch limit reached).")] = 300.0,
    duration: Annotated[float | None, typer.Option(
        "--duration", help="Stop after this many seconds (default: until interrupted).")
    ] = None,
    no_realtime: Annotated[bool, typer.Option(
        "--no-realtime", help="Scheduled full checks only (no inotify).")] = False,
    output_format: Annotated[str, typer.Option(
        "--format", "-f", help="json (one change per line) or table (one line each).")
    ] = "table",
) -> None:
    """Report changes as they happen (inotify through watchdog), plus scheduled full checks.

    Every change is reported once and accepted into the baseline. When the kernel's inotify
    watch limit (fs.inotify.max_user_watches) is reached the watcher says so on stderr and
    falls back to scheduled full checks every --fallback-interval seconds.
    """
    from stackwarden.agent.fim.render import describe
    from stackwarden.agent.fim.watch import FimWatcher

    _check_format(output_format)
    if interval <= 0 or fallback_interval <= 0:
        raise UsageError("--interval and --fallback-interval must be positive")

    def on_change(change: object) -> None:
        if output_format == "json":
            line = json.dumps(change.to_dict(), ensure_ascii=False)  # type: ignore[attr-defined]
        else:
            line = f"{change.change}\t{change.path}\t{describe(change)}"  # type: ignore[attr-defined]
            if change.label:  # type: ignore[attr-defined]
                line += f"\t{change.label}"  # type: ignore[attr-defined]
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    watcher = FimWatcher(str(db), on_change,
                         on_notice=lambda n: _say(f"{n.level}: {n.message}"),
                         interval=interval, fallback_interval=fallback_interval,
                         realtime=not no_realtime)
    signal.signal(signal.SIGTERM, lambda *_: watcher.stop())
    try:
        watcher.run(duration)
    except KeyboardInterrupt:
        watcher.stop()
