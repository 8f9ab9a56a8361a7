"""Kubernetes plants: hardened workloads and cluster objects, one mutation per check."""

from __future__ import annotations

import copy
from typing import Any

import yaml

from tests.helpers.misconfig import FileKind, Mutation, Plant, apply_ops

DIGEST = "sha256:" + "ab" * 32
IMAGE = f"registry.example.com/shop/app:1.2.3@{DIGEST}"
POD_PATHS = {
    "Deployment": ("spec", "template", "spec"), "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"), "ReplicaSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"), "Pod": ("spec",),
}
ROTATION = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Pod", "ReplicaSet")


def pod_spec() -> dict[str, Any]:
    """A pod spec that passes every built-in check."""
    return {
        "serviceAccountName": "app-sa",
        "automountServiceAccountToken": False,
        "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001,
                            "fsGroup": 10001, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [{
            "name": "app", "image": IMAGE,
            "ports": [{"containerPort": 8080}],
            "securityContext": {"allowPrivilegeEscalation": False,
                                "readOnlyRootFilesystem": True,
                                "capabilities": {"drop": ["ALL"]}},
            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"},
                          "limits": {"cpu": "500m", "memory": "256Mi"}},
            "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080}},
            "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}},
            "env": [{"name": "LOG_LEVEL", "value": "info"}],
        }],
    }


def workload(kind: str, name: str) -> dict[str, Any]:
    """A clean workload of `kind`."""
    meta = {"name": name, "namespace": "app", "labels": {"app": name}}
    spec = pod_spec()
    if kind == "Pod":
        return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}
    template = {"metadata": {"labels": {"app": name}}, "spec": spec}
    if kind in ("Job", "CronJob"):
        spec["restartPolicy"] = "Never"
        job = {"template": template}
        body = {"schedule": "0 3 * * *", "jobTemplate": {"spec": job}} if kind == "CronJob" \
            else job
        return {"apiVersion": "batch/v1", "kind": kind, "metadata": meta, "spec": body}
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": meta,
            "spec": {"selector": {"matchLabels": {"app": name}}, "template": template}}


def cluster_object(kind: str, name: str) -> dict[str, Any]:
    """A clean RBAC, network or configuration object."""
    meta = {"name": name, "namespace": "app"}
    objects: dict[str, dict[str, Any]] = {
        "ClusterRole": {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                        "metadata": {"name": name},
                        "rules": [{"apiGroups": [""], "resources": ["configmaps"],
                                   "verbs": ["get", "list"]}]},
        "RoleBinding": {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                        "metadata": meta,
                        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                    "name": "reader"},
                        "subjects": [{"kind": "ServiceAccount", "name": "app-sa",
                                      "namespace": "app"}]},
        "Service": {"apiVersion": "v1", "kind": "Service", "metadata": meta,
                    "spec": {"type": "ClusterIP", "selector": {"app": name},
                             "ports": [{"port": 80, "targetPort": 8080}]}},
        "Ingress": {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                    "metadata": {**meta, "annotations": {
                        "nginx.ingress.kubernetes.io/proxy-body-size": "8m"}},
                    "spec": {"tls": [{"hosts": ["shop.example.com"], "secretName": "tls"}],
                             "rules": [{"host": "shop.example.com", "http": {"paths": [{
                                 "path": "/", "pathType": "Prefix", "backend": {
                                     "service": {"name": name, "port": {"number": 80}}}}]}}]}},
        "NetworkPolicy": {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                          "metadata": meta,
                          "spec": {"podSelector": {"matchLabels": {"app": "web"}},
                                   "policyTypes": ["Ingress", "Egress"],
                                   "ingress": [{"from": [{"podSelector": {
                                       "matchLabels": {"app": "frontend"}}}],
                                       "ports": [{"port": 8080}]}],
                                   "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]}]}},
        "ConfigMap": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta,
                      "data": {"LOG_LEVEL": "info", "DB_HOST": "db.internal"}},
        "Namespace": {"apiVersion": "v1", "kind": "Namespace",
                      "metadata": {"name": name, "labels": {
                          "pod-security.kubernetes.io/enforce": "restricted"}}},
    }
    return copy.deepcopy(objects[kind])


def _expand(ops: list[tuple[Any, ...]], kind: str) -> list[tuple[Any, ...]]:
    pod = POD_PATHS.get(kind, ())
    out = []
    for op in ops:
        path = op[1]
        if path and path[0] == "P":
            path = pod + tuple(path[1:])
        elif path and path[0] == "C":
            path = (*pod, "containers", 0, *path[1:])
        out.append((op[0], path, *op[2:]))
    return out


def _resource(obj: dict[str, Any]) -> str:
    meta = obj["metadata"]
    ns = meta.get("namespace")
    return f"{obj['kind']}/{ns}/{meta['name']}" if ns else f"{obj['kind']}/{meta['name']}"


