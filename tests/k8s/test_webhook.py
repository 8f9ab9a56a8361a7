"""The webhook as the API server meets it: a real process, HTTPS with a generated CA, real
AdmissionReview v1 bodies, verdicts from real scan reports of images in a (stopped) registry."""

from __future__ import annotations

import copy
import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.k8s.conftest import ScannedImages
from tests.k8s.helpers import (
    KINDS,
    SECURE_CONTAINER,
    Webhook,
    fixture,
    start_webhook,
    with_image,
    workload,
    wrap,
)

POLICY = """\
version: 1
mode: enforce
exclude_namespaces: [kube-system]
misconfig:
  deny: high
  warn: medium
images:
  allowed_registries: [{host}/acme]
  untrusted_registry: deny
  tag_not_digest: warn
  unscanned: deny
  gate:
    fail_on: high
"""


def _policy(tmp: Path, images: ScannedImages) -> Path:
    path = tmp / "admission.yaml"
    path.write_text(POLICY.format(host=images.host))
    return path


@pytest.fixture(scope="module")
def reports_copy(tmp_path_factory: pytest.TempPathFactory, scanned_images: ScannedImages) -> Path:
    target = tmp_path_factory.mktemp("reports") / "reports"
    shutil.copytree(scanned_images.reports, target)
    return target


@pytest.fixture(scope="module")
def hook(tmp_path_factory: pytest.TempPathFactory, certs: Path, scanned_images: ScannedImages,
         reports_copy: Path) -> Iterator[Webhook]:
    tmp = tmp_path_factory.mktemp("webhook-enforce")
    webhook = start_webhook(tmp, certs, "--policy", str(_policy(tmp, scanned_images)),
                            "--reports", str(reports_copy), "--refresh", "0.3")
    yield webhook
    webhook.stop()


@pytest.fixture(scope="module")
def audit_hook(tmp_path_factory: pytest.TempPathFactory, certs: Path,
               scanned_images: ScannedImages) -> Iterator[Webhook]:
    tmp = tmp_path_factory.mktemp("webhook-audit")
    webhook = start_webhook(tmp, certs, "--policy", str(_policy(tmp, scanned_images)),
                            "--mode", "audit", "--reports", str(scanned_images.reports))
    yield webhook
    webhook.stop()


# (fixture, allowed, codes in status.message, codes in warnings)
RECORDED = [
    ("pod-create.json", False, ["image-registry", "image-unscanned"], ["image-tag"]),
    ("pod-create-by-replicaset.json", False, ["image-registry"], []),
    ("deployment-create.json", False, ["SW-K8S-001", "image-registry"], ["SW-K8S-006"]),
    ("deployment-update-annotation.json", True, [], ["SW-K8S-001", "image-registry"]),
    ("cronjob-create.json", False, ["SW-K8S-003"], []),
    ("statefulset-create-dry-run.json", False, ["image-registry"], []),
    ("pod-ephemeral-debug.json", False, ["SW-K8S-001"], ["image-registry"]),
    ("pod-delete.json", True, [], []),
    ("deployment-scale.json", True, [], []),
]


@pytest.mark.parametrize(("name", "allowed", "denied", "warned"), RECORDED,
                         ids=[r[0] for r in RECORDED])
def test_recorded_reviews(hook: Webhook, name: str, allowed: bool, denied: list[str],
                          warned: list[str]) -> None:
    body = fixture(name)
    response = hook.review(body)
    assert response["uid"] == body["request"]["uid"]
    assert response["allowed"] is allowed
    if allowed:
        assert "status" not in response
    else:
        assert response["status"]["code"] == 403
        assert response["status"]["message"].startswith("stackwarden denied ")
        for code in denied:
            assert f"[{code}]" in response["status"]["message"]
    warnings = " ".join(response.get("warnings", []))
    for code in warned:
        assert f"[{code}]" in warnings
    assert all(len(w) <= 256 for w in response.get("warnings", []))


