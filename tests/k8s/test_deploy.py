"""deploy/kubernetes: the manifests parse, agree with each other (names, ports, path, secret,
CA injection) and with the CLI, and pass StackWarden's own checks."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

from stackwarden.cli.main import app
from stackwarden.k8s.certs import service_names
from stackwarden.k8s.policy import load_admission_policy
from tests.k8s.helpers import REPO

DEPLOY = REPO / "deploy" / "kubernetes"
WORKLOAD_RESOURCES = {"pods", "deployments", "statefulsets", "daemonsets", "replicasets", "jobs",
                      "cronjobs"}


def _docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


def _kustomized(directory: Path) -> list[dict[str, Any]]:
    """The objects a kustomization lists (resources only: these overlays patch nothing)."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    out: list[dict[str, Any]] = []
    for resource in kustomization["resources"]:
        target = (directory / resource).resolve()
        assert target.exists(), f"{directory}: {resource} does not exist"
        out += _kustomized(target) if target.is_dir() else _docs(target)
    return out


def _one(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind]
    assert len(found) == 1, kind
    return found[0]


@pytest.fixture(scope="module")
def base() -> list[dict[str, Any]]:
    return _kustomized(DEPLOY / "base")


def _args(deployment: dict[str, Any]) -> dict[str, str]:
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["args"][:2] == ["admission", "serve"]
    return dict(a.removeprefix("--").split("=", 1) for a in container["args"][2:])


def test_every_manifest_parses_as_kubernetes_objects() -> None:
    files = sorted(DEPLOY.rglob("*.yaml"))
    assert len(files) >= 10
    for path in files:
        for doc in _docs(path):
            assert isinstance(doc.get("apiVersion"), str) and isinstance(doc.get("kind"), str), path


@pytest.mark.parametrize("variant", ["webhook.yaml", "cert-manager/webhook.yaml"])
def test_the_webhook_configuration_matches_the_service_and_deployment(
        base: list[dict[str, Any]], variant: str) -> None:
    config = _one(_docs(DEPLOY / variant), "ValidatingWebhookConfiguration")
    service, deployment = _one(base, "Service"), _one(base, "Deployment")
    namespace = _one(base, "Namespace")["metadata"]["name"]
    (hook,) = config["webhooks"]
    target = hook["clientConfig"]["service"]
    assert (target["name"], target["namespace"]) == (service["metadata"]["name"],
                                                     service["metadata"]["namespace"])
    assert deployment["metadata"]["namespace"] == namespace == target["namespace"]
    (port,) = service["spec"]["ports"]
    assert target["port"] == port["port"]
    pod = deployment["spec"]["template"]
    assert all(pod["metadata"]["labels"][k] == v for k, v in service["spec"]["selector"].items())
    container = pod["spec"]["containers"][0]
    named = {p["name"]: p["containerPort"] for p in container["ports"]}
    args = _args(deployment)
    assert named[port["targetPort"]] == int(args["port"])
    assert target["path"] == args["path"]
    assert container["readinessProbe"]["httpGet"]["scheme"] == "HTTPS"
    # what the API server needs from a webhook it can rely on
    assert hook["admissionReviewVersions"] == ["v1"]
    assert hook["sideEffects"] in ("None", "NoneOnDryRun")
    assert hook["failurePolicy"] in ("Fail", "Ignore")
    assert 1 <= hook["timeoutSeconds"] <= 30
    assert hook["timeoutSeconds"] > 2.0  # the webhook's default --server-timeout
    excluded = next(e for e in hook["namespaceSelector"]["matchExpressions"]
                    if e["key"] == "kubernetes.io/metadata.name")
    assert excluded["operator"] == "NotIn"
    assert {"kube-system", namespace} <= set(excluded["values"])
    covered = {r for rule in hook["rules"] for r in rule["resources"]}
    assert WORKLOAD_RESOURCES | {"pods/ephemeralcontainers"} <= covered
    assert all(set(rule["operations"]) == {"CREATE", "UPDATE"} for rule in hook["rules"])


def test_ca_bundle_placeholder_and_cert_manager_injection(base: list[dict[str, Any]]) -> None:
    plain = _one(_docs(DEPLOY / "webhook.yaml"), "ValidatingWebhookConfiguration")
    injected = _one(_docs(DEPLOY / "cert-manager" / "webhook.yaml"),
                    "ValidatingWebhookConfiguration")
    assert plain["webhooks"][0]["clientConfig"]["caBundle"] == "${CA_BUNDLE}"
    assert "${CA_BUNDLE}" in (DEPLOY / "install.sh").read_text()
    assert "caBundle" not in injected["webhooks"][0]["clientConfig"]
    # the two variants differ only in where the CA comes from
    del plain["webhooks"][0]["clientConfig"]["caBundle"]
    annotation = injected["metadata"].pop("annotations")["cert-manager.io/inject-ca-from"]
    assert plain == injected
    certificates = _kustomized(DEPLOY / "cert-manager")
    serving = next(d for d in certificates if d["kind"] == "Certificate"
                   and not d["spec"].get("isCA"))
    assert annotation == f"{serving['metadata']['namespace']}/{serving['metadata']['name']}"
    service = _one(base, "Service")
    assert serving["spec"]["dnsNames"] == service_names(service["metadata"]["name"],
                                                        service["metadata"]["namespace"])
    volumes = {v["name"]: v for v in _one(base, "Deployment")["spec"]["template"]["spec"][
        "volumes"]}
    mounted = _one(base, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    tls_mount = next(m for m in mounted["volumeMounts"] if m["name"] == "tls")["mountPath"]
    assert volumes["tls"]["secret"]["secretName"] == serving["spec"]["secretName"] == \
        "stackwarden-admission-tls"
    args = _args(_one(base, "Deployment"))
    assert (args["cert"], args["key"]) == (f"{tls_mount}/tls.crt", f"{tls_mount}/tls.key")
    assert "create secret tls stackwarden-admission-tls" in (DEPLOY / "install.sh").read_text()


def test_deployment_arguments_are_real_options_and_the_policy_loads(
        base: list[dict[str, Any]], tmp_path: Path) -> None:
    command = typer.main.get_command(app)
    serve = command.commands["admission"].commands["serve"]  # type: ignore[attr-defined]
    known = {opt.lstrip("-") for p in serve.params for opt in p.opts}
    assert set(_args(_one(base, "Deployment"))) <= known
    policy = tmp_path / "admission.yaml"
    policy.write_text(_one(base, "ConfigMap")["data"]["admission.yaml"])
    loaded = load_admission_policy(policy)
    assert loaded.mode == "audit"
    assert set(loaded.exclude_namespaces) >= {"kube-system", "stackwarden"}


def test_our_own_manifests_pass_our_checks() -> None:
    from stackwarden.core.findings import Severity
    from stackwarden.detect.misconfig import scan_config

    outcome = scan_config(DEPLOY)
    assert not outcome.skipped
    assert [f.id for f in outcome.findings if f.severity.rank >= Severity.MEDIUM.rank] == []


def test_install_script_is_valid_sh() -> None:
    subprocess.run(["sh", "-n", str(DEPLOY / "install.sh")], check=True, timeout=30)
