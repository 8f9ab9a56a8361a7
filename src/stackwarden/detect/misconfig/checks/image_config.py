"""Image configuration checks: user, exposed ports, environment, health check, history."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from stackwarden.detect.misconfig.checks import HIGH, LOW, MEDIUM, check
from stackwarden.detect.misconfig.checks.util import (
    PIPE_TO_SHELL,
    as_list,
    is_secret_name,
    secret_assignment,
)
from stackwarden.detect.misconfig.controls import docker
from stackwarden.detect.misconfig.image_config import KIND, NAME
from stackwarden.detect.misconfig.model import Document, Hit

SPEC = "https://github.com/opencontainers/image-spec/blob/main/config.md"
INSECURE_PORTS = {21: "FTP", 23: "telnet", 69: "TFTP", 111: "rpcbind", 512: "rexec",
                  513: "rlogin", 514: "rsh", 2375: "Docker API without TLS", 5900: "VNC"}
# docker build records build arguments as "|<n> NAME=value NAME=value /bin/sh -c …"
_BUILD_ARGS = re.compile(r"^\|\d+\s+((?:[A-Za-z_][A-Za-z0-9_]*=\S*\s+)+)")
_ADD_URL = re.compile(r"\bADD\b.*\bhttps?://", re.IGNORECASE)


def _config(doc: Document) -> dict[str, Any]:
    value = doc.body.get("config")
    return value if isinstance(value, dict) else {}


def _history(doc: Document) -> Iterator[tuple[int, str]]:
    for index, entry in enumerate(as_list(doc.body.get("history"))):
        if isinstance(entry, dict) and isinstance(entry.get("created_by"), str):
            yield index, entry["created_by"][:8192]


def _root(doc: Document) -> Iterator[Hit]:
    user = str(_config(doc).get("User") or "").split(":", 1)[0]
    if user in ("", "root", "0"):
        yield Hit(f"image runs as {'root (no User set)' if not user else user}", subject="user")


def _ports(doc: Document) -> set[int]:
    ports = set()
    for spec in _config(doc).get("ExposedPorts") or {}:
        try:
            ports.add(int(str(spec).split("/", 1)[0]))
        except ValueError:
            continue
    return ports


def _ssh(doc: Document) -> Iterator[Hit]:
    if 22 in _ports(doc):
        yield Hit("image exposes SSH (22/tcp)", subject="port:22")


def _insecure_ports(doc: Document) -> Iterator[Hit]:
    for port in sorted(_ports(doc) & set(INSECURE_PORTS)):
        yield Hit(f"image exposes {port} ({INSECURE_PORTS[port]})", subject=f"port:{port}")


def _env(doc: Document) -> Iterator[Hit]:
    for item in as_list(_config(doc).get("Env")):
        if isinstance(item, str) and "=" in item:
            name, value = item.split("=", 1)
            if secret_assignment(name, value):
                yield Hit(f"environment variable {name} holds a credential", subject=f"env:{name}")


def _no_healthcheck(doc: Document) -> Iterator[Hit]:
    if not isinstance(_config(doc).get("Healthcheck"), dict):
        yield Hit("image defines no health check", subject="healthcheck")


def _healthcheck_disabled(doc: Document) -> Iterator[Hit]:
    check_ = _config(doc).get("Healthcheck")
    test = check_.get("Test") if isinstance(check_, dict) else None
    if isinstance(test, list) and test[:1] == ["NONE"]:
        yield Hit("image disables the health check (NONE)", subject="healthcheck")


def _history_pipe(doc: Document) -> Iterator[Hit]:
    for index, created_by in _history(doc):
        if PIPE_TO_SHELL.search(created_by):
            yield Hit(f"history step {index} piped a downloaded script into a shell",
                      subject=f"history:{index}")


def _history_args(doc: Document) -> Iterator[Hit]:
    for index, created_by in _history(doc):
        match = _BUILD_ARGS.match(created_by)
        if match is None:
            continue
        for pair in match.group(1).split():
            name, _, value = pair.partition("=")
            if is_secret_name(name) and value:
                yield Hit(f"history step {index} records build argument {name} with its value",
                          subject=f"history:{index}:{name}")


def _history_add_url(doc: Document) -> Iterator[Hit]:
    for index, created_by in _history(doc):
        if _ADD_URL.search(created_by):
            yield Hit(f"history step {index} added a remote URL without verification",
                      subject=f"history:{index}")


K = (KIND,)
CHECKS = (
    check("SW-IMG-001", "Image runs as root", MEDIUM, NAME, _root,
          description="Containers from this image run as root unless the runtime overrides "
                      "the user.", remediation="Set a non-root USER when building the image.",
          references=(SPEC,), controls=(docker("4.1"),), kinds=K),
    check("SW-IMG-002", "Image exposes SSH", MEDIUM, NAME, _ssh,
          description="An SSH server in a container adds credentials and a service to patch.",
          remediation="Remove the SSH server; use `docker exec`/`kubectl exec`.",
          references=(SPEC,), controls=(docker("5.6"),), kinds=K),
    check("SW-IMG-003", "Image exposes a clear-text service port", MEDIUM, NAME,
          _insecure_ports,
          description="FTP, telnet, rsh, VNC and an unencrypted Docker API send credentials "
                      "in clear text.", remediation="Remove the service or use its TLS variant.",
          references=(SPEC,), controls=(docker("5.8"),), kinds=K),
    check("SW-IMG-004", "Credential in image environment", HIGH, NAME, _env,
          description="Environment values in the config are visible to anyone who can pull "
                      "the image.",
          remediation="Inject secrets at run time; rebuild without the ENV and rotate the "
                      "credential.", references=(SPEC,), controls=(docker("4.10"),), kinds=K),
    check("SW-IMG-005", "Image has no health check", LOW, NAME, _no_healthcheck,
          description="The runtime cannot tell a hung container from a healthy one.",
          remediation="Add a HEALTHCHECK to the Dockerfile.", references=(SPEC,),
          controls=(docker("4.6"),), kinds=K),
    check("SW-IMG-006", "Image disables the health check", LOW, NAME, _healthcheck_disabled,
          description="HEALTHCHECK NONE removes the base image's health check.",
          remediation="Define a HEALTHCHECK instead of disabling it.", references=(SPEC,),
          controls=(docker("4.6"),), kinds=K),
    check("SW-IMG-007", "Image built by piping a script into a shell", MEDIUM, NAME,
          _history_pipe,
          description="A build step ran unverified code downloaded at build time.",
          remediation="Verify downloads by checksum or signature before running them.",
          references=(SPEC,), controls=(docker("4.11"),), kinds=K),
    check("SW-IMG-008", "Secret build argument in image history", HIGH, NAME, _history_args,
          description="Build arguments and their values are recorded in the image history "
                      "for anyone who pulls it.",
          remediation="Use BuildKit secret mounts; rotate the exposed credential.",
          references=("https://docs.docker.com/build/building/secrets/",),
          controls=(docker("4.10"),), kinds=K),
    check("SW-IMG-009", "Image added a remote file without verification", LOW, NAME,
          _history_add_url,
          description="ADD from a URL trusts whatever the server returned at build time.",
          remediation="Use `ADD --checksum` or download and verify in a RUN step.",
          references=(SPEC,), controls=(docker("4.9"),), kinds=K),
)