def test_the_debug_container_is_judged_not_the_running_pod(hook: Webhook) -> None:
    response = hook.review(fixture("pod-ephemeral-debug.json"))
    assert "debugger-8xjqm is privileged" in response["status"]["message"]
    assert "nginx:1.25" not in response["status"]["message"]  # already running: warns only


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_workload_kind_is_checked(hook: Webhook, scanned_images: ScannedImages,
                                        kind: str) -> None:
    clean = scanned_images.by_digest("clean")
    bad = {"name": "app", "image": clean, "securityContext": {"privileged": True}}
    denied = hook.review(wrap(workload(kind, [bad])))
    assert denied["allowed"] is False
    assert "[SW-K8S-001] container app is privileged" in denied["status"]["message"]
    assert "image" not in denied["status"]["message"].split("privileged", 1)[1]
    good = {"name": "app", "image": clean, **copy.deepcopy(SECURE_CONTAINER)}
    allowed = hook.review(wrap(workload(kind, [good])))
    assert allowed == {"uid": allowed["uid"], "allowed": True}


def test_image_gate(hook: Webhook, scanned_images: ScannedImages) -> None:
    def judged(image: str) -> dict[str, object]:
        container = {"name": "app", "image": image, **copy.deepcopy(SECURE_CONTAINER)}
        return hook.review(wrap(workload("Pod", [container])))

    host = scanned_images.host
    bad = judged(scanned_images.by_digest("bad"))
    assert bad["allowed"] is False
    assert "fails fail-on-high: 1 finding: EICAR_Test_File" in str(bad["status"])
    by_tag = judged(scanned_images.clean)  # known by tag: allowed, with a warning
    assert by_tag["allowed"] is True
    assert by_tag["warnings"] == [
        f"[image-tag] image {scanned_images.clean} is referenced by tag, not digest"]
    bad_by_tag = judged(scanned_images.bad)
    assert bad_by_tag["allowed"] is False and "EICAR_Test_File" in str(bad_by_tag["status"])
    unknown = judged(f"{host}/acme/other@sha256:" + "ab" * 32)
    assert unknown["allowed"] is False
    assert "[image-unscanned]" in str(unknown["status"])
    foreign = judged("docker.io/library/alpine@sha256:" + "cd" * 32)
    assert "[image-registry] image docker.io/library/alpine" in str(foreign["status"])
    malformed = judged("UPPER/Case:tag")
    assert malformed["allowed"] is False and "[image-malformed]" in str(malformed["status"])


def test_excluded_namespace_is_allowed_and_recorded(hook: Webhook) -> None:
    body = wrap(workload("Pod", [{"name": "x", "image": "nginx",
                                  "securityContext": {"privileged": True}}],
                         namespace="kube-system"))
    assert hook.review(body) == {"uid": body["request"]["uid"], "allowed": True}
    logged = [d for d in hook.decisions() if d["uid"] == body["request"]["uid"]]
    assert logged[0]["note"] == "namespace kube-system is excluded by the policy"


MALFORMED = [
    (b"{not json", "body is not JSON at line 1", ""),
    (b"[1, 2]", "body is not a JSON object", ""),
    (b"", "body is not JSON", ""),
    (b'\xff\xfe{"a"', "body is not JSON", ""),
    (json.dumps({"apiVersion": "admission.k8s.io/v2", "kind": "AdmissionReview",
                 "request": {"uid": "u-1"}}).encode(), "apiVersion must be", "u-1"),
    (json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "Pod",
                 "request": {"uid": "u-2"}}).encode(), "kind must be AdmissionReview", "u-2"),
    (json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}).encode(),
     "request is missing", ""),
    (json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                 "request": {"kind": {"kind": "Pod"}, "operation": "CREATE"}}).encode(),
     "request.uid is missing", ""),
    (json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                 "request": {"uid": "u-3", "kind": {"kind": "Pod"}, "operation": "CREATE",
                             "object": [1]}}).encode(), "request.object must be an object",
     "u-3"),
    (json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                 "request": {"uid": "u-4", "kind": {"kind": "Pod"}, "operation": "PATCH",
                             "object": {}}}).encode(), "request.operation 'PATCH'", "u-4"),
    (json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                 "request": {"uid": "u-5", "kind": {"kind": "Pod"}, "operation": "CREATE",
                             "object": {"spec": {}}}}).encode(),
     "request.object is not a Kubernetes object", "u-5"),
    (b'{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u-6",'
     b'"object":' + b"[" * 100_000 + b"]" * 100_000 + b"}}", "body is", "u-6"),
    (b'{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","request":{"uid":"u-7",'
     b'"object":{"junk":"' + b"x" * (9 * 1024 * 1024) + b'"}}}', "larger than 8 MiB", "u-7"),
]


@pytest.mark.parametrize(("body", "reason", "uid"), MALFORMED,
                         ids=[m[1][:30] for m in MALFORMED])
