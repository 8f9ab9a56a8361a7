"""`stackwarden registry …`: watch registries on a StackWarden server (docs/registry-monitoring.md).

Thin: each command is one API call to the server named by --server / STACKWARDEN_SERVER_URL.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from stackwarden.cli.common import handle_errors, stderr
from stackwarden.core.errors import UsageError

app = typer.Typer(help="Watch container registries continuously: every pushed image scanned, "
                  "every stored image re-checked when the vulnerability database changes "
                  "(docs/registry-monitoring.md).", no_args_is_help=True, rich_markup_mode=None)
golden_app = typer.Typer(help="Golden images: each new build is diffed with the previous one "
                         "and the difference alerted.", no_args_is_help=True,
                         rich_markup_mode=None)
app.add_typer(golden_app, name="golden")

Server = Annotated[str, typer.Option(
    "--server", envvar="STACKWARDEN_SERVER_URL", help="The server's URL (http(s)://HOST:PORT).")]
Token = Annotated[str, typer.Option(
    "--token", envvar="STACKWARDEN_TOKEN", help="An API token (admin to add or remove).")]
AsJson = Annotated[bool, typer.Option("--json", help="Print the server's JSON answer.")]
RegistryId = Annotated[int, typer.Argument(help="The registry's id (see `registry list`).",
                                           min=1)]


def _call(server: str, token: str, method: str, path: str, **kw: Any) -> Any:
    from stackwarden.server.client import call_api

    if not token:
        raise UsageError("a token is needed: --token or STACKWARDEN_TOKEN", source="--token")
    return call_api(server, token, method, f"/api/v1{path}", **kw)


def _print_json(doc: Any) -> None:
    typer.echo(json.dumps(doc, indent=2, sort_keys=True))


@app.command("add")
@handle_errors
def add(
    url: Annotated[str, typer.Argument(help="https://HOST[:PORT] (plain http:// only for "
                                       "loopback hosts or with --insecure).")],
    server: Server, token: Token = "",
    username: Annotated[str, typer.Option(help="Registry user name.")] = "",
    password_stdin: Annotated[bool, typer.Option(
        "--password-stdin", help="Read the registry password from standard input.")] = False,
    include: Annotated[list[str] | None, typer.Option(
        "--include", help="Repository glob to watch (repeatable; default: all).")] = None,
    exclude: Annotated[list[str] | None, typer.Option(
        "--exclude", help="Repository glob to skip (repeatable).")] = None,
    interval: Annotated[str, typer.Option(help="Time between sweeps: 90s, 15m, 1h, 1d.")]
    = "15m",
    name: Annotated[str, typer.Option(help="A name for the registry (default: its host).")]
    = "",
    insecure: Annotated[bool, typer.Option(
        help="Allow plain HTTP and unverified TLS for this registry.")] = False,
    ca_file: Annotated[Path | None, typer.Option(
        "--ca-file", help="PEM file of CAs to trust for this registry.")] = None,
    scanners: Annotated[str, typer.Option(help="Scanners to run on each new image.")]
    = "vuln,secret,misconfig",
    as_json: AsJson = False,
) -> None:
    """Watch a registry: sweep it now and every --interval; print the notification token."""
    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else ""
    ca = ""
    if ca_file is not None:
        try:
            ca = ca_file.read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read: {exc}", source=str(ca_file)) from None
    body = {"url": url, "name": name, "username": username, "password": password,
            "include": include or [], "exclude": exclude or [], "interval": interval,
            "insecure": insecure, "ca_cert": ca,
            "scanners": [s for s in scanners.split(",") if s.strip()]}
    answer = _call(server, token, "POST", "/registries", body=body)
    if as_json:
        _print_json(answer)
        return
    note = answer["notification"]
    stderr.print(f"watching {answer['name']} (id {answer['id']}); first sweep queued "
                 f"(job {answer['sweep_job']})", markup=False)
    stderr.print(f"push notifications: POST {server.rstrip('/')}{note['path']} with header "
                 "'Authorization: Bearer <token>'; the token (shown once):", markup=False)
    typer.echo(note["token"])


def _age(value: str | None) -> str:
    return value or "-"


@app.command("list")
@handle_errors
def list_(server: Server, token: Token = "", as_json: AsJson = False) -> None:
    """Watched registries: sweep state, last error, counts."""
    answer = _call(server, token, "GET", "/registries")
    if as_json:
        _print_json(answer)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("id", "name", "sweep", "last success", "repos", "tags", "scanned", "queued",
                  "failed", "last error")
    for r in answer["items"]:
        c, s = r["counts"], r["sweep"]
        table.add_row(str(r["id"]), r["name"], s["state"], _age(s["last_success"]),
                      str(c["repositories"]), str(c["tags"]), str(c["scanned"]),
                      str(c["queued"]), str(c["failed"]), (s["last_error"] or "")[:80])
    Console().print(table)


@app.command("remove")
@handle_errors
def remove(registry_id: RegistryId, server: Server, token: Token = "") -> None:
    """Stop watching a registry (scanned images and findings stay)."""
    _call(server, token, "DELETE", f"/registries/{registry_id}")
    stderr.print(f"registry {registry_id} is no longer watched", markup=False)


@app.command("sweep")
@handle_errors
def sweep(registry_id: RegistryId, server: Server, token: Token = "") -> None:
    """Sweep a registry now instead of waiting for its interval."""
    job = _call(server, token, "POST", f"/registries/{registry_id}/sweep")
    stderr.print(f"sweep queued (job {job['id']})", markup=False)


@app.command("rematch")
@handle_errors
def rematch(server: Server, token: Token = "") -> None:
    """Re-match every stored image SBOM against the server's database now (no pulls)."""
    job = _call(server, token, "POST", "/registries/rematch")
    stderr.print(f"re-match queued (job {job['id']})", markup=False)


