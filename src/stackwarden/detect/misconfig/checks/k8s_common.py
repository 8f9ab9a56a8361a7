"""Helpers for Kubernetes checks: find the pod spec of any workload, walk its containers,
resolve security settings that a container inherits from its pod."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from stackwarden.detect.misconfig.checks.util import get, hit, mappings
from stackwarden.detect.misconfig.kubernetes import POD_SPEC_PATHS, WORKLOAD_KINDS
from stackwarden.detect.misconfig.model import Document, Hit

K8S = "kubernetes"
WORKLOADS = WORKLOAD_KINDS
CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")
PSS = "https://kubernetes.io/docs/concepts/security/pod-security-standards/"
SECCTX = "https://kubernetes.io/docs/tasks/configure-pod-container/security-context/"
RBAC_DOC = "https://kubernetes.io/docs/reference/access-authn-authz/rbac/"
NSA_GUIDE = ("https://media.defense.gov/2022/Aug/29/2003066362/-1/-1/0/"
             "CTR_KUBERNETES_HARDENING_GUIDANCE_1.2_20220829.PDF")


def pod_spec(doc: Document) -> dict[str, Any] | None:
    """The pod spec of a Pod or of a workload's pod template (looked up once per document)."""
    if "pod_spec" not in doc.cache:
        path = POD_SPEC_PATHS.get(doc.kind)
        spec = get(doc.body, *path) if path else None
        doc.cache["pod_spec"] = spec if isinstance(spec, dict) else None
    return doc.cache["pod_spec"]


def pod_metadata(doc: Document) -> dict[str, Any]:
    """The metadata that applies to the pods (template metadata for workloads)."""
    path = POD_SPEC_PATHS.get(doc.kind, ("spec",))
    meta = doc.body.get("metadata") if doc.kind == "Pod" else get(doc.body, *path[:-1],
                                                                     "metadata")
    return meta if isinstance(meta, dict) else {}


def containers(spec: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(list name, container) for every init, regular and ephemeral container."""
    return [(field, container) for field in CONTAINER_LISTS if field in spec
            for container in mappings(spec[field])]


def cname(container: dict[str, Any]) -> str:
    """A container's name for messages and fingerprints."""
    return str(container.get("name") or "?")


def container_ctx(container: dict[str, Any]) -> dict[str, Any]:
    """The container's securityContext ({} when absent)."""
    ctx = container.get("securityContext")
    return ctx if isinstance(ctx, dict) else {}


def pod_ctx(spec: dict[str, Any]) -> dict[str, Any]:
    """The pod's securityContext ({} when absent)."""
    ctx = spec.get("securityContext")
    return ctx if isinstance(ctx, dict) else {}


def effective(spec: dict[str, Any], container: dict[str, Any], key: str) -> Any:
    """A security setting as the kubelet applies it: the container's, else the pod's."""
    ctx = container_ctx(container)
    if key in ctx and ctx[key] is not None:
        return ctx[key]
    return pod_ctx(spec).get(key)


def where(container: dict[str, Any], *keys: str) -> tuple[Any, str | None]:
    """The innermost existing mapping along `securityContext.<keys>` and its key, for lines."""
    ctx = container.get("securityContext")
    if not isinstance(ctx, dict):
        return container, None
    node: Any = ctx
    for key in keys[:-1]:
        nxt = node.get(key) if isinstance(node, dict) else None
        if not isinstance(nxt, dict):
            return node, key if key in node else None
        node = nxt
    last = keys[-1] if keys else None
    return node, last if isinstance(node, dict) and last in node else None


ContainerTest = Callable[[dict[str, Any], dict[str, Any]], Hit | None]


def per_container(test: ContainerTest) -> Callable[[Document], Iterator[Hit]]:
    """A check test that runs `test(pod_spec, container)` for every container."""
    def run(doc: Document) -> Iterator[Hit]:
        spec = pod_spec(doc)
        if spec is None:
            return
        for _, container in containers(spec):
            found = test(spec, container)
            if found is not None:
                yield found
    return run


def on_container(container: dict[str, Any], message: str, *keys: str) -> Hit:
    """A hit on a container, pointing at `securityContext.<keys>` when it exists."""
    node, key = where(container, *keys) if keys else (container, None)
    if key is None and node is container:
        found = hit(message, container, subject=f"container:{cname(container)}")
        return found
    return hit(message, node, key, subject=f"container:{cname(container)}")


def on_pod(spec: dict[str, Any], message: str, key: str | None = None) -> Hit:
    """A hit on the pod spec (at `key` when present)."""
    return hit(message, spec, key if key in spec else None, subject=f"pod:{key or ''}")
