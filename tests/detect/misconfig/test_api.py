"""The entry points other parts call: the Detector, one Kubernetes object in memory (the
admission webhook's path), and image configs."""

from __future__ import annotations

import copy
import time

import pytest

from stackwarden.core.findings import FindingKind
from stackwarden.detect.base import DetectContext, ScanTarget
from stackwarden.detect.misconfig import (
    ConfigParseError,
    MisconfigDetector,
    check_image_config,
    check_kubernetes_object,
)
from tests.helpers.misconfig.image import CLEAN as CLEAN_CONFIG
from tests.helpers.misconfig.kubernetes import workload

POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "shop"},
       "spec": {"hostNetwork": True, "containers": [
           {"name": "c", "image": "nginx", "securityContext": {"privileged": True}}]}}


def test_detector_scans_one_file_and_reports_skips_and_suppressions() -> None:
    detector = MisconfigDetector()
    ctx = DetectContext()
    dockerfile = b"FROM alpine:3.20\n# stackwarden:ignore SW-DF-002 build stage\nUSER root\n"
    target = ScanTarget("app/Dockerfile", len(dockerfile), layer="sha256:" + "1" * 64)
    assert detector.wants(target)
    findings = list(detector.scan(dockerfile, target, ctx))
    assert {f.id for f in findings} == {"SW-DF-005", "SW-DF-012"}
    assert all(f.kind is FindingKind.MISCONFIGURATION and f.location.layer == target.layer
               for f in findings)
    assert [(f.id, reason) for f, reason in ctx.suppressed] == [("SW-DF-002", "build stage")]
    broken = ScanTarget("k8s/x.yaml", 20)
    assert list(detector.scan(b"apiVersion: v1\nkind: [", broken, ctx)) == []
    assert [s.path for s in ctx.skipped] == ["k8s/x.yaml"]


@pytest.mark.parametrize(("target", "wanted"), [
    (ScanTarget("etc/app/deploy.yaml", 100), True),
    (ScanTarget("etc/app/deploy.yaml", 100, deleted=True), True),  # dropped after the walk
    (ScanTarget("usr/bin/python3", 100), False),
    (ScanTarget("big.json", 64 * 1024 * 1024), False),
])
def test_detector_wants(target: ScanTarget, wanted: bool) -> None:
    assert MisconfigDetector().wants(target) is wanted


def test_kubernetes_object_in_memory() -> None:
    findings = check_kubernetes_object(POD)
    ids = {f.id for f in findings}
    assert {"SW-K8S-001", "SW-K8S-005", "SW-K8S-030"} <= ids
    assert all(f.location.resource == "Pod/shop/p" and f.location.line is None
               for f in findings)
    hardened = workload("Deployment", "web")
    assert check_kubernetes_object(hardened) == []


def test_kubernetes_object_is_fast_enough_for_a_webhook() -> None:
    objects = [copy.deepcopy(POD) for _ in range(200)]
    check_kubernetes_object(POD)  # warm: imports, check index
    started = time.perf_counter()
    for obj in objects:
        check_kubernetes_object(obj)
    per_object = (time.perf_counter() - started) / len(objects)
    assert per_object < 0.05, per_object  # well under any API server timeout, even loaded


def test_not_a_kubernetes_object() -> None:
    with pytest.raises(ConfigParseError, match="not a Kubernetes object"):
        check_kubernetes_object({"kind": "Pod"})


def test_image_config() -> None:
    config = copy.deepcopy(CLEAN_CONFIG)
    assert check_image_config(config, source="shop/web:1.0") == []
    config["config"].update(User="", ExposedPorts={"22/tcp": {}, "8080/tcp": {}},
                            Env=["DB_PASSWORD=hunter2hunter2"])
    del config["config"]["Healthcheck"]
    config["history"].append({"created_by": "|1 GITHUB_TOKEN=ghp_abc /bin/sh -c make"})
    findings = check_image_config(config, source="shop/web:1.0")
    assert {f.id for f in findings} == {"SW-IMG-001", "SW-IMG-002", "SW-IMG-004",
                                        "SW-IMG-005", "SW-IMG-008"}
    assert {f.location.path for f in findings} == {"shop/web:1.0"}
