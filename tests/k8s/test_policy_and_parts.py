"""The admission policy file, the image reference rules, the warning limits, certificates and
their reload, and the CLI's offline `review` and `certs`."""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from stackwarden.artifact.registry import parse_reference
from stackwarden.cli.main import app
from stackwarden.core.findings import Severity
from stackwarden.k8s.images import registry_allowed
from stackwarden.k8s.policy import load_admission_policy
from stackwarden.k8s.review import MAX_WARNING_CHARS, fit_warnings
from stackwarden.policy.model import PolicyError
from tests.k8s.helpers import FIXTURES, env, make_certs

FULL = """\
version: 1
mode: enforce
exclude_namespaces: [kube-system, stackwarden]
misconfig:
  deny: critical
  warn: none
  skip: [SW-K8S-04*]
images:
  allowed_registries: [ghcr.io/acme, docker.io/library]
  exempt: ["registry.k8s.io/pause:*"]
  untrusted_registry: warn
  tag_not_digest: deny
  unscanned: allow
  max_scan_age_days: 7
  gate:
    fail_on: critical
    rules:
      - name: no-secrets
        when: {kind: secret}
"""


def test_a_full_policy_loads(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(FULL)
    policy = load_admission_policy(path)
    assert policy.mode == "enforce" and policy.exclude_namespaces == ("kube-system",
                                                                       "stackwarden")
    assert policy.misconfig.deny == Severity.CRITICAL and policy.misconfig.warn is None
    assert policy.misconfig.action(Severity.HIGH) == "allow"
    assert policy.images.tag_not_digest == "deny" and policy.images.unscanned == "allow"
    assert [r.name for r in policy.images.gate.rules] == ["fail-on-critical", "no-secrets"]
    assert policy.with_mode("audit").mode == "audit"


BAD = [
    ("mode: strict\n", ":1", "'mode' must be one of enforce, audit"),
    ("misconfig:\n  deny: severe\n", ":2", "unknown severity 'severe'"),
    ("images:\n  unscanned: block\n", ":2", "'unscanned' must be one of deny, warn, allow"),
    ("images:\n  allowed_registries: [https://ghcr.io]\n", ":2", "without a scheme"),
    ("images:\n  gate:\n    exit_code: 3\n", ":3", "unknown key 'exit_code'"),
    ("imagez: {}\n", ":1", "unknown key 'imagez'"),
    ("misconfig:\n  policy_dir: nowhere\n", ":2", "is not a directory"),
    ("version: 2\n", ":1", "'version' must be between 1 and 1"),
    ("- a list\n", "", "must be a mapping"),
    ("mode: [\n", ":2", "invalid admission policy"),
]


@pytest.mark.parametrize(("text", "line", "message"), BAD, ids=[b[2][:25] for b in BAD])
def test_bad_policies_name_the_file_and_line(tmp_path: Path, text: str, line: str,
                                             message: str) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(text)
    with pytest.raises(PolicyError) as caught:
        load_admission_policy(path)
    assert message in caught.value.message
    assert caught.value.source == f"{path}{line}"


@pytest.mark.parametrize(("image", "allowed", "expected"), [
    ("nginx:1.25", ["docker.io"], True),
    ("nginx:1.25", ["docker.io/library"], True),
    ("nginx:1.25", ["index.docker.io/library/nginx"], True),
    ("bitnami/redis", ["docker.io/library"], False),
    ("ghcr.io/acme/api:1", ["ghcr.io/acme"], True),
    ("ghcr.io/acme-evil/api:1", ["ghcr.io/acme"], False),
    ("GHCR.io/acme/api:1", ["ghcr.io"], True),
    ("registry.internal:5000/x", ["registry.internal:5000"], True),
    ("registry.internal:5001/x", ["registry.internal:5000"], False),
])
def test_allowed_registries_are_prefixes_on_path_boundaries(image: str, allowed: list[str],
                                                             expected: bool) -> None:
    assert registry_allowed(parse_reference(image), allowed) is expected


def test_warnings_fit_what_the_api_server_passes_on() -> None:
    fitted = fit_warnings(["w" * 300] + [f"warning {i} " + "x" * 100 for i in range(100)])
    assert all(len(w) <= MAX_WARNING_CHARS for w in fitted)
    assert sum(len(w) for w in fitted) <= 4096
    assert fitted[0].endswith("…") and fitted[-1].endswith("more warnings in the decision log")


def test_certificates_name_the_service_and_reload_in_place(tmp_path: Path) -> None:
    from cryptography import x509

    from stackwarden.k8s.certs import generate, service_names, write
    from stackwarden.k8s.webhook import TLSFiles

    made = generate(service_names("hook", "sec"))
    cert = x509.load_pem_x509_certificate(made.cert)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == [
        "hook", "hook.sec", "hook.sec.svc", "hook.sec.svc.cluster.local"]
    ca = x509.load_pem_x509_certificate(made.ca_cert)
    cert.verify_directly_issued_by(ca)
    paths = write(made, tmp_path / "c")
    assert oct((tmp_path / "c" / "tls.key").stat().st_mode & 0o777) == "0o600"
    assert [p.name for p in paths] == ["ca.crt", "tls.crt", "tls.key"]
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls = TLSFiles(tmp_path / "c" / "tls.crt", tmp_path / "c" / "tls.key")
    assert tls.reload_if_changed(context) is True
    assert tls.reload_if_changed(context) is False  # unchanged
    (tmp_path / "c" / "tls.key").write_text("half-written")
    assert tls.reload_if_changed(context) is False  # a broken pair keeps the old one


def test_review_command_offline(tmp_path: Path) -> None:
    runner = CliRunner()
    denied = runner.invoke(app, ["admission", "review", str(FIXTURES / "deployment-create.json"),
                                 "--mode", "enforce"])
    assert denied.exit_code == 1
    response = json.loads(denied.stdout)["response"]
    assert response["allowed"] is False and "SW-K8S-001" in response["status"]["message"]
    assert '"verdict": "deny"' in denied.stderr
    audit = runner.invoke(app, ["admission", "review", str(FIXTURES / "deployment-create.json")])
    assert audit.exit_code == 0 and json.loads(audit.stdout)["response"]["allowed"] is True
    missing = runner.invoke(app, ["admission", "review", str(tmp_path / "none.json")])
    assert missing.exit_code == 2 and "cannot read" in missing.stderr
    policy = tmp_path / "p.yaml"
    policy.write_text("mode: sometimes\n")
    bad = runner.invoke(app, ["admission", "review", "-", "--policy", str(policy)], input="{}")
    assert bad.exit_code == 2 and f"{policy}:1" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1


def test_certs_command_prints_the_ca_bundle(tmp_path: Path) -> None:
    import base64

    result = CliRunner().invoke(app, ["admission", "certs", "--out", str(tmp_path / "out"),
                                      "--namespace", "sec", "--dns-name", "127.0.0.1"])
    assert result.exit_code == 0, result.stderr
    bundle = base64.b64decode(result.stdout.strip())
    assert bundle == (tmp_path / "out" / "ca.crt").read_bytes()


@pytest.mark.parametrize(("args", "message"), [
    (["--cert", "/nonexistent.crt", "--key", "/nonexistent.key"], "no such file"),
    (["--mode", "strict"], "unknown mode 'strict'"),
    (["--server", "http://127.0.0.1:9"], "--server needs --token"),
    (["--audit-to-server", "--token", "t"], "--audit-to-server needs --server"),
    (["--reports", "/nonexistent-dir"], "not a directory"),
    (["--path", "validate"], "must start with /"),
])
def test_serve_refuses_bad_flags_in_one_line(tmp_path: Path, args: list[str],
                                             message: str) -> None:
    certs = make_certs(tmp_path / "certs")
    base = ["--cert", str(certs / "tls.crt"), "--key", str(certs / "tls.key")]
    done = subprocess.run([sys.executable, "-m", "stackwarden", "admission", "serve", *base,
                           *args], capture_output=True, text=True, env={**env(),
                                                                       "STACKWARDEN_TOKEN": ""},
                          timeout=60, stdin=subprocess.DEVNULL, check=False)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_key_that_does_not_match_is_refused(tmp_path: Path) -> None:
    one, two = make_certs(tmp_path / "a"), make_certs(tmp_path / "b")
    done = CliRunner().invoke(app, ["admission", "serve", "--cert", str(one / "tls.crt"),
                                    "--key", str(two / "tls.key")])
    assert done.exit_code == 2 and "cannot load the certificate and key" in done.stderr
