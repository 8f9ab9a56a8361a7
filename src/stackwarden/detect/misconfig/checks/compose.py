"""Docker Compose checks: the runtime settings of the CIS Docker Benchmark, section 5."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from stackwarden.detect.misconfig.checks import CRITICAL, HIGH, LOW, MEDIUM, check
from stackwarden.detect.misconfig.checks.k8s_pod import DANGEROUS_CAPS, SENSITIVE_HOST_PATHS
from stackwarden.detect.misconfig.checks.util import (
    as_list,
    get,
    hit,
    image_reference_parts,
    is_true,
    secret_assignment,
)
from stackwarden.detect.misconfig.controls import docker
from stackwarden.detect.misconfig.model import Document, Hit, TestFunc

DC = "compose"
REF = "https://docs.docker.com/reference/compose-file/services/"
SOCKETS = ("docker.sock", "containerd.sock", "podman.sock", "crio.sock")
_PORT = re.compile(r"^(?:(?P<ip>\[[^\]]*\]|\d+\.\d+\.\d+\.\d+):)?(?:(?P<host>[0-9]+(?:-[0-9]+)?):)?"
                   r"(?P<container>[0-9]+(?:-[0-9]+)?)(?:/\w+)?$")


def _value(doc: Document, key: str, wanted: str, message: str) -> Iterator[Hit]:
    if str(doc.body.get(key, "")).lower() == wanted:
        yield hit(message, doc.body, key, key)


def _privileged(doc: Document) -> Iterator[Hit]:
    if is_true(doc.body.get("privileged")):
        yield hit("service runs privileged", doc.body, "privileged", "privileged")


def _host_network(doc: Document) -> Iterator[Hit]:
    yield from _value(doc, "network_mode", "host", "service uses the host network")


def _host_pid(doc: Document) -> Iterator[Hit]:
    yield from _value(doc, "pid", "host", "service shares the host PID namespace")


def _host_ipc(doc: Document) -> Iterator[Hit]:
    yield from _value(doc, "ipc", "host", "service shares the host IPC namespace")


def _host_uts(doc: Document) -> Iterator[Hit]:
    yield from _value(doc, "uts", "host", "service shares the host UTS namespace")


def _host_userns(doc: Document) -> Iterator[Hit]:
    yield from _value(doc, "userns_mode", "host", "service disables user namespace remapping")


def _mounts(doc: Document) -> Iterator[tuple[int, str]]:
    for index, volume in enumerate(as_list(doc.body.get("volumes"))):
        if isinstance(volume, str):
            source = volume.split(":", 1)[0] if ":" in volume else ""
        elif isinstance(volume, dict):
            source = str(volume.get("source", "")) if volume.get("type", "bind") == "bind" \
                else ""
        else:
            continue
        if source.startswith(("/", "~", ".", "\\\\")):
            yield index, source


def _socket(doc: Document) -> Iterator[Hit]:
    for index, source in _mounts(doc):
        if source.rstrip("/").endswith(SOCKETS):
            yield hit(f"mounts the container runtime socket {source}", doc.body["volumes"],
                      index, f"volume:{source}")


def _sensitive_mount(doc: Document) -> Iterator[Hit]:
    for index, source in _mounts(doc):
        if "/" + source.strip("/") in SENSITIVE_HOST_PATHS and source.startswith("/"):
            yield hit(f"mounts sensitive host directory {source}", doc.body["volumes"], index,
                      f"volume:{source}")


def _caps(doc: Document) -> Iterator[Hit]:
    added = {str(c).upper().removeprefix("CAP_") for c in as_list(doc.body.get("cap_add"))}
    bad = sorted(added & DANGEROUS_CAPS)
    if bad:
        yield hit(f"adds capabilities {', '.join(bad)}", doc.body, "cap_add", "cap_add")


def _security_opt(kind: str, message: str) -> TestFunc:
    def test(doc: Document) -> Iterator[Hit]:
        for option in as_list(doc.body.get("security_opt")):
            text = str(option).replace("=", ":").lower()
            if text.startswith(kind):
                yield hit(message, doc.body, "security_opt", kind)
                return
    return test


def _no_new_privileges(doc: Document) -> Iterator[Hit]:
    options = [str(o).replace("=", ":").lower() for o in as_list(doc.body.get("security_opt"))]
    if not any(o in ("no-new-privileges", "no-new-privileges:true") for o in options):
        yield hit("no-new-privileges is not set", doc.body, subject="security_opt")


def _image_tag(doc: Document) -> Iterator[Hit]:
    image = doc.body.get("image")
    if isinstance(image, str) and "$" not in image:
        _, tag, digest = image_reference_parts(image)
        if digest is None and tag in (None, "latest"):
            yield hit(f"image {image} uses 'latest' (or no tag)", doc.body, "image", "image")


def _env_items(doc: Document) -> Iterator[tuple[Any, Any, str, Any]]:
    env = doc.body.get("environment")
    if isinstance(env, dict):
        for name, value in env.items():
            yield env, name, name, value
    elif isinstance(env, list):
        for index, item in enumerate(env):
            if isinstance(item, str) and "=" in item:
                name, value = item.split("=", 1)
                yield env, index, name, value


def _env_secret(doc: Document) -> Iterator[Hit]:
    for node, key, name, value in _env_items(doc):
        if secret_assignment(name, value):
            yield hit(f"environment variable {name} holds a credential", node, key, f"env:{name}")


def _ports(doc: Document) -> Iterator[tuple[int, str | None, int | None]]:
    for index, port in enumerate(as_list(doc.body.get("ports"))):
        if isinstance(port, dict):
            published = port.get("published")
            host_ip = port.get("host_ip")
        else:
            match = _PORT.match(str(port).strip())
            if match is None or match.group("host") is None:
                continue
            published, host_ip = match.group("host"), match.group("ip")
        try:
            low = int(str(published).split("-", 1)[0])
        except ValueError:
            continue
        yield index, host_ip, low


def _all_interfaces(doc: Document) -> Iterator[Hit]:
    for index, host_ip, _ in _ports(doc):
        if host_ip in (None, "", "0.0.0.0", "[::]", "::"):
            yield hit("published port is bound to every host interface", doc.body["ports"],
                      index, f"port:{index}")


def _privileged_port(doc: Document) -> Iterator[Hit]:
    for index, _, port in _ports(doc):
        if port is not None and 0 < port < 1024 and port not in (80, 443):
            yield hit(f"publishes privileged host port {port}", doc.body["ports"], index,
                      f"port:{port}")


def _memory(doc: Document) -> Iterator[Hit]:
    if doc.body.get("mem_limit") is None and \
            get(doc.body, "deploy", "resources", "limits", "memory") is None:
        yield hit("no memory limit", doc.body, subject="memory")


def _root_user(doc: Document) -> Iterator[Hit]:
    user = str(doc.body.get("user", "")).split(":", 1)[0]
    if user in ("root", "0"):
        yield hit("service runs as root", doc.body, "user", "user")


def _devices(doc: Document) -> Iterator[Hit]:
    if as_list(doc.body.get("devices")):
        yield hit("host devices are passed into the container", doc.body, "devices", "devices")


def _read_only(doc: Document) -> Iterator[Hit]:
    if not is_true(doc.body.get("read_only")):
        yield hit("root filesystem is writable (read_only not set)", doc.body,
                  "read_only" if "read_only" in doc.body else None, "read_only")


def _pids(doc: Document) -> Iterator[Hit]:
    if doc.body.get("pids_limit") is None and \
            get(doc.body, "deploy", "resources", "limits", "pids") is None:
        yield hit("no PIDs limit (fork bombs)", doc.body, subject="pids")


S = ("service",)
CHECKS = (
    check("SW-DC-001", "Privileged service", CRITICAL, DC, _privileged,
          description="A privileged container has every capability and all host devices.",
          remediation="Remove `privileged: true`; add specific capabilities if needed.",
          references=(REF + "#privileged",), controls=(docker("5.4"),), kinds=S),
    check("SW-DC-002", "Host network mode", HIGH, DC, _host_network,
          description="The container shares the host's network stack.",
          remediation="Remove `network_mode: host`; publish ports instead.",
          references=(REF + "#network_mode",), controls=(docker("5.9"),), kinds=S),
    check("SW-DC-003", "Host PID namespace", HIGH, DC, _host_pid,
          description="The container sees and can signal every host process.",
          remediation="Remove `pid: host`.", references=(REF + "#pid",),
          controls=(docker("5.15"),), kinds=S),
    check("SW-DC-004", "Host IPC namespace", HIGH, DC, _host_ipc,
          description="The container shares host shared memory.",
          remediation="Remove `ipc: host`.", references=(REF + "#ipc",),
          controls=(docker("5.16"),), kinds=S),
    check("SW-DC-005", "Container runtime socket mounted", CRITICAL, DC, _socket,
          description="Access to docker.sock is root on the host.",
          remediation="Do not mount the socket; use a socket proxy with a narrow API if "
                      "unavoidable.", references=(REF + "#volumes",),
          controls=(docker("5.31"),), kinds=S),
    check("SW-DC-006", "Sensitive host directory mounted", HIGH, DC, _sensitive_mount,
          description="Mounting /, /etc, /proc and similar exposes host configuration and "
                      "credentials.", remediation="Mount only application directories.",
          references=(REF + "#volumes",), controls=(docker("5.5"),), kinds=S),
    check("SW-DC-007", "Dangerous capability added", HIGH, DC, _caps,
          description="SYS_ADMIN, NET_ADMIN, SYS_PTRACE and similar enable container escape.",
          remediation="Remove the capability from `cap_add`.",
          references=(REF + "#cap_add",), controls=(docker("5.3"),), kinds=S),
    check("SW-DC-008", "Seccomp disabled", HIGH, DC,
          _security_opt("seccomp:unconfined", "seccomp is unconfined"),
          description="Every syscall is allowed to the container.",
          remediation="Remove `seccomp:unconfined`.", references=(REF + "#security_opt",),
          controls=(docker("5.21"),), kinds=S),
    check("SW-DC-009", "AppArmor disabled", MEDIUM, DC,
          _security_opt("apparmor:unconfined", "AppArmor is unconfined"),
          description="The container runs without its AppArmor profile.",
          remediation="Remove `apparmor:unconfined`.", references=(REF + "#security_opt",),
          controls=(docker("5.1"),), kinds=S),
    check("SW-DC-010", "SELinux labelling disabled", MEDIUM, DC,
          _security_opt("label:disable", "SELinux separation is disabled"),
          description="The container is not confined by SELinux.",
          remediation="Remove `label:disable`.", references=(REF + "#security_opt",),
          controls=(docker("5.2"),), kinds=S),
    check("SW-DC-011", "no-new-privileges not set", LOW, DC, _no_new_privileges,
          description="Processes can gain privileges through setuid binaries.",
          remediation="Add `security_opt: [\"no-new-privileges:true\"]`.",
          references=(REF + "#security_opt",), controls=(docker("5.25"),), kinds=S),
    check("SW-DC-012", "Image uses 'latest' or no tag", MEDIUM, DC, _image_tag,
          description="Deployments are not reproducible and can pull an unreviewed image.",
          remediation="Pin a version tag (and digest).", references=(REF + "#image",),
          kinds=S),
    check("SW-DC-013", "Credential in environment", HIGH, DC, _env_secret,
          description="Credentials in the compose file end up in version control and in "
                      "`docker inspect`.",
          remediation="Use Compose secrets or an env file kept out of version control.",
          references=("https://docs.docker.com/compose/how-tos/use-secrets/",), kinds=S),
    check("SW-DC-014", "Port bound to every interface", LOW, DC, _all_interfaces,
          description="A published port without host IP listens on all host interfaces.",
          remediation="Bind to a specific address (`127.0.0.1:8080:80`).",
          references=(REF + "#ports",), controls=(docker("5.13"),), kinds=S),
    check("SW-DC-015", "Privileged host port published", LOW, DC, _privileged_port,
          description="Ports below 1024 are reserved for privileged services.",
          remediation="Publish on a port above 1024.", references=(REF + "#ports",),
          controls=(docker("5.7"),), kinds=S),
    check("SW-DC-016", "No memory limit", LOW, DC, _memory,
          description="One container can exhaust host memory.",
          remediation="Set `mem_limit` or `deploy.resources.limits.memory`.",
          references=(REF + "#mem_limit",), controls=(docker("5.10"),), kinds=S),
    check("SW-DC-017", "Service runs as root", MEDIUM, DC, _root_user,
          description="`user: root` runs the process as root inside the container.",
          remediation="Use an unprivileged user.", references=(REF + "#user",),
          controls=(docker("4.1"),), kinds=S),
    check("SW-DC-018", "Host devices exposed", MEDIUM, DC, _devices,
          description="Direct device access can bypass container isolation.",
          remediation="Remove `devices` unless strictly required.",
          references=(REF + "#devices",), controls=(docker("5.17"),), kinds=S),
    check("SW-DC-019", "Writable root filesystem", LOW, DC, _read_only,
          description="An attacker can modify binaries and configuration.",
          remediation="Set `read_only: true` and mount tmpfs where writes are needed.",
          references=(REF + "#read_only",), controls=(docker("5.12"),), kinds=S),
    check("SW-DC-020", "Host UTS namespace", MEDIUM, DC, _host_uts,
          description="The container can change the host's hostname.",
          remediation="Remove `uts: host`.", references=(REF + "#uts",),
          controls=(docker("5.20"),), kinds=S),
    check("SW-DC-021", "User namespace remapping disabled", MEDIUM, DC, _host_userns,
          description="Root in the container is root on the host.",
          remediation="Remove `userns_mode: host`.", references=(REF + "#userns_mode",),
          controls=(docker("5.30"),), kinds=S),
    check("SW-DC-022", "No PIDs limit", LOW, DC, _pids,
          description="A fork bomb in the container can exhaust the host's process table.",
          remediation="Set `pids_limit` (or `deploy.resources.limits.pids`).",
          references=(REF + "#pids_limit",), controls=(docker("5.28"),), kinds=S),
)
