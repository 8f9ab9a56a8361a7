"""Admission tests: fixtures in the API server's shapes, a real webhook process over TLS, real
scan reports of real images in a real registry."""

from __future__ import annotations

import copy
import json
import os
import ssl
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.helpers.registry import free_port

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).resolve().parents[2]
# kind -> (group, version, resource), as the API server fills request.kind / request.resource
KINDS = {"Pod": ("", "v1", "pods"), "Deployment": ("apps", "v1", "deployments"),
         "StatefulSet": ("apps", "v1", "statefulsets"), "DaemonSet": ("apps", "v1", "daemonsets"),
         "ReplicaSet": ("apps", "v1", "replicasets"), "Job": ("batch", "v1", "jobs"),
         "CronJob": ("batch", "v1", "cronjobs")}
SECURE_CONTAINER = {"securityContext": {"allowPrivilegeEscalation": False, "runAsNonRoot": True,
                                        "runAsUser": 10001, "readOnlyRootFilesystem": True,
                                        "capabilities": {"drop": ["ALL"]},
                                        "seccompProfile": {"type": "RuntimeDefault"}}}


def fixture(name: str) -> dict[str, Any]:
    """One recorded AdmissionReview (a fresh copy)."""
    return json.loads((FIXTURES / name).read_text())


def workload(kind: str, containers: list[dict[str, Any]], *, name: str = "app",
             namespace: str = "shop", pod: dict[str, Any] | None = None) -> dict[str, Any]:
    """A workload of `kind` whose pods run `containers` (the pod spec defaulted lightly)."""
    spec = {"containers": containers, "restartPolicy": "Always" if kind in (
        "Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet") else "OnFailure",
        "dnsPolicy": "ClusterFirst", "automountServiceAccountToken": False,
        "serviceAccountName": "app", "securityContext": {}, **(pod or {})}
    template = {"metadata": {"creationTimestamp": None, "labels": {"app": name}}, "spec": spec}
    group, version, _ = KINDS[kind]
    meta = {"name": name, "namespace": namespace, "uid": str(uuid.uuid4()),
            "creationTimestamp": "2026-11-29T09:00:00Z"}
    obj: dict[str, Any] = {"kind": kind, "apiVersion": f"{group}/{version}" if group else version,
                           "metadata": meta}
    selector = {"matchLabels": {"app": name}}
    if kind == "Pod":
        obj["spec"] = spec
    elif kind == "CronJob":
        obj["spec"] = {"schedule": "0 * * * *", "jobTemplate": {
            "metadata": {"creationTimestamp": None}, "spec": {"template": template}}}
    elif kind == "Job":
        obj["spec"] = {"template": template, "backoffLimit": 6}
    else:
        obj["spec"] = {"selector": selector, "template": template}
    obj["status"] = {}
    return obj


def wrap(obj: dict[str, Any] | None, operation: str = "CREATE", *,
         old: dict[str, Any] | None = None, user: str = "alice") -> dict[str, Any]:
    """An AdmissionReview around `obj`, filled in the way the API server fills it."""
    target = obj or old
    assert target is not None
    group, version, resource = KINDS[target["kind"]]
    gvk = {"group": group, "version": version, "kind": target["kind"]}
    gvr = {"group": group, "version": version, "resource": resource}
    options = {"CREATE": "CreateOptions", "UPDATE": "UpdateOptions",
               "DELETE": "DeleteOptions"}[operation]
    return {"kind": "AdmissionReview", "apiVersion": "admission.k8s.io/v1", "request": {
        "uid": str(uuid.uuid4()), "kind": gvk, "resource": gvr, "requestKind": gvk,
        "requestResource": gvr, "name": target["metadata"]["name"],
        "namespace": target["metadata"]["namespace"], "operation": operation,
        "userInfo": {"username": user, "groups": ["system:authenticated"]},
        "object": obj, "oldObject": old, "dryRun": False,
        "options": {"kind": options, "apiVersion": "meta.k8s.io/v1"}}}


def with_image(review: dict[str, Any], image: str) -> dict[str, Any]:
    """A copy of a Pod review whose containers all run `image`."""
    out = copy.deepcopy(review)
    for container in out["request"]["object"]["spec"]["containers"]:
        container["image"] = image
    return out


def env() -> dict[str, str]:
    """The environment for a child process running this tree's code."""
    return {**os.environ, "PYTHONPATH": str(REPO / "src") + os.pathsep + os.environ.get(
        "PYTHONPATH", "")}


@dataclass
class Webhook:
    """`stackwarden admission serve` running as its own process, on loopback, over TLS."""

    process: subprocess.Popen[bytes]
    url: str
    ca: Path
    decision_log: Path
    stderr_path: Path

    def client(self, **kw: Any) -> httpx.Client:
        """A client that trusts only the webhook's CA (hostname checked)."""
        context = ssl.create_default_context(cafile=str(self.ca))
        return httpx.Client(base_url=self.url, verify=context, timeout=kw.pop("timeout", 10),
                            **kw)

    def post(self, body: dict[str, Any] | bytes, path: str = "/validate") -> httpx.Response:
        """POST one body as the API server does (JSON, over TLS)."""
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        with self.client() as client:
            return client.post(path, content=data,
                               headers={"Content-Type": "application/json"})

    def review(self, body: dict[str, Any] | bytes) -> dict[str, Any]:
        """The `response` of the AdmissionReview the webhook answers (asserting its form)."""
        answer = self.post(body)
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"] == "application/json"
        doc = answer.json()
        assert doc["apiVersion"] == "admission.k8s.io/v1"
        assert doc["kind"] == "AdmissionReview"
        assert set(doc) == {"apiVersion", "kind", "response"}
        return dict(doc["response"])

    def decisions(self) -> list[dict[str, Any]]:
        """Every decision logged so far."""
        text = self.decision_log.read_text() if self.decision_log.exists() else ""
        return [json.loads(line) for line in text.splitlines() if line]

    def stop(self) -> None:
        """Stop this process (only it)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def make_certs(directory: Path) -> Path:
    """A CA and a serving certificate for localhost and 127.0.0.1; returns the directory."""
    from stackwarden.k8s.certs import generate, write

    write(generate(["localhost", "127.0.0.1"], days=2), directory)
    return directory


def start_webhook(tmp: Path, certs: Path, *args: str, timeout: float = 30.0) -> Webhook:
    """Run `stackwarden admission serve` with `args` and wait until it answers over TLS."""
    port = free_port()
    log = tmp / "decisions.jsonl"
    err = tmp / "webhook.stderr"
    cmd = [sys.executable, "-m", "stackwarden", "admission", "serve", "--cert",
           str(certs / "tls.crt"), "--key", str(certs / "tls.key"), "--port", str(port),
           "--decision-log", str(log), "--log-level", "warning", *args]
    with open(err, "wb") as handle:
        process = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=handle, env=env())
    hook = Webhook(process, f"https://localhost:{port}", certs / "ca.crt", log, err)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"webhook exited: {err.read_text()[-2000:]}")
        try:
            with hook.client(timeout=1) as client:
                if client.get("/readyz").status_code == 200:
                    return hook
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    hook.stop()
    raise RuntimeError(f"webhook did not start: {err.read_text()[-2000:]}")
