"""`stackwarden agent enroll`: spend an enrollment token, store the credential (0600)."""

from __future__ import annotations

import platform
import socket
import time
from pathlib import Path

from stackwarden import __version__
from stackwarden.agent.client import AgentClient
from stackwarden.agent.state import Identity, StateDir
from stackwarden.core.errors import UsageError


def _read_first(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return ""


def _os_name() -> str:
    for line in _read_first("/etc/os-release").splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip().strip('"')[:200]
    return f"{platform.system()} {platform.release()}"[:200]


def host_info(name: str | None = None) -> dict[str, str]:
    """What the agent tells the server about its host at enrollment."""
    return {"hostname": (name or socket.gethostname()).strip(),
            "machine_id": _read_first("/etc/machine-id")[:64], "os": _os_name(),
            "agent_version": __version__}


def enroll(server: str, token: str, state: StateDir, *, name: str | None = None,
           ca_cert: Path | None = None, allow_http: bool = False, force: bool = False,
           timeout: float = 30.0) -> Identity:
    """Exchange `token` for this agent's credential and save both in the state directory."""
    if not token.strip():
        raise UsageError("the enrollment token is empty", source="--token")
    if state.enrolled() and not force:
        current = state.identity()
        raise UsageError(f"already enrolled with {current.server} as agent {current.agent_id} "
                         f"({state.path}); pass --force to enroll again")
    state.ensure()  # before spending the token: a state directory we cannot use fails first
    ca = str(ca_cert.resolve()) if ca_cert else None
    with AgentClient(server, ca_cert=ca, allow_http=allow_http, timeout=timeout) as client:
        answer = client.enroll(token.strip(), host_info(name))
        base = client.server
    identity = Identity(server=base, agent_id=int(answer["agent_id"]),
                        agent_uid=str(answer["agent_uid"]), asset_id=int(answer["asset_id"]),
                        hostname=str(answer["hostname"]),
                        enrolled_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                        ca_cert=ca, allow_http=allow_http)
    state.save_identity(identity, str(answer["credential"]))
    state.config_file.unlink(missing_ok=True)  # the previous agent's configuration
    return identity