@app.command("images")
@handle_errors
def images(registry_id: RegistryId, server: Server, token: Token = "",
           repository: Annotated[str | None, typer.Option(help="Only this repository.")] = None,
           as_json: AsJson = False) -> None:
    """Images found in a registry, one per digest, with tags and scan state."""
    answer = _call(server, token, "GET", f"/registries/{registry_id}/images",
                   params={"repository": repository} if repository else None)
    if as_json:
        _print_json(answer)
        return
    for item in answer["items"]:
        typer.echo(f"{item['state']:<9} {item['repository']}@{item['digest']} "
                   f"[{', '.join(item['tags'])}]{' golden' if item['golden'] else ''}")


@app.command("history")
@handle_errors
def history(registry_id: RegistryId, repository: Annotated[str, typer.Argument(
        help="Repository name.")], server: Server, token: Token = "",
            tag: Annotated[str | None, typer.Option(help="Only this tag.")] = None,
            as_json: AsJson = False) -> None:
    """Tag history: each digest a tag pointed at, and when."""
    params = {"repository": repository, **({"tag": tag} if tag else {})}
    answer = _call(server, token, "GET", f"/registries/{registry_id}/history", params=params)
    if as_json:
        _print_json(answer)
        return
    for item in answer["items"]:
        typer.echo(f"{item['tag']:<20} {item['digest']} {item['first_seen']} .. "
                   f"{item['last_seen']}{' (current)' if item['current'] else ''}")


@app.command("alerts")
@handle_errors
def alerts(server: Server, token: Token = "",
           kind: Annotated[str | None, typer.Option(help="Only this kind.")] = None,
           as_json: AsJson = False) -> None:
    """Alerts raised by registry monitoring, newest first."""
    answer = _call(server, token, "GET", "/registry-alerts",
                   params={"kind": kind} if kind else None)
    if as_json:
        _print_json(answer)
        return
    for item in answer["items"]:
        typer.echo(f"{item['created_at']} {item['kind']:<22} {item['title']}")


@golden_app.command("add")
@handle_errors
def golden_add(registry_id: RegistryId,
               repository: Annotated[str, typer.Argument(help="Repository glob.")],
               server: Server, token: Token = "",
               tag: Annotated[str, typer.Option(help="Tag glob.")] = "*") -> None:
    """Mark a repository (and tag pattern) as golden."""
    rule = _call(server, token, "POST", f"/registries/{registry_id}/golden",
                 body={"repository": repository, "tag": tag})
    stderr.print(f"golden rule {rule['id']}: {rule['repository']}:{rule['tag']}", markup=False)


@golden_app.command("list")
@handle_errors
def golden_list(registry_id: RegistryId, server: Server, token: Token = "") -> None:
    """The registry's golden-image rules."""
    for rule in _call(server, token, "GET", f"/registries/{registry_id}/golden")["items"]:
        typer.echo(f"{rule['id']:>4} {rule['repository']}:{rule['tag']}")


@golden_app.command("remove")
@handle_errors
def golden_remove(registry_id: RegistryId, rule_id: Annotated[int, typer.Argument(min=1)],
                  server: Server, token: Token = "") -> None:
    """Remove a golden-image rule."""
    _call(server, token, "DELETE", f"/registries/{registry_id}/golden/{rule_id}")
    stderr.print(f"golden rule {rule_id} removed", markup=False)


@golden_app.command("diff")
@handle_errors
def golden_diff(server: Server, token: Token = "",
                diff_id: Annotated[int | None, typer.Argument(
                    help="A diff's id; without it, the latest diffs.", min=1)] = None,
                repository: Annotated[str | None, typer.Option(help="Only this repository.")]
                = None, as_json: AsJson = False) -> None:
    """Golden-image diffs: packages, findings and configuration drift between builds."""
    if diff_id is None:
        answer = _call(server, token, "GET", "/golden-diffs",
                       params={"repository": repository} if repository else None)
        if as_json:
            _print_json(answer)
            return
        for item in answer["items"]:
            summary = ", ".join(f"{k} {v}" for k, v in item["summary"].items() if v)
            typer.echo(f"{item['id']:>4} {item['repository']}:{item['tag']} "
                       f"{item['previous_digest'][:19]} -> {item['digest'][:19]}: "
                       f"{summary or 'identical'}")
        return
    answer = _call(server, token, "GET", f"/golden-diffs/{diff_id}")
    if as_json:
        _print_json(answer)
        return
    diff = answer["diff"]
    typer.echo(f"{answer['repository']}:{answer['tag']}  {answer['previous_digest']} -> "
               f"{answer['digest']}")
    for bucket, items in diff["packages"].items():
        for p in items:
            change = f"{p['from']} -> {p['to']}" if "from" in p else p["version"]
            typer.echo(f"  package {bucket:<10} {p['name']} {change}")
    for bucket in ("new", "fixed"):
        for f in diff["findings"][bucket]:
            typer.echo(f"  finding {bucket:<10} {f['id']} {f['package'] or f['path']}")
    for d in diff["config"]:
        detail = (f"{d.get('before')!r} -> {d.get('after')!r}" if "before" in d else
                  f"added {d['added']} removed {d['removed']} changed {d['changed']}")
        typer.echo(f"  config  {d['field']:<10} {detail}")
