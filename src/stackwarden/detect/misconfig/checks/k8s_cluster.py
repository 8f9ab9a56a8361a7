"""Kubernetes access and exposure: RBAC roles and bindings, Services, Ingress, network
policies, ConfigMaps, Namespaces."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from stackwarden.detect.misconfig.checks import CRITICAL, HIGH, LOW, MEDIUM, check
from stackwarden.detect.misconfig.checks.k8s_common import K8S, NSA_GUIDE, RBAC_DOC
from stackwarden.detect.misconfig.checks.util import (
    as_list,
    get,
    hit,
    is_open_cidr,
    mappings,
    secret_assignment,
)
from stackwarden.detect.misconfig.controls import k8s, nsa
from stackwarden.detect.misconfig.model import Document, Hit, TestFunc

ROLES = ("Role", "ClusterRole")
BINDINGS = ("RoleBinding", "ClusterRoleBinding")
SERVICE = "https://kubernetes.io/docs/concepts/services-networking/service/"
INGRESS = "https://kubernetes.io/docs/concepts/services-networking/ingress/"
NETPOL = "https://kubernetes.io/docs/concepts/services-networking/network-policies/"
PSA = "https://kubernetes.io/docs/concepts/security/pod-security-admission/"
ANONYMOUS = frozenset({"system:anonymous", "system:unauthenticated", "system:authenticated"})
NGINX_SNIPPETS = ("nginx.ingress.kubernetes.io/configuration-snippet",
                  "nginx.ingress.kubernetes.io/server-snippet",
                  "nginx.ingress.kubernetes.io/auth-snippet",
                  "nginx.ingress.kubernetes.io/stream-snippet")


def _rules(doc: Document) -> Iterator[tuple[int, dict[str, Any]]]:
    for index, rule in enumerate(as_list(doc.body.get("rules"))):
        if isinstance(rule, dict):
            yield index, rule


def _words(rule: dict[str, Any], key: str) -> set[str]:
    return {str(v).lower() for v in as_list(rule.get(key))}


def _rule_hit(doc: Document, index: int, message: str) -> Hit:
    return hit(message, doc.body["rules"], index, f"rule:{index}")


def _wildcard(doc: Document) -> Iterator[Hit]:
    for index, rule in _rules(doc):
        fields = [k for k in ("verbs", "resources", "apiGroups") if "*" in _words(rule, k)]
        if "verbs" in fields or "resources" in fields:
            yield _rule_hit(doc, index, f"rule {index} uses '*' in {', '.join(fields)}")


def _grants(rule: dict[str, Any], resources: set[str], verbs: set[str]) -> bool:
    have_resources = _words(rule, "resources")
    have_verbs = _words(rule, "verbs")
    return bool((have_resources & resources or "*" in have_resources)
                and (have_verbs & verbs or "*" in have_verbs))


def _grant_check(resources: set[str], verbs: set[str], what: str) -> TestFunc:
    def test(doc: Document) -> Iterator[Hit]:
        for index, rule in _rules(doc):
            if rule.get("nonResourceURLs") is None and _grants(rule, resources, verbs):
                yield _rule_hit(doc, index, f"rule {index} {what}")
    return test


# Each verb only escalates on these resources (bind/escalate on roles, impersonate on
# identities); the same verb on other resources grants nothing.
ESCALATION = {"bind": {"roles", "clusterroles"}, "escalate": {"roles", "clusterroles"},
              "impersonate": {"users", "groups", "serviceaccounts", "userextras",
                              "uids"}}


def _escalation_verbs(doc: Document) -> Iterator[Hit]:
    for index, rule in _rules(doc):
        verbs, resources = _words(rule, "verbs"), _words(rule, "resources")
        bad = sorted(verb for verb, targets in ESCALATION.items()
                     if (verb in verbs or "*" in verbs) and (resources & targets or
                                                             "*" in resources))
        if bad and not ("*" in verbs and "*" in resources):  # that one is SW-K8S-050's
            yield _rule_hit(doc, index, f"rule {index} grants {', '.join(bad)} on "
                                        f"{', '.join(sorted(resources))}")


def _role_ref(doc: Document) -> Iterator[Hit]:
    if get(doc.body, "roleRef", "name") == "cluster-admin":
        yield hit("binds the cluster-admin role", doc.body["roleRef"], "name", "roleRef")


def _subjects(doc: Document, names: frozenset[str], label: str) -> Iterator[Hit]:
    for index, subject in enumerate(as_list(doc.body.get("subjects"))):
        if isinstance(subject, dict) and subject.get("name") in names:
            yield hit(f"binds {label} {subject['name']}", doc.body["subjects"], index,
                      f"subject:{subject['name']}")


def _anonymous(doc: Document) -> Iterator[Hit]:
    yield from _subjects(doc, ANONYMOUS, "the group")


def _masters(doc: Document) -> Iterator[Hit]:
    yield from _subjects(doc, frozenset({"system:masters"}), "the group")


def _default_sa_binding(doc: Document) -> Iterator[Hit]:
    for index, subject in enumerate(as_list(doc.body.get("subjects"))):
        if isinstance(subject, dict) and subject.get("kind") == "ServiceAccount" and \
                subject.get("name") == "default":
            yield hit("grants a role to a default service account", doc.body["subjects"],
                      index, f"subject:default:{subject.get('namespace')}")


def _node_port(doc: Document) -> Iterator[Hit]:
    spec = doc.body.get("spec")
    if isinstance(spec, dict) and spec.get("type") == "NodePort":
        yield hit("Service type NodePort opens a port on every node", spec, "type", "type")


def _open_lb(doc: Document) -> Iterator[Hit]:
    spec = doc.body.get("spec")
    if not isinstance(spec, dict) or spec.get("type") != "LoadBalancer":
        return
    ranges = as_list(spec.get("loadBalancerSourceRanges"))
    annotations = get(doc.body, "metadata", "annotations", default={})
    internal = isinstance(annotations, dict) and any(
        "internal" in str(k).lower() and str(v).lower() in ("true", "internal", "0.0.0.0/0")
        for k, v in annotations.items())
    if internal:
        return
    if not ranges or any(is_open_cidr(r) for r in ranges):
        yield hit("LoadBalancer Service reachable from any address (no "
                  "loadBalancerSourceRanges)", spec, "type", "type")


def _external_ips(doc: Document) -> Iterator[Hit]:
    spec = doc.body.get("spec")
    if isinstance(spec, dict) and as_list(spec.get("externalIPs")):
        yield hit("Service sets externalIPs (CVE-2020-8554 traffic interception)", spec,
                  "externalIPs", "externalIPs")


def _no_tls(doc: Document) -> Iterator[Hit]:
    spec = doc.body.get("spec")
    if isinstance(spec, dict) and not as_list(spec.get("tls")):
        yield hit("Ingress serves plain HTTP (no tls section)", spec, subject="tls")


def _snippets(doc: Document) -> Iterator[Hit]:
    annotations = get(doc.body, "metadata", "annotations")
    if isinstance(annotations, dict):
        for key in NGINX_SNIPPETS:
            if key in annotations:
                yield hit(f"Ingress uses the {key} annotation (arbitrary nginx configuration, "
                          "CVE-2021-25742)", annotations, key, key)


def _allow_all(direction: str) -> TestFunc:
    def test(doc: Document) -> Iterator[Hit]:
        spec = doc.body.get("spec")
        if not isinstance(spec, dict):
            return
        for index, rule in enumerate(as_list(spec.get(direction))):
            peers = "from" if direction == "ingress" else "to"
            if isinstance(rule, dict) and not rule.get(peers) and not rule.get("ports"):
                yield hit(f"{direction} rule {index} allows all traffic", spec[direction], index,
                          f"{direction}:{index}")
            elif isinstance(rule, dict):
                for peer in mappings(rule.get(peers)):
                    if is_open_cidr(get(peer, "ipBlock", "cidr")) and not \
                            get(peer, "ipBlock", "except"):
                        yield hit(f"{direction} rule {index} allows any address", spec[direction],
                                  index, f"{direction}:{index}")
    return test


def _configmap_secret(doc: Document) -> Iterator[Hit]:
    data = doc.body.get("data")
    if isinstance(data, dict):
        for key, value in data.items():
            if secret_assignment(key, value):
                yield hit(f"ConfigMap key {key} holds a credential", data, key, f"key:{key}")


def _no_psa(doc: Document) -> Iterator[Hit]:
    labels = get(doc.body, "metadata", "labels", default={})
    if not isinstance(labels, dict) or "pod-security.kubernetes.io/enforce" not in labels:
        name = get(doc.body, "metadata", "name")
        if name not in ("kube-system", "kube-public", "kube-node-lease"):
            yield hit("namespace has no pod-security.kubernetes.io/enforce label",
                      doc.body.get("metadata") or doc.body, subject="psa")


def _privileged_psa(doc: Document) -> Iterator[Hit]:
    labels = get(doc.body, "metadata", "labels", default={})
    if isinstance(labels, dict) and labels.get("pod-security.kubernetes.io/enforce") == \
            "privileged":
        yield hit("namespace enforces the 'privileged' pod security level (no restriction)",
                  labels, "pod-security.kubernetes.io/enforce", "psa")


R = (RBAC_DOC, NSA_GUIDE)
CHECKS = (
    check("SW-K8S-050", "Wildcard in RBAC rule", HIGH, K8S, _wildcard,
          description="'*' verbs or resources grant everything, including resources added "
                      "later.",
          remediation="List the verbs and resources the subject needs.", references=R,
          controls=(k8s("5.1.3"), nsa("rbac")), kinds=ROLES),
    check("SW-K8S-051", "Role can read secrets", HIGH, K8S,
          _grant_check({"secrets"}, {"get", "list", "watch"}, "can read secrets"),
          description="Reading secrets exposes every credential and token in scope.",
          remediation="Remove get/list/watch on secrets or narrow with resourceNames.",
          references=R, controls=(k8s("5.1.2"), nsa("rbac")), kinds=ROLES),
    check("SW-K8S-052", "Role can create pods", MEDIUM, K8S,
          _grant_check({"pods", "deployments", "daemonsets", "statefulsets", "replicasets",
                        "jobs", "cronjobs"}, {"create"}, "can create workloads"),
          description="Creating pods lets a subject mount any secret or service account of "
                      "the namespace (and, without admission control, escape to the node).",
          remediation="Grant workload creation only to deployment tooling.", references=R,
          controls=(k8s("5.1.4"), nsa("rbac")), kinds=ROLES),
    check("SW-K8S-053", "Role grants bind, escalate or impersonate", HIGH, K8S,
          _escalation_verbs,
          description="These verbs let a subject give itself more rights than it has.",
          remediation="Remove bind/escalate/impersonate.", references=R,
          controls=(k8s("5.1.8"), nsa("rbac")), kinds=ROLES),
    check("SW-K8S-054", "Role can exec into pods", HIGH, K8S,
          _grant_check({"pods/exec", "pods/attach"}, {"create", "get"},
                       "can exec or attach into pods"),
          description="Exec into pods gives a shell in every workload of the scope, with "
                      "their tokens.",
          remediation="Grant pods/exec only to break-glass roles.", references=R,
          controls=(k8s("5.1.4"), nsa("rbac")), kinds=ROLES),
    check("SW-K8S-055", "Role can proxy to nodes", MEDIUM, K8S,
          _grant_check({"nodes/proxy"}, {"get", "create"}, "can reach the kubelet API through "
                       "nodes/proxy"),
          description="nodes/proxy reaches the kubelet API, which can run commands in any pod "
                      "on the node.",
          remediation="Remove nodes/proxy.", references=R, controls=(nsa("rbac"),),
          kinds=ROLES),
    check("SW-K8S-056", "Role can modify RBAC or admission webhooks", HIGH, K8S,
          _grant_check({"roles", "clusterroles", "rolebindings", "clusterrolebindings",
                        "validatingwebhookconfigurations", "mutatingwebhookconfigurations"},
                       {"create", "update", "patch"}, "can change RBAC or admission control"),
          description="Changing roles, bindings or webhooks is a path to cluster-admin.",
          remediation="Reserve these permissions for cluster administrators.", references=R,
          controls=(k8s("5.1.8"), nsa("rbac")), kinds=ROLES),
    check("SW-K8S-057", "Binding to cluster-admin", HIGH, K8S, _role_ref,
          description="cluster-admin can do anything in every namespace.",
          remediation="Bind a narrower role.", references=R,
          controls=(k8s("5.1.1"), nsa("rbac")), kinds=BINDINGS),
    check("SW-K8S-058", "Binding to anonymous or all authenticated users", CRITICAL, K8S,
          _anonymous,
          description="system:anonymous, system:unauthenticated and system:authenticated "
                      "include callers you do not know.",
          remediation="Bind named users, groups or service accounts.", references=R,
          controls=(nsa("rbac"),), kinds=BINDINGS),
    check("SW-K8S-059", "Binding to system:masters", HIGH, K8S, _masters,
          description="system:masters bypasses RBAC entirely and cannot be revoked.",
          remediation="Do not bind system:masters; use a named admin group.", references=R,
          controls=(k8s("5.1.7"), nsa("rbac")), kinds=BINDINGS),
    check("SW-K8S-060", "Role bound to a default service account", MEDIUM, K8S,
          _default_sa_binding,
          description="Every pod of the namespace that does not choose a service account gets "
                      "this role.",
          remediation="Bind a dedicated service account.", references=R,
          controls=(k8s("5.1.5"), nsa("rbac")), kinds=BINDINGS),
    check("SW-K8S-061", "NodePort Service", MEDIUM, K8S, _node_port,
          description="NodePort opens the service on every node's address, outside ingress "
                      "and load-balancer controls.",
          remediation="Use ClusterIP behind an Ingress or an internal LoadBalancer.",
          references=(SERVICE,), controls=(nsa("network-policies"),), kinds=("Service",)),
    check("SW-K8S-062", "LoadBalancer open to the internet", MEDIUM, K8S, _open_lb,
          description="A LoadBalancer without source ranges accepts connections from anywhere.",
          remediation="Set `loadBalancerSourceRanges` or use an internal load balancer.",
          references=(SERVICE,), controls=(nsa("network-policies"),), kinds=("Service",)),
    check("SW-K8S-063", "Service with externalIPs", MEDIUM, K8S, _external_ips,
          description="externalIPs can be used to intercept cluster traffic (CVE-2020-8554).",
          remediation="Avoid externalIPs; restrict them with an admission policy.",
          references=(SERVICE,), controls=(nsa("network-policies"),), kinds=("Service",)),
    check("SW-K8S-064", "Ingress without TLS", MEDIUM, K8S, _no_tls,
          description="Traffic to the Ingress is not encrypted.",
          remediation="Add a `tls` section with a certificate secret.",
          references=(INGRESS,), controls=(nsa("network-policies"),), kinds=("Ingress",)),
    check("SW-K8S-065", "Ingress NGINX snippet annotation", HIGH, K8S, _snippets,
          description="Snippet annotations inject raw nginx configuration and can read the "
                      "controller's secrets (CVE-2021-25742).",
          remediation="Remove snippet annotations; disable `allow-snippet-annotations`.",
          references=(INGRESS,), kinds=("Ingress",)),
    check("SW-K8S-066", "NetworkPolicy allows all ingress", MEDIUM, K8S, _allow_all("ingress"),
          description="An empty ingress rule (or 0.0.0.0/0) admits traffic from everywhere.",
          remediation="List the allowed peers and ports.", references=(NETPOL,),
          controls=(k8s("5.3.2"), nsa("network-policies")), kinds=("NetworkPolicy",)),
    check("SW-K8S-067", "NetworkPolicy allows all egress", LOW, K8S, _allow_all("egress"),
          description="An empty egress rule (or 0.0.0.0/0) lets pods reach anything, "
                      "including exfiltration endpoints.",
          remediation="List the allowed destinations and ports.", references=(NETPOL,),
          controls=(k8s("5.3.2"), nsa("network-policies")), kinds=("NetworkPolicy",)),
    check("SW-K8S-068", "Credential in a ConfigMap", HIGH, K8S, _configmap_secret,
          description="ConfigMaps are not meant for secrets: they are readable more widely "
                      "and never encrypted at rest.",
          remediation="Move the value to a Secret or external secret store.",
          references=("https://kubernetes.io/docs/concepts/configuration/configmap/",),
          controls=(nsa("secrets"),), kinds=("ConfigMap",)),
    check("SW-K8S-069", "Namespace without Pod Security Admission", LOW, K8S, _no_psa,
          description="Without an enforce label the namespace admits privileged pods.",
          remediation="Label the namespace `pod-security.kubernetes.io/enforce: restricted` "
                      "(or baseline).", references=(PSA,),
          controls=(k8s("5.2.1"), nsa("pod-security")), kinds=("Namespace",)),
    check("SW-K8S-070", "Namespace enforces the privileged level", MEDIUM, K8S, _privileged_psa,
          description="The 'privileged' level disables pod security admission for the "
                      "namespace.",
          remediation="Use `restricted` or `baseline`.", references=(PSA,),
          controls=(k8s("5.2.1"), nsa("pod-security")), kinds=("Namespace",)),
)