def test_malformed_reviews_get_a_well_formed_denial(hook: Webhook, audit_hook: Webhook,
                                                    body: bytes, reason: str, uid: str) -> None:
    denied = hook.review(body)
    assert denied["uid"] == uid
    assert denied["allowed"] is False
    assert denied["status"]["code"] == 400
    assert denied["status"]["message"].startswith("stackwarden: malformed AdmissionReview: ")
    assert reason in denied["status"]["message"]
    allowed = audit_hook.review(body)
    assert allowed["uid"] == uid and allowed["allowed"] is True
    assert reason in allowed["warnings"][0] and "audit mode" in allowed["warnings"][0]


def test_audit_mode_allows_warns_and_records(audit_hook: Webhook) -> None:
    body = fixture("deployment-create.json")
    response = audit_hook.review(body)
    assert response["allowed"] is True and "status" not in response
    assert "audit: would deny: [SW-K8S-001] container api is privileged" in response["warnings"]
    logged = [d for d in audit_hook.decisions() if d["uid"] == body["request"]["uid"]]
    assert len(logged) == 1
    assert logged[0]["verdict"] == "deny" and logged[0]["allowed"] is True
    assert logged[0]["mode"] == "audit"


def test_every_decision_is_logged_with_its_reasons(hook: Webhook) -> None:
    body = fixture("statefulset-create-dry-run.json")
    before = len(hook.decisions())
    hook.review(body)
    logged = hook.decisions()
    assert len(logged) == before + 1  # one line per review
    entry = logged[-1]
    assert entry["uid"] == body["request"]["uid"]
    assert entry["schema_version"] == "1" and entry["dry_run"] is True
    assert (entry["kind"], entry["namespace"], entry["name"], entry["operation"]) == (
        "StatefulSet", "shop", "db", "CREATE")
    assert entry["user"] == "kubernetes-admin"
    codes = {(r["action"], r["code"]) for r in entry["reasons"]}
    assert ("deny", "image-registry") in codes
    assert entry["images"][0]["image"] == "docker.io/library/postgres:16"
    assert entry["images"][0]["scanned"] is False
    assert 0 < entry["duration_ms"] < 1000


def test_a_new_report_is_picked_up_without_a_restart(hook: Webhook, reports_copy: Path,
                                                     scanned_images: ScannedImages) -> None:
    doc = json.loads((reports_copy / "clean.json").read_text())
    doc["artifact"]["digest"] = "sha256:" + "ef" * 32
    doc["artifact"]["repo_tags"] = [f"{scanned_images.host}/acme/new:2.0"]
    doc["artifact"]["name"] = doc["artifact"]["reference"] = doc["target"] = ""
    container = {"name": "app", "image": f"{scanned_images.host}/acme/new@sha256:" + "ef" * 32,
                 **copy.deepcopy(SECURE_CONTAINER)}
    body = wrap(workload("Pod", [container]))
    assert hook.review(body)["allowed"] is False
    (reports_copy / "new.json").write_text(json.dumps(doc))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if hook.review(wrap(workload("Pod", [container])))["allowed"]:
            break
        time.sleep(0.2)
    else:
        pytest.fail("the new report was not picked up")
    (reports_copy / "broken.json").write_text("{")  # a bad file is skipped, the rest stays
    time.sleep(0.8)
    assert hook.review(wrap(workload("Pod", [container])))["allowed"] is True
    assert "scan report skipped" in hook.stderr_path.read_text()


def test_only_post_reviews_the_path(hook: Webhook, scanned_images: ScannedImages) -> None:
    image = scanned_images.by_digest("clean")  # one lookup of a scanned image, whatever ran before
    hook.review(wrap(workload("Pod", [{"name": "app", "image": image}])))
    with hook.client() as client:
        assert client.get("/validate").status_code == 405
        assert client.get("/healthz").json() == {"status": "ok"}
        metrics = client.get("/metrics").text
    assert "stackwarden_admission_reviews_total" in metrics
    assert 'stackwarden_admission_image_lookups_total{found="true",origin="reports"}' in metrics


def test_pod_with_an_image_swapped_in(hook: Webhook, scanned_images: ScannedImages) -> None:
    # the recorded kubectl-run Pod with the scanned clean image by digest: only hygiene warnings
    response = hook.review(with_image(fixture("pod-create.json"),
                                      scanned_images.by_digest("clean")))
    assert response["allowed"] is True
    assert not any("image" in w for w in response["warnings"])
