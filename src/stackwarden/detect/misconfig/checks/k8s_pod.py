"""Kubernetes pod security: privilege, host namespaces, users, capabilities, sandboxing.

These follow the Pod Security Standards (baseline and restricted) and CIS Kubernetes 5.2.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from stackwarden.detect.misconfig.checks import CRITICAL, HIGH, LOW, MEDIUM, check
from stackwarden.detect.misconfig.checks.k8s_common import (
    K8S,
    NSA_GUIDE,
    PSS,
    SECCTX,
    WORKLOADS,
    cname,
    container_ctx,
    containers,
    effective,
    on_container,
    on_pod,
    per_container,
    pod_ctx,
    pod_metadata,
    pod_spec,
)
from stackwarden.detect.misconfig.checks.util import as_list, get, hit, is_true
from stackwarden.detect.misconfig.controls import docker, k8s, nsa
from stackwarden.detect.misconfig.model import Document, Hit, TestFunc

DANGEROUS_CAPS = frozenset({"ALL", "SYS_ADMIN", "NET_ADMIN", "SYS_PTRACE", "SYS_MODULE",
                            "DAC_READ_SEARCH", "SYS_RAWIO", "SYS_BOOT", "BPF", "PERFMON",
                            "SYS_TIME", "MAC_ADMIN", "MAC_OVERRIDE", "NET_RAW"})
SAFE_SYSCTLS = frozenset({"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range",
                          "net.ipv4.ip_unprivileged_port_start", "net.ipv4.tcp_syncookies",
                          "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
                          "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout",
                          "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes"})
SENSITIVE_HOST_PATHS = ("/", "/etc", "/proc", "/sys", "/root", "/boot", "/dev", "/var/run",
                        "/run", "/var/lib/kubelet", "/var/lib/docker", "/etc/kubernetes",
                        "/var/lib/etcd", "/home", "/usr", "/lib", "/bin", "/sbin")
SOCKETS = ("docker.sock", "containerd.sock", "crio.sock", "cri-dockerd.sock", "podman.sock")
SELINUX_TYPES = frozenset({"container_t", "container_init_t", "container_kvm_t",
                           "container_engine_t"})


def _caps(container: dict[str, Any], which: str) -> list[str]:
    return [str(c).upper().removeprefix("CAP_")
            for c in as_list(get(container_ctx(container), "capabilities", which))]


def _privileged(spec: dict[str, Any], c: dict[str, Any]) -> Hit | None:
    if is_true(container_ctx(c).get("privileged")):
        return on_container(c, f"container {cname(c)} is privileged", "privileged")
    return None


def _escalation(spec: dict[str, Any], c: dict[str, Any]) -> Hit | None:
    value = container_ctx(c).get("allowPrivilegeEscalation")
    if value is not False:
        return on_container(c, f"container {cname(c)} does not set allowPrivilegeEscalation: "
                               "false", "allowPrivilegeEscalation")
    return None


def _host_flag(field: str) -> TestFunc:
    def test(doc: Document) -> Iterator[Hit]:
        spec = pod_spec(doc)
        if spec is not None and is_true(spec.get(field)):
            yield on_pod(spec, f"{field}: true shares the host's namespace", field)
    return test


def _runs_as_root(spec: dict[str, Any], c: dict[str, Any]) -> Hit | None:
    user = effective(spec, c, "runAsUser")
    if is_true(effective(spec, c, "runAsNonRoot")) or (isinstance(user, int) and user > 0):
        return None
    return on_container(c, f"container {cname(c)} may run as root (no runAsNonRoot: true, no "
                           "non-zero runAsUser)", "runAsNonRoot")


def _uid_zero(spec: dict[str, Any], c: dict[str, Any]) -> Hit | None:
    if effective(spec, c, "runAsUser") == 0:
        if container_ctx(c).get("runAsUser") == 0:
            return on_container(c, f"container {cname(c)} sets runAsUser: 0", "runAsUser")
        return hit(f"container {cname(c)} inherits runAsUser: 0 from the pod", pod_ctx(spec),
                   "runAsUser", f"container:{cname(c)}")
    return None


def _root_group(doc: Document) -> Iterator[Hit]:
    spec = pod_spec(doc)
    if spec is None:
        return
    ctx = pod_ctx(spec)
    for key in ("runAsGroup", "fsGroup"):
        if ctx.get(key) == 0:
            yield hit(f"pod sets {key}: 0 (root group)", ctx, key, f"pod:{key}")
    for _, c in containers(spec):
        if container_ctx(c).get("runAsGroup") == 0:
            yield on_container(c, f"container {cname(c)} sets runAsGroup: 0", "runAsGroup")


def _net_raw(spec: dict[str, Any], c: dict[str, Any]) -> Hit | None:
    dropped = _caps(c, "drop")
    if "ALL" in dropped or "NET_RAW" in dropped:
        return None
    return on_container(c, f"container {cname(c)} keeps NET_RAW (not dropped)", "capabilities")


def _dangerous_caps(spec: dict[str, Any], c: dict[str, Any]) -> Hit | None:
    bad = sorted(set(_caps(c, "add")) & DANGEROUS_CAPS)
    if bad:
        return on_container(c, f"container {cname(c)} adds {', '.join(bad)}", "capabilities",
                            "add")
    return None


def _no_drop_all(spec: dict[str, Any], c: dict[str, Any]) -> Hit | None:
    if "ALL" not in _caps(c, "drop"):
        return on_container(c, f"container {cname(c)} does not drop ALL capabilities",
                            "capabilities")
    return None


def _volumes(spec: dict[str, Any]) -> Iterator[tuple[int, dict[str, Any], str]]:
    for index, volume in enumerate(as_list(spec.get("volumes"))):
        path = get(volume, "hostPath", "path")
        if isinstance(path, str):
            yield index, volume, path


def _host_path(doc: Document) -> Iterator[Hit]:
    spec = pod_spec(doc) or {}
    for index, volume, path in _volumes(spec):
        yield hit(f"volume {volume.get('name', index)} mounts host path {path}", spec["volumes"],
                  index, f"volume:{volume.get('name', index)}")


def _host_socket(doc: Document) -> Iterator[Hit]:
    spec = pod_spec(doc) or {}
    for index, volume, path in _volumes(spec):
        if path.rstrip("/").endswith(SOCKETS):
            yield hit(f"volume {volume.get('name', index)} mounts the container runtime socket "
                      f"{path}", spec["volumes"], index, f"volume:{volume.get('name', index)}")


def _sensitive_host_path(doc: Document) -> Iterator[Hit]:
    spec = pod_spec(doc) or {}
    for index, volume, path in _volumes(spec):
        clean = "/" + path.strip("/")
        if clean in SENSITIVE_HOST_PATHS:
            yield hit(f"volume {volume.get('name', index)} mounts sensitive host directory "
                      f"{path}", spec["volumes"], index, f"volume:{volume.get('name', index)}")


def _host_port(spec: dict[str, Any], c: dict[str, Any]) -> Hit | None:
    for index, port in enumerate(as_list(c.get("ports"))):
        if isinstance(port, dict) and port.get("hostPort") not in (None, 0):
            return hit(f"container {cname(c)} binds host port {port['hostPort']}", c["ports"],
                       index, f"container:{cname(c)}")
    return None


def _writable_root(spec: dict[str, Any], c: dict[str, Any]) -> Hit | None:
    if not is_true(container_ctx(c).get("readOnlyRootFilesystem")):
        return on_container(c, f"container {cname(c)} has a writable root filesystem",
                            "readOnlyRootFilesystem")
    return None


def _seccomp(doc: Document) -> Iterator[Hit]:
    spec = pod_spec(doc)
    if spec is None:
        return
    annotations = pod_metadata(doc).get("annotations") or {}
    legacy = annotations.get("seccomp.security.alpha.kubernetes.io/pod") \
        if isinstance(annotations, dict) else None
    pod_type = get(pod_ctx(spec), "seccompProfile", "type")
    for _, c in containers(spec):
        kind = get(container_ctx(c), "seccompProfile", "type") or pod_type
        if kind is None and legacy in ("runtime/default", "docker/default") or \
                kind in ("RuntimeDefault", "Localhost"):
            continue
        what = "Unconfined" if kind == "Unconfined" else "not set"
        yield on_container(c, f"container {cname(c)} seccomp profile is {what}",
                           "seccompProfile")


def _apparmor(doc: Document) -> Iterator[Hit]:
    spec = pod_spec(doc)
    if spec is None:
        return
    annotations = pod_metadata(doc).get("annotations") or {}
    pod_type = get(pod_ctx(spec), "appArmorProfile", "type")
    for _, c in containers(spec):
        key = f"container.apparmor.security.beta.kubernetes.io/{cname(c)}"
        kind = get(container_ctx(c), "appArmorProfile", "type") or pod_type
        if kind == "Unconfined" or (isinstance(annotations, dict)
                                    and annotations.get(key) == "unconfined"):
            yield on_container(c, f"container {cname(c)} runs without AppArmor",
                               "appArmorProfile")


def _selinux(doc: Document) -> Iterator[Hit]:
    spec = pod_spec(doc)
    if spec is None:
        return
    contexts = [("pod", pod_ctx(spec))] + [(cname(c), container_ctx(c))
                                           for _, c in containers(spec)]
    for owner, ctx in contexts:
        options = ctx.get("seLinuxOptions")
        if not isinstance(options, dict):
            continue
        kind = options.get("type")
        if options.get("user") or options.get("role") or (kind and kind not in SELINUX_TYPES):
            yield hit(f"{owner} sets custom SELinux options {dict(options)}", ctx,
                      "seLinuxOptions", f"selinux:{owner}")


def _proc_mount(spec: dict[str, Any], c: dict[str, Any]) -> Hit | None:
    if container_ctx(c).get("procMount") == "Unmasked":
        return on_container(c, f"container {cname(c)} uses an unmasked /proc", "procMount")
    return None


def _sysctls(doc: Document) -> Iterator[Hit]:
    spec = pod_spec(doc)
    ctx = pod_ctx(spec or {})
    for index, item in enumerate(as_list(ctx.get("sysctls"))):
        name = item.get("name") if isinstance(item, dict) else None
        if isinstance(name, str) and name not in SAFE_SYSCTLS:
            yield hit(f"pod sets unsafe sysctl {name}", ctx["sysctls"], index, f"sysctl:{name}")


def _host_process(doc: Document) -> Iterator[Hit]:
    spec = pod_spec(doc)
    if spec is None:
        return
    if is_true(get(pod_ctx(spec), "windowsOptions", "hostProcess")):
        yield on_pod(spec, "pod runs Windows HostProcess containers", "securityContext")
    for _, c in containers(spec):
        if is_true(get(container_ctx(c), "windowsOptions", "hostProcess")):
            yield on_container(c, f"container {cname(c)} is a Windows HostProcess container",
                               "windowsOptions", "hostProcess")


def _share_pid(doc: Document) -> Iterator[Hit]:
    spec = pod_spec(doc)
    if spec is not None and is_true(spec.get("shareProcessNamespace")):
        yield on_pod(spec, "containers share one process namespace", "shareProcessNamespace")


W = WORKLOADS
REFS = (PSS, SECCTX, NSA_GUIDE)
CHECKS = (
    check("SW-K8S-001", "Privileged container", CRITICAL, K8S, per_container(_privileged),
          description="A privileged container has every capability and all host devices: it "
                      "is root on the node.",
          remediation="Remove `securityContext.privileged: true`.", references=REFS,
          controls=(k8s("5.2.2"), nsa("pod-security"), docker("5.4")), kinds=W),
    check("SW-K8S-002", "Privilege escalation allowed", MEDIUM, K8S, per_container(_escalation),
          description="Without `allowPrivilegeEscalation: false` a process can gain more "
                      "privileges than its parent (setuid binaries).",
          remediation="Set `securityContext.allowPrivilegeEscalation: false` on every "
                      "container.", references=REFS,
          controls=(k8s("5.2.6"), nsa("pod-security"), docker("5.25")), kinds=W),
    check("SW-K8S-003", "Host PID namespace shared", HIGH, K8S, _host_flag("hostPID"),
          description="hostPID lets the pod see and signal every process on the node.",
          remediation="Remove `hostPID: true`.", references=REFS,
          controls=(k8s("5.2.3"), nsa("pod-security"), docker("5.15")), kinds=W),
    check("SW-K8S-004", "Host IPC namespace shared", HIGH, K8S, _host_flag("hostIPC"),
          description="hostIPC lets the pod read and write the node's shared memory.",
          remediation="Remove `hostIPC: true`.", references=REFS,
          controls=(k8s("5.2.4"), nsa("pod-security"), docker("5.16")), kinds=W),
    check("SW-K8S-005", "Host network namespace shared", HIGH, K8S, _host_flag("hostNetwork"),
          description="hostNetwork puts the pod on the node's interfaces, past network "
                      "policies, able to sniff and bind node ports.",
          remediation="Remove `hostNetwork: true`.", references=REFS,
          controls=(k8s("5.2.5"), nsa("pod-security"), docker("5.9")), kinds=W),
    check("SW-K8S-006", "Container may run as root", MEDIUM, K8S, per_container(_runs_as_root),
          description="Neither `runAsNonRoot: true` nor a non-zero `runAsUser` is set, so the "
                      "image's user (often root) is used.",
          remediation="Set `runAsNonRoot: true` and a non-zero `runAsUser` in the pod or "
                      "container securityContext.", references=REFS,
          controls=(k8s("5.2.7"), nsa("non-root")), kinds=W),
    check("SW-K8S-007", "Container runs as UID 0", HIGH, K8S, per_container(_uid_zero),
          description="`runAsUser: 0` explicitly runs the container as root.",
          remediation="Use a non-zero `runAsUser`.", references=REFS,
          controls=(k8s("5.2.7"), nsa("non-root")), kinds=W),
    check("SW-K8S-008", "Root group", LOW, K8S, _root_group,
          description="`runAsGroup: 0` or `fsGroup: 0` gives processes or volumes the root "
                      "group.",
          remediation="Use a non-zero group id.", references=REFS,
          controls=(nsa("non-root"),), kinds=W),
    check("SW-K8S-009", "NET_RAW capability not dropped", MEDIUM, K8S, per_container(_net_raw),
          description="NET_RAW allows crafting packets (ARP/DNS spoofing inside the cluster).",
          remediation="Add `NET_RAW` (or `ALL`) to `securityContext.capabilities.drop`.",
          references=REFS, controls=(k8s("5.2.8"), nsa("pod-security"), docker("5.3")),
          kinds=W),
    check("SW-K8S-010", "Dangerous capability added", HIGH, K8S, per_container(_dangerous_caps),
          description="Capabilities such as SYS_ADMIN, NET_ADMIN or SYS_PTRACE allow escaping "
                      "or attacking the node.",
          remediation="Remove the capability from `capabilities.add`.", references=REFS,
          controls=(k8s("5.2.9"), nsa("pod-security"), docker("5.3")), kinds=W),
    check("SW-K8S-011", "Capabilities not dropped", LOW, K8S, per_container(_no_drop_all),
          description="Containers keep the runtime's default capability set unless they drop "
                      "ALL.",
          remediation="Set `capabilities.drop: [ALL]` and add back only what is needed.",
          references=REFS, controls=(k8s("5.2.10"), nsa("pod-security"), docker("5.3")),
          kinds=W),
    check("SW-K8S-012", "hostPath volume", MEDIUM, K8S, _host_path,
          description="hostPath volumes expose the node's filesystem to the pod.",
          remediation="Use persistent volumes, emptyDir, configMaps or CSI volumes instead.",
          references=REFS, controls=(k8s("5.2.12"), nsa("pod-security")), kinds=W),
    check("SW-K8S-013", "Container runtime socket mounted", CRITICAL, K8S, _host_socket,
          description="Mounting docker.sock/containerd.sock hands the pod full control of the "
                      "node's containers.",
          remediation="Do not mount runtime sockets; use the Kubernetes API or a build "
                      "service without the socket.", references=REFS,
          controls=(k8s("5.2.12"), docker("5.31")), kinds=W),
    check("SW-K8S-014", "Sensitive host directory mounted", HIGH, K8S, _sensitive_host_path,
          description="Mounting /, /etc, /proc, /var/lib/kubelet and similar exposes node "
                      "credentials and configuration.",
          remediation="Remove the hostPath volume.", references=REFS,
          controls=(k8s("5.2.12"), docker("5.5")), kinds=W),
    check("SW-K8S-015", "hostPort used", LOW, K8S, per_container(_host_port),
          description="hostPort binds a port on the node, bypassing Services and policies.",
          remediation="Expose the pod through a Service instead of `hostPort`.",
          references=REFS, controls=(k8s("5.2.13"), nsa("pod-security")), kinds=W),
    check("SW-K8S-016", "Writable root filesystem", LOW, K8S, per_container(_writable_root),
          description="An attacker can modify binaries and configuration in a writable root "
                      "filesystem.",
          remediation="Set `readOnlyRootFilesystem: true`; mount emptyDir where writes are "
                      "needed.", references=REFS,
          controls=(nsa("immutable-fs"), docker("5.12")), kinds=W),
    check("SW-K8S-017", "Seccomp profile not set", MEDIUM, K8S, _seccomp,
          description="Without RuntimeDefault (or a Localhost profile) every syscall is "
                      "allowed.",
          remediation="Set `securityContext.seccompProfile.type: RuntimeDefault` on the pod.",
          references=REFS, controls=(k8s("5.7.2"), nsa("hardening"), docker("5.21")),
          kinds=W),
    check("SW-K8S-018", "AppArmor disabled", MEDIUM, K8S, _apparmor,
          description="An unconfined AppArmor profile removes the runtime's default "
                      "confinement.",
          remediation="Use `RuntimeDefault` or a Localhost AppArmor profile.", references=REFS,
          controls=(nsa("hardening"), docker("5.1")), kinds=W),
    check("SW-K8S-019", "Custom SELinux options", MEDIUM, K8S, _selinux,
          description="Custom SELinux user, role or type can lift the container's "
                      "confinement.",
          remediation="Leave `seLinuxOptions` unset or use a container_t type only.",
          references=REFS, controls=(nsa("hardening"), docker("5.2")), kinds=W),
    check("SW-K8S-020", "Unmasked /proc", HIGH, K8S, per_container(_proc_mount),
          description="`procMount: Unmasked` exposes kernel interfaces normally hidden.",
          remediation="Remove `procMount` (Default).", references=REFS,
          controls=(nsa("pod-security"),), kinds=W),
    check("SW-K8S-021", "Unsafe sysctl", HIGH, K8S, _sysctls,
          description="Sysctls outside the safe set change node-wide kernel settings.",
          remediation="Only use the namespaced safe sysctls.", references=REFS,
          controls=(nsa("pod-security"),), kinds=W),
    check("SW-K8S-022", "Windows HostProcess container", HIGH, K8S, _host_process,
          description="HostProcess containers run directly on the Windows node with host "
                      "access.",
          remediation="Remove `windowsOptions.hostProcess: true`.", references=REFS,
          controls=(k8s("5.2.11"), nsa("pod-security")), kinds=W),
    check("SW-K8S-023", "Process namespace shared between containers", LOW, K8S, _share_pid,
          description="`shareProcessNamespace` lets containers of the pod see and signal each "
                      "other's processes and read their filesystems via /proc.",
          remediation="Remove `shareProcessNamespace: true` unless a sidecar needs it.",
          references=REFS, controls=(nsa("pod-security"),), kinds=W),
)
