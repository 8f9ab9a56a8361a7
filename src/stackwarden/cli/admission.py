"""`stackwarden admission …`: serve the validating webhook, make its certificates, try a review."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from stackwarden.cli.common import handle_errors, stderr, write_output
from stackwarden.core.errors import UsageError

app = typer.Typer(help="Kubernetes admission control: a validating webhook that applies the "
                  "misconfiguration checks and an image gate (docs/admission.md).",
                  no_args_is_help=True, rich_markup_mode=None)

PolicyOpt = Annotated[Path | None, typer.Option(
    "--policy", help="Admission policy file (YAML; see docs/admission.md). Default: built-in "
    "rules (deny high/critical misconfigurations and unscanned images, warn on tags).")]
ModeOpt = Annotated[str | None, typer.Option(
    "--mode", help="enforce (deny what the policy denies) or audit (allow, warn and record). "
    "Overrides the policy file; default audit.")]
ReportsOpt = Annotated[list[Path] | None, typer.Option(
    "--reports", help="Directory of JSON scan reports (`stackwarden scan IMAGE -f json`) that "
    "give image verdicts; re-read when files change. Repeatable.", metavar="DIR")]
ServerOpt = Annotated[str | None, typer.Option(
    "--server", help="StackWarden server URL for image verdicts (cached) and, with "
    "--audit-to-server, the audit trail.")]
TokenOpt = Annotated[str | None, typer.Option(
    "--token", envvar="STACKWARDEN_TOKEN", show_envvar=True,
    help="API token for --server (scopes: read; agent to record decisions).")]


def build_controller(policy_file: Path | None, mode: str | None, reports: list[Path],
                     server: str | None, token: str | None, *, cache_ttl: float = 300.0,
                     server_timeout: float = 2.0, refresh: float = 30.0,
                     decision_log: str | None = None, audit_to_server: bool = False,
                     audit_record: str = "all", server_ca: Path | None = None) -> Any:
    """The controller the CLI flags describe (usage errors name the flag or file)."""
    from stackwarden.detect.misconfig import PolicyError as CheckPolicyError
    from stackwarden.k8s.admission import AdmissionController
    from stackwarden.k8s.decisions import AuditShipper, DecisionLog
    from stackwarden.k8s.policy import AdmissionPolicy, load_admission_policy
    from stackwarden.k8s.verdicts import (
        ReportDirectory,
        ServerVerdicts,
        VerdictSource,
        VerdictStore,
    )

    policy = load_admission_policy(policy_file) if policy_file else AdmissionPolicy()
    policy = policy.with_mode(mode)
    if (server or audit_to_server) and not token:
        raise UsageError("--server needs --token (or STACKWARDEN_TOKEN)", source="--token")
    if audit_to_server and not server:
        raise UsageError("--audit-to-server needs --server", source="--audit-to-server")
    if not 0 < server_timeout <= 30:
        raise UsageError("must be between 0 and 30 seconds", source="--server-timeout")
    verify: Any = str(server_ca) if server_ca else True
    sources: list[VerdictSource] = [ReportDirectory(p, policy.images.gate, refresh_seconds=refresh)
                                    for p in reports]
    if server:
        assert token is not None
        sources.append(ServerVerdicts(server, token, policy.images.gate, ttl=cache_ttl,
                                      timeout=server_timeout, verify=verify))
    shipper = None
    if audit_to_server:
        assert server is not None and token is not None
        shipper = AuditShipper(server, token, record=audit_record, verify=verify)
    try:
        return AdmissionController(
            policy, VerdictStore(sources),
            decision_log=DecisionLog(decision_log) if decision_log else None, shipper=shipper)
    except CheckPolicyError as exc:
        raise UsageError(exc.message, source=exc.source) from None


@app.command("serve")
@handle_errors
def serve(
    cert: Annotated[Path, typer.Option("--cert", help="Serving certificate (PEM), e.g. tls.crt "
                                       "of the webhook's Secret.", show_default=False)],
    key: Annotated[Path, typer.Option("--key", help="Its private key (PEM), e.g. tls.key.",
                                      show_default=False)],
    mode: ModeOpt = None,
    policy: PolicyOpt = None,
    reports: ReportsOpt = None,
    server: ServerOpt = None,
    token: TokenOpt = None,
    host: Annotated[str, typer.Option(help="Address to listen on (0.0.0.0 in a Pod).")]
    = "127.0.0.1",
    port: Annotated[int, typer.Option(help="HTTPS port.")] = 8443,
    path: Annotated[str, typer.Option(help="URL path of the review endpoint (the webhook "
                                      "configuration's clientConfig.service.path).")]
    = "/validate",
    decision_log: Annotated[str, typer.Option(
        "--decision-log", help="Where decisions go, one JSON object a line: a file (rotated at "
        "100 MiB) or - for standard output.")] = "-",
    cache_ttl: Annotated[float, typer.Option(
        "--cache-ttl", help="Seconds a server verdict stays fresh (stale ones are served while "
        "refreshed).")] = 300.0,
    server_timeout: Annotated[float, typer.Option(
        "--server-timeout", help="Longest wait for the server on a cache miss; keep it well "
        "under the webhook's timeoutSeconds.")] = 2.0,
    refresh: Annotated[float, typer.Option(
        "--refresh", help="Seconds between re-reads of the --reports directories.")] = 30.0,
    audit_to_server: Annotated[bool, typer.Option(
        "--audit-to-server", help="Also record decisions in the server's audit trail (needs a "
        "token with the agent scope).")] = False,
    audit_record: Annotated[str, typer.Option(
        "--audit-record", help="Which decisions go to the server: all, warn (warn and deny) "
        "or deny.")] = "all",
    server_ca: Annotated[Path | None, typer.Option(
        "--server-ca", help="CA bundle (PEM) that signs the server's certificate.")] = None,
    log_level: Annotated[str, typer.Option("--log-level", help="Uvicorn's log level.")]
    = "info",
) -> None:
    """Serve the ValidatingAdmissionWebhook over HTTPS (AdmissionReview v1) at PATH.

    Image verdicts come from --reports directories and/or --server, held in memory: nothing is pulled or scanned while the API server waits. Every decision is written to --decision-log with its reasons.
    """
    import ssl

    from stackwarden.k8s.webhook import serve as run

    for flag, file in (("--cert", cert), ("--key", key)):
        if not file.is_file():
            raise UsageError("no such file", source=f"{flag} {file}")
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(str(cert), str(key))
    except (ssl.SSLError, OSError) as exc:
        raise UsageError(f"cannot load the certificate and key: {exc}", source=str(cert)) from None
    if not path.startswith("/"):
        raise UsageError("must start with /", source="--path")
    controller = build_controller(policy, mode, reports or [], server, token,
                                  cache_ttl=cache_ttl, server_timeout=server_timeout,
                                  refresh=refresh, decision_log=decision_log,
                                  audit_to_server=audit_to_server, audit_record=audit_record,
                                  server_ca=server_ca)
    stderr.print(f"StackWarden admission webhook on https://{host}:{port}{path} "
                 f"(mode {controller.policy.mode}, policy: {controller.policy.origin})",
                 highlight=False, markup=False)
    run(controller, cert=cert, key=key, host=host, port=port, path=path, log_level=log_level)


@app.command("certs")
@handle_errors
def certs(
    service: Annotated[str, typer.Option(help="The webhook Service's name.")]
    = "stackwarden-admission",
    namespace: Annotated[str, typer.Option(help="The Service's namespace.")] = "stackwarden",
    dns_name: Annotated[list[str] | None, typer.Option(
        "--dns-name", help="Extra DNS name or IP address for the certificate (repeatable), "
        "e.g. 127.0.0.1 for local tests.")] = None,
    out: Annotated[Path, typer.Option("--out", help="Directory for ca.crt, tls.crt, tls.key.")]
    = Path("certs"),
    days: Annotated[int, typer.Option(help="Validity of the serving certificate.")] = 365,
    keep_ca_key: Annotated[bool, typer.Option(
        "--keep-ca-key", help="Also write ca.key (to sign later certificates).")] = False,
) -> None:
    """Make a private CA and a serving certificate for SERVICE.NAMESPACE.svc.

    Prints the caBundle value (base64 of ca.crt) for the ValidatingWebhookConfiguration; create the Secret with `kubectl -n NAMESPACE create secret tls stackwarden-admission-tls --cert OUT/tls.crt --key OUT/tls.key`.
    """
    from stackwarden.k8s.certs import generate, service_names, write

    if not 1 <= days <= 3650:
        raise UsageError("must be between 1 and 3650", source="--days")
    made = generate(service_names(service, namespace) + list(dns_name or []), days=days)
    for path in write(made, out, keep_ca_key=keep_ca_key):
        stderr.print(f"wrote {path}", highlight=False, markup=False)
    typer.echo(made.ca_bundle)


@app.command("review")
@handle_errors
def review(
    file: Annotated[Path, typer.Argument(help="An AdmissionReview JSON file (- for stdin).",
                                         show_default=False)],
    mode: ModeOpt = None,
    policy: PolicyOpt = None,
    reports: ReportsOpt = None,
    server: ServerOpt = None,
    token: TokenOpt = None,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Write the response here instead of stdout.")] = None,
) -> None:
    """Answer one AdmissionReview offline, as the webhook would (to try a policy).

    Prints the response AdmissionReview; the decision with its reasons goes to stderr. Exit codes: 0 allowed, 1 denied, 2 usage error.
    """
    body = sys.stdin.buffer.read() if str(file) == "-" else _read(file)
    controller = build_controller(policy, mode, reports or [], server, token, refresh=0)
    try:
        result = controller.review(body)
    finally:
        controller.close()
    sys.stderr.write(json.dumps(result.decision.to_dict(), indent=2) + "\n")  # never wrapped
    write_output(json.dumps(result.response, indent=2).encode() + b"\n", output)
    if not result.decision.allowed:
        raise typer.Exit(1)


def _read(file: Path) -> bytes:
    try:
        return file.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read: {exc.strerror or exc}", source=str(file)) from None
