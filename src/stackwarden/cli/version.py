"""`stackwarden version`: print the tool version, or compare versions the way a scheme does."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from stackwarden import __version__
from stackwarden.cli.common import EXIT_USAGE, handle_errors, stderr
from stackwarden.core.errors import UsageError

SYMBOLS = {-1: "<", 0: "=", 1: ">"}

version_app = typer.Typer(
    name="version",
    help="Print StackWarden's version (no subcommand), or compare package versions.",
    invoke_without_command=True,
    no_args_is_help=False,
    add_completion=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@version_app.callback()
def version(ctx: typer.Context) -> None:
    """Print StackWarden's version; `stackwarden version compare` compares package versions."""
    if ctx.invoked_subcommand is None:
        typer.echo(__version__)


def compare(
    ecosystem: Annotated[str, typer.Argument(
        help="OSV ecosystem (Debian, Debian:12, Alpine, Red Hat, PyPI, npm, Go, crates.io, "
        "Maven, RubyGems, Packagist, NuGet, ...) or scheme name (dpkg, rpm, apk, pep440, "
        "semver, npm, go, maven, rubygems, composer, nuget, pub).", show_default=False)],
    a: Annotated[str, typer.Argument(
        help="First version, or `-` to read `A B` pairs from standard input, one per line.",
        show_default=False)],
    b: Annotated[str | None, typer.Argument(
        help="Second version (omitted with `-`).", show_default=False)] = None,
) -> None:
    """Print `<`, `=` or `>` as ECOSYSTEM orders version A against version B.

    With `-` instead of the versions, read `A B` pairs (whitespace-separated) from standard
    input and print one result per line; a line that cannot be compared prints
    `error: ...` naming the pair on standard error and `?` on standard output, the rest are
    still compared, and the exit status is then 2.

    Examples: stackwarden version compare Debian 1:2.0 2.5 ; stackwarden version compare
    npm 1.0.0-rc.1 1.0.0 ; printf '1.0 1.0~rc1\\n' | stackwarden version compare dpkg -
    """
    from stackwarden.vulndb.versions import InvalidVersion, UnknownEcosystem, scheme_for

    try:
        scheme = scheme_for(ecosystem)
    except UnknownEcosystem as exc:
        raise UsageError(exc.message, source="ECOSYSTEM") from None
    if a != "-":
        if b is None:
            raise UsageError("give two versions, or `-` to read pairs from standard input")
        try:
            typer.echo(SYMBOLS[scheme.compare(a, b)])
        except InvalidVersion as exc:
            raise UsageError(str(exc)) from None
        return
    if b is not None:
        raise UsageError("with `-`, versions come from standard input: give no second version")
    failed = 0
    out = sys.stdout
    for number, line in enumerate(sys.stdin, 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 2:
            failed += 1
            stderr.print(f"error: line {number}: expected two versions, got {line.strip()!r}",
                         markup=False, highlight=False, soft_wrap=True)
            out.write("?\n")
            continue
        try:
            out.write(SYMBOLS[scheme.compare(fields[0], fields[1])] + "\n")
        except InvalidVersion as exc:
            failed += 1
            stderr.print(f"error: line {number}: {fields[0]} {fields[1]}: {exc}", markup=False,
                         highlight=False, soft_wrap=True)
            out.write("?\n")
    out.flush()
    if failed:
        raise typer.Exit(EXIT_USAGE)


version_app.command("compare")(handle_errors(compare))