def _plant(check_id: str, kind: str | None, bad_ops: list[tuple[Any, ...]],
           good_ops: list[tuple[Any, ...]], also: tuple[str, ...] = ()) -> Plant:
    def make(ops: list[tuple[Any, ...]]) -> Mutation:
        def run(model: list[dict[str, Any]], n: int) -> str:
            chosen = kind or ROTATION[n % len(ROTATION)]
            name = f"w{n}"
            obj = workload(chosen, name) if chosen in POD_PATHS else cluster_object(chosen, name)
            apply_ops(obj, _expand(ops, chosen))
            model.append(obj)
            return _resource(obj)
        return run
    return Plant(check_id, "kubernetes", make(bad_ops), make(good_ops), also=also)


SC = ("C", "securityContext")
PSC = ("P", "securityContext")
RULE = ("rules", 0)
PLANTS = [
    _plant("SW-K8S-001", None, [("set", (*SC, "privileged"), True)],
           [("set", (*SC, "privileged"), False)]),
    _plant("SW-K8S-002", None, [("set", (*SC, "allowPrivilegeEscalation"), True)],
           [("set", (*SC, "allowPrivilegeEscalation"), False)]),
    _plant("SW-K8S-003", None, [("set", ("P", "hostPID"), True)],
           [("set", ("P", "hostPID"), False)]),
    _plant("SW-K8S-004", None, [("set", ("P", "hostIPC"), True)],
           [("set", ("P", "hostIPC"), False)]),
    _plant("SW-K8S-005", None, [("set", ("P", "hostNetwork"), True)],
           [("set", ("P", "hostNetwork"), False)]),
    _plant("SW-K8S-006", None, [("del", (*PSC, "runAsNonRoot")), ("del", (*PSC, "runAsUser"))],
           [("del", (*PSC, "runAsNonRoot"))]),
    _plant("SW-K8S-007", None, [("set", (*SC, "runAsUser"), 0)],
           [("set", (*SC, "runAsUser"), 1000)]),
    _plant("SW-K8S-008", None, [("set", (*PSC, "runAsGroup"), 0)],
           [("set", (*PSC, "runAsGroup"), 3000)]),
    _plant("SW-K8S-009", None, [("set", (*SC, "capabilities", "drop"), ["CHOWN"])],
           [("set", (*SC, "capabilities", "drop"), ["ALL", "NET_RAW"])], also=("SW-K8S-011",)),
    _plant("SW-K8S-010", None, [("set", (*SC, "capabilities", "add"), ["SYS_ADMIN"])],
           [("set", (*SC, "capabilities", "add"), ["NET_BIND_SERVICE"])]),
    _plant("SW-K8S-011", None, [("set", (*SC, "capabilities", "drop"), ["NET_RAW"])],
           [("set", (*SC, "capabilities", "drop"), ["all"])]),
    _plant("SW-K8S-012", None,
           [("set", ("P", "volumes"), [{"name": "data", "hostPath": {"path": "/data/app"}}])],
           [("set", ("P", "volumes"), [{"name": "data", "emptyDir": {}}])]),
    _plant("SW-K8S-013", None, [("set", ("P", "volumes"), [
        {"name": "sock", "hostPath": {"path": "/var/run/docker.sock", "type": "Socket"}}])],
           [("set", ("P", "volumes"), [{"name": "sock", "emptyDir": {}}])],
           also=("SW-K8S-012",)),
    _plant("SW-K8S-014", None,
           [("set", ("P", "volumes"), [{"name": "etc", "hostPath": {"path": "/etc"}}])],
           [("set", ("P", "volumes"), [{"name": "etc", "persistentVolumeClaim": {
               "claimName": "etc"}}])], also=("SW-K8S-012",)),
    _plant("SW-K8S-015", None, [("set", ("C", "ports"), [{"containerPort": 8080,
                                                          "hostPort": 8080}])],
           [("set", ("C", "ports"), [{"containerPort": 8080, "name": "http"}])]),
    _plant("SW-K8S-016", None, [("set", (*SC, "readOnlyRootFilesystem"), False)],
           [("set", (*SC, "readOnlyRootFilesystem"), True)]),
    _plant("SW-K8S-017", None, [("set", (*PSC, "seccompProfile"), {"type": "Unconfined"})],
           [("set", (*PSC, "seccompProfile"), {"type": "Localhost",
                                              "localhostProfile": "profiles/app.json"})]),
    _plant("SW-K8S-018", None, [("set", (*SC, "appArmorProfile"), {"type": "Unconfined"})],
           [("set", (*SC, "appArmorProfile"), {"type": "RuntimeDefault"})]),
    _plant("SW-K8S-019", None, [("set", (*SC, "seLinuxOptions"), {"type": "spc_t"})],
           [("set", (*SC, "seLinuxOptions"), {"level": "s0:c123,c456"})]),
    _plant("SW-K8S-020", None, [("set", (*SC, "procMount"), "Unmasked")],
           [("set", (*SC, "procMount"), "Default")]),
    _plant("SW-K8S-021", None,
           [("set", (*PSC, "sysctls"), [{"name": "kernel.msgmax", "value": "65536"}])],
           [("set", (*PSC, "sysctls"), [{"name": "net.ipv4.tcp_syncookies", "value": "1"}])]),
    _plant("SW-K8S-022", None, [("set", (*SC, "windowsOptions"), {"hostProcess": True})],
           [("set", (*SC, "windowsOptions"), {"hostProcess": False})]),
    _plant("SW-K8S-023", None, [("set", ("P", "shareProcessNamespace"), True)],
           [("set", ("P", "shareProcessNamespace"), False)]),
    _plant("SW-K8S-030", None, [("set", ("C", "image"), "registry.example.com/shop/app:latest")],
           [("set", ("C", "image"), f"registry.example.com/shop/app:1.2.4@{DIGEST}")],
           also=("SW-K8S-031",)),
    _plant("SW-K8S-031", None, [("set", ("C", "image"), "registry.example.com/shop/app:1.2.3")],
           [("set", ("C", "image"), f"registry.example.com/shop/app@{DIGEST}")]),
    _plant("SW-K8S-032", None, [("del", ("C", "resources", "limits", "cpu"))],
           [("set", ("C", "resources", "limits", "cpu"), "1")]),
    _plant("SW-K8S-033", None, [("del", ("C", "resources", "limits", "memory"))],
           [("set", ("C", "resources", "limits", "memory"), "1Gi")]),
    _plant("SW-K8S-034", None, [("del", ("C", "resources", "requests", "cpu"))],
           [("set", ("C", "resources", "requests", "cpu"), "50m")]),
    _plant("SW-K8S-035", None, [("del", ("C", "resources", "requests", "memory"))],
           [("set", ("C", "resources", "requests", "memory"), "64Mi")]),
    _plant("SW-K8S-036", "Deployment", [("del", ("C", "livenessProbe"))],
           [("set", ("C", "livenessProbe"), {"tcpSocket": {"port": 8080}})]),
    _plant("SW-K8S-037", "StatefulSet", [("del", ("C", "readinessProbe"))],
           [("set", ("C", "readinessProbe"), {"exec": {"command": ["/ready"]}})]),
    _plant("SW-K8S-038", None, [("del", ("P", "automountServiceAccountToken"))],
           [("set", ("P", "automountServiceAccountToken"), False)]),
    _plant("SW-K8S-039", None, [("set", ("P", "serviceAccountName"), "default")],
           [("set", ("P", "serviceAccountName"), "payments")]),
    _plant("SW-K8S-040", None, [("append", ("C", "env"), {"name": "DB_PASSWORD", "valueFrom": {
        "secretKeyRef": {"name": "db", "key": "password"}}})],
           [("append", ("C", "env"), {"name": "DB_HOST", "valueFrom": {
               "configMapKeyRef": {"name": "db", "key": "host"}}})]),
    _plant("SW-K8S-041", None,
           [("append", ("C", "env"), {"name": "DB_PASSWORD", "value": "Sup3r-s3cret-pw"})],
           [("append", ("C", "env"), {"name": "DB_PASSWORD_FILE",
                                      "value": "/run/secrets/db-password"})]),
    _plant("SW-K8S-042", None, [("del", ("metadata", "namespace"))],
           [("set", ("metadata", "namespace"), "payments")]),
    _plant("SW-K8S-043", None, [("set", ("metadata", "namespace"), "kube-system")],
           [("set", ("metadata", "namespace"), "monitoring")]),
    _plant("SW-K8S-050", "ClusterRole", [("set", (*RULE, "verbs"), ["*"])],
           [("set", (*RULE, "verbs"), ["get", "list", "watch"])]),
    _plant("SW-K8S-051", "ClusterRole", [("set", (*RULE, "resources"), ["secrets"])],
           [("set", (*RULE, "resources"), ["services"])]),
    _plant("SW-K8S-052", "ClusterRole", [("set", RULE, {
        "apiGroups": [""], "resources": ["pods"], "verbs": ["create"]})],
           [("set", RULE, {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]})]),
    _plant("SW-K8S-053", "ClusterRole", [("set", RULE, {
        "apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"],
        "verbs": ["get", "escalate"]})],
           [("set", RULE, {"apiGroups": [""], "resources": ["configmaps"],
                           "verbs": ["get", "escalate"]})]),
    _plant("SW-K8S-054", "ClusterRole", [("set", RULE, {
        "apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create"]})],
           [("set", RULE, {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]})]),
    _plant("SW-K8S-055", "ClusterRole", [("set", RULE, {
        "apiGroups": [""], "resources": ["nodes/proxy"], "verbs": ["get"]})],
           [("set", RULE, {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get"]})]),
    _plant("SW-K8S-056", "ClusterRole", [("set", RULE, {
        "apiGroups": ["rbac.authorization.k8s.io"], "resources": ["rolebindings"],
        "verbs": ["create"]})],
           [("set", RULE, {"apiGroups": ["rbac.authorization.k8s.io"],
                           "resources": ["rolebindings"], "verbs": ["list"]})]),
    _plant("SW-K8S-057", "RoleBinding", [("set", ("roleRef", "name"), "cluster-admin")],
           [("set", ("roleRef", "name"), "view")]),
    _plant("SW-K8S-058", "RoleBinding", [("set", ("subjects",), [
        {"kind": "Group", "name": "system:anonymous",
         "apiGroup": "rbac.authorization.k8s.io"}])],
           [("set", ("subjects",), [{"kind": "Group", "name": "team-a",
                                     "apiGroup": "rbac.authorization.k8s.io"}])]),
    _plant("SW-K8S-059", "RoleBinding", [("set", ("subjects",), [
        {"kind": "Group", "name": "system:masters", "apiGroup": "rbac.authorization.k8s.io"}])],
           [("set", ("subjects",), [{"kind": "Group", "name": "ops",
                                     "apiGroup": "rbac.authorization.k8s.io"}])]),
    _plant("SW-K8S-060", "RoleBinding", [("set", ("subjects", 0, "name"), "default")],
           [("set", ("subjects", 0, "name"), "billing-sa")]),
    _plant("SW-K8S-061", "Service", [("set", ("spec", "type"), "NodePort")],
           [("set", ("spec", "type"), "ClusterIP")]),
    _plant("SW-K8S-062", "Service", [("set", ("spec", "type"), "LoadBalancer")],
           [("set", ("spec", "type"), "LoadBalancer"),
            ("set", ("spec", "loadBalancerSourceRanges"), ["203.0.113.0/24"])]),
    _plant("SW-K8S-063", "Service", [("set", ("spec", "externalIPs"), ["203.0.113.10"])],
           [("set", ("spec", "clusterIP"), "10.96.0.10")]),
    _plant("SW-K8S-064", "Ingress", [("del", ("spec", "tls"))],
           [("set", ("spec", "tls"), [{"hosts": ["www.example.com"], "secretName": "www"}])]),
    _plant("SW-K8S-065", "Ingress", [("set", ("metadata", "annotations", (
        "nginx.ingress.kubernetes.io/configuration-snippet")), "more_set_headers 'X: y';")],
           [("set", ("metadata", "annotations", "nginx.ingress.kubernetes.io/ssl-redirect"),
             "true")]),
    _plant("SW-K8S-066", "NetworkPolicy", [("set", ("spec", "ingress"), [{}])],
           [("set", ("spec", "ingress"), [{"from": [{"namespaceSelector": {
               "matchLabels": {"team": "shop"}}}]}])]),
    _plant("SW-K8S-067", "NetworkPolicy", [("set", ("spec", "egress"), [
        {"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}])],
           [("set", ("spec", "egress"), [{"to": [{"ipBlock": {
               "cidr": "0.0.0.0/0", "except": ["169.254.169.254/32"]}}]}])]),
    _plant("SW-K8S-068", "ConfigMap", [("set", ("data", "DB_PASSWORD"), "hunter2-but-longer")],
           [("set", ("data", "DB_USER"), "shop")]),
    _plant("SW-K8S-069", "Namespace",
           [("del", ("metadata", "labels", "pod-security.kubernetes.io/enforce"))],
           [("set", ("metadata", "labels", "pod-security.kubernetes.io/enforce"), "baseline")]),
    _plant("SW-K8S-070", "Namespace",
           [("set", ("metadata", "labels", "pod-security.kubernetes.io/enforce"), "privileged")],
           [("set", ("metadata", "labels", "pod-security.kubernetes.io/warn"), "privileged")]),
]


def new() -> list[dict[str, Any]]:
    """A clean file: a hardened Deployment and Namespace."""
    return [cluster_object("Namespace", "app"), workload("Deployment", "web")]


def render(model: list[dict[str, Any]]) -> bytes:
    """Multi-document YAML."""
    return yaml.safe_dump_all(model, sort_keys=False).encode()


KIND = FileKind("kubernetes", new, render, lambda n: f"manifests-{n}.yaml", single_model=False)
