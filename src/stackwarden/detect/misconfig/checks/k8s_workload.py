"""Kubernetes workload hygiene: images, resources, probes, service accounts, secrets,
namespaces."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from stackwarden.detect.misconfig.checks import HIGH, LOW, MEDIUM, check
from stackwarden.detect.misconfig.checks.k8s_common import (
    K8S,
    NSA_GUIDE,
    WORKLOADS,
    ContainerTest,
    cname,
    containers,
    on_pod,
    per_container,
    pod_spec,
)
from stackwarden.detect.misconfig.checks.util import (
    as_list,
    get,
    hit,
    image_reference_parts,
    is_false,
    secret_assignment,
)
from stackwarden.detect.misconfig.controls import k8s, nsa
from stackwarden.detect.misconfig.model import Document, Hit, TestFunc

IMAGES = "https://kubernetes.io/docs/concepts/containers/images/"
RESOURCES = "https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/"
PROBES = ("https://kubernetes.io/docs/tasks/configure-pod-container/"
          "configure-liveness-readiness-startup-probes/")
SA = "https://kubernetes.io/docs/tasks/configure-pod-container/configure-service-account/"
SECRETS = "https://kubernetes.io/docs/concepts/configuration/secret/"


def _image(c: dict[str, Any]) -> str | None:
    image = c.get("image")
    return image if isinstance(image, str) and image and "{{" not in image else None


def _latest(spec: dict[str, Any], c: dict[str, Any]) -> Hit | None:
    image = _image(c)
    if image is None:
        return None
    _, tag, digest = image_reference_parts(image)
    if digest is None and tag in (None, "latest"):
        return hit(f"container {cname(c)} image {image} uses 'latest' (or no tag)", c, "image",
                   f"container:{cname(c)}")
    return None


def _digest(spec: dict[str, Any], c: dict[str, Any]) -> Hit | None:
    image = _image(c)
    if image is not None and image_reference_parts(image)[2] is None:
        return hit(f"container {cname(c)} image {image} is not pinned by digest", c, "image",
                   f"container:{cname(c)}")
    return None


def _resource(section: str, name: str) -> ContainerTest:
    def test(spec: dict[str, Any], c: dict[str, Any]) -> Hit | None:
        if get(c, "resources", section, name) is not None:
            return None
        message = f"container {cname(c)} sets no {name} {section[:-1]}"
        resources = c.get("resources")
        if isinstance(resources, dict):
            return hit(message, resources, section if section in resources else None,
                       f"container:{cname(c)}")
        return hit(message, c, subject=f"container:{cname(c)}")
    return test


def _regular(test: ContainerTest) -> TestFunc:
    """Only long-running containers need probes (not init or ephemeral containers, not Jobs)."""
    def run(doc: Document) -> Iterator[Hit]:
        spec = pod_spec(doc)
        if spec is None or doc.kind in ("Job", "CronJob"):
            return
        for field, c in containers(spec):
            if field == "containers":
                found = test(spec, c)
                if found is not None:
                    yield found
    return run


def _probe(name: str) -> ContainerTest:
    def test(spec: dict[str, Any], c: dict[str, Any]) -> Hit | None:
        if c.get(name) is None:
            return hit(f"container {cname(c)} has no {name}", c, subject=f"container:{cname(c)}")
        return None
    return test


def _token_mounted(doc: Document) -> Iterator[Hit]:
    spec = pod_spec(doc)
    if spec is not None and spec.get("automountServiceAccountToken") is not False \
            and not is_false(spec.get("automountServiceAccountToken")):
        yield on_pod(spec, "the service account token is mounted (automountServiceAccountToken "
                           "is not false)", "automountServiceAccountToken")


def _default_sa(doc: Document) -> Iterator[Hit]:
    spec = pod_spec(doc)
    if spec is None:
        return
    name = spec.get("serviceAccountName") or spec.get("serviceAccount")
    if name in (None, "", "default"):
        yield on_pod(spec, "the pod uses the namespace's default service account",
                     "serviceAccountName")


def _secret_env(doc: Document) -> Iterator[Hit]:
    spec = pod_spec(doc)
    for _, c in containers(spec or {}):
        for index, env in enumerate(as_list(c.get("env"))):
            if get(env, "valueFrom", "secretKeyRef") is not None:
                yield hit(f"container {cname(c)} reads secret into env {env.get('name')}",
                          c["env"], index, f"env:{cname(c)}:{env.get('name')}")
        for index, source in enumerate(as_list(c.get("envFrom"))):
            if get(source, "secretRef") is not None:
                yield hit(f"container {cname(c)} loads a whole secret into its environment",
                          c["envFrom"], index, f"envfrom:{cname(c)}:{index}")


def _plain_env(doc: Document) -> Iterator[Hit]:
    spec = pod_spec(doc)
    for _, c in containers(spec or {}):
        for index, env in enumerate(as_list(c.get("env"))):
            if isinstance(env, dict) and secret_assignment(env.get("name"), env.get("value")):
                yield hit(f"container {cname(c)} env {env.get('name')} holds a credential in "
                          "clear text", c["env"], index, f"env:{cname(c)}:{env.get('name')}")


def _namespace(doc: Document) -> str | None:
    ns = get(doc.body, "metadata", "namespace")
    return ns if isinstance(ns, str) else None


def _default_namespace(doc: Document) -> Iterator[Hit]:
    if _namespace(doc) in (None, "default"):
        meta = doc.body.get("metadata")
        yield hit("the object has no namespace or uses 'default'", meta if isinstance(meta, dict)
                  else doc.body, "namespace" if isinstance(meta, dict) else None, "namespace")


def _kube_system(doc: Document) -> Iterator[Hit]:
    if _namespace(doc) == "kube-system":
        yield hit("workload deployed into kube-system", doc.body["metadata"], "namespace",
                  "namespace")


W = WORKLOADS
CHECKS = (
    check("SW-K8S-030", "Image uses 'latest' or no tag", MEDIUM, K8S, per_container(_latest),
          description="A mutable tag makes deployments unreproducible and lets an unreviewed "
                      "image in on the next pull.",
          remediation="Use an explicit version tag, ideally with a digest.",
          references=(IMAGES,), controls=(nsa("secure-images"),), kinds=W),
    check("SW-K8S-031", "Image not pinned by digest", LOW, K8S, per_container(_digest),
          description="Only a digest guarantees the image that was scanned is the one that "
                      "runs.",
          remediation="Reference images as `name:tag@sha256:…`.",
          references=(IMAGES,), controls=(nsa("secure-images"),), kinds=W),
    check("SW-K8S-032", "No CPU limit", LOW, K8S, per_container(_resource("limits", "cpu")),
          description="Without a CPU limit one container can starve the node.",
          remediation="Set `resources.limits.cpu`.", references=(RESOURCES, NSA_GUIDE),
          controls=(nsa("resource-policies"),), kinds=W),
    check("SW-K8S-033", "No memory limit", LOW, K8S,
          per_container(_resource("limits", "memory")),
          description="Without a memory limit one container can exhaust the node's memory.",
          remediation="Set `resources.limits.memory`.", references=(RESOURCES, NSA_GUIDE),
          controls=(nsa("resource-policies"),), kinds=W),
    check("SW-K8S-034", "No CPU request", LOW, K8S,
          per_container(_resource("requests", "cpu")),
          description="Without requests the scheduler cannot place pods safely.",
          remediation="Set `resources.requests.cpu`.", references=(RESOURCES,),
          controls=(nsa("resource-policies"),), kinds=W),
    check("SW-K8S-035", "No memory request", LOW, K8S,
          per_container(_resource("requests", "memory")),
          description="Without requests the scheduler cannot place pods safely.",
          remediation="Set `resources.requests.memory`.", references=(RESOURCES,),
          controls=(nsa("resource-policies"),), kinds=W),
    check("SW-K8S-036", "No liveness probe", LOW, K8S, _regular(_probe("livenessProbe")),
          description="A hung container is never restarted without a liveness probe.",
          remediation="Add a `livenessProbe`.", references=(PROBES,), kinds=W),
    check("SW-K8S-037", "No readiness probe", LOW, K8S, _regular(_probe("readinessProbe")),
          description="Traffic reaches a container before it is ready without a readiness "
                      "probe.",
          remediation="Add a `readinessProbe`.", references=(PROBES,), kinds=W),
    check("SW-K8S-038", "Service account token mounted", LOW, K8S, _token_mounted,
          description="A mounted token lets a compromised pod call the Kubernetes API.",
          remediation="Set `automountServiceAccountToken: false` unless the pod needs the API.",
          references=(SA,), controls=(k8s("5.1.6"), nsa("sa-tokens")), kinds=W),
    check("SW-K8S-039", "Default service account used", LOW, K8S, _default_sa,
          description="The default service account is shared by every pod of the namespace; "
                      "any role granted to it is granted to all.",
          remediation="Create a dedicated service account per workload.",
          references=(SA,), controls=(k8s("5.1.5"), nsa("rbac")), kinds=W),
    check("SW-K8S-040", "Secret exposed as environment variable", LOW, K8S, _secret_env,
          description="Environment variables leak into logs, crash dumps and child processes.",
          remediation="Mount secrets as files (a secret volume) instead.",
          references=(SECRETS,), controls=(k8s("5.4.1"), nsa("secrets")), kinds=W),
    check("SW-K8S-041", "Credential in plain environment value", HIGH, K8S, _plain_env,
          description="A password or token written in the manifest is readable by anyone "
                      "with the manifest or `get` on the workload.",
          remediation="Move the value to a Secret (or an external secret store) and reference "
                      "it.", references=(SECRETS,), controls=(nsa("secrets"),), kinds=W),
    check("SW-K8S-042", "Default namespace used", LOW, K8S, _default_namespace,
          description="Objects without a namespace land in 'default', which has no isolation.",
          remediation="Set `metadata.namespace` to a dedicated namespace.",
          controls=(k8s("5.7.4"), nsa("namespaces")), kinds=W),
    check("SW-K8S-043", "Workload in kube-system", MEDIUM, K8S, _kube_system,
          description="kube-system holds the control plane's credentials; user workloads "
                      "there get close to them.",
          remediation="Deploy into a dedicated namespace.",
          controls=(nsa("namespaces"),), kinds=W),
)
