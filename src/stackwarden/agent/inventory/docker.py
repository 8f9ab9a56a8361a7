"""Docker containers and images, from the Engine API on its unix socket (when it is there)."""

from __future__ import annotations

import os
from typing import Any

DEFAULT_SOCKET = "/var/run/docker.sock"
TIMEOUT = 10.0


def docker_socket() -> str | None:
    """The Engine's socket: DOCKER_HOST (unix://…) or the default path, if it exists."""
    host = os.environ.get("DOCKER_HOST", "")
    path = host[len("unix://"):] if host.startswith("unix://") else DEFAULT_SOCKET
    return path if os.path.exists(path) else None


def docker_inventory(socket_path: str, notes: list[str]
                     ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]] | None:
    """(containers, images) from the Engine API; a failure is a note (and None)."""
    import httpx

    transport = httpx.HTTPTransport(uds=socket_path)
    try:
        with httpx.Client(transport=transport, base_url="http://docker", timeout=TIMEOUT) as api:
            containers = _get(api, "/containers/json", {"all": "1"})
            images = _get(api, "/images/json", {})
    except (httpx.HTTPError, ValueError) as exc:
        notes.append(f"containers: the Docker API at {socket_path} failed: {exc}")
        return None
    return (sorted((_container(c) for c in containers), key=lambda c: c["name"] or c["id"]),
            sorted((_image(i) for i in images), key=lambda i: i["id"]))


def _get(api: Any, path: str, params: dict[str, str]) -> list[dict[str, Any]]:
    response = api.get(path, params=params)
    response.raise_for_status()
    data = response.json()
    if not isinstance(data, list):
        raise ValueError(f"{path} did not return a list")
    return [d for d in data if isinstance(d, dict)]


def _container(raw: dict[str, Any]) -> dict[str, Any]:
    names = raw.get("Names") or []
    ports = sorted({f"{p.get('IP', '')}:{p.get('PublicPort')}->{p.get('PrivatePort')}/"
                    f"{p.get('Type')}" if p.get("PublicPort") else
                    f"{p.get('PrivatePort')}/{p.get('Type')}"
                    for p in raw.get("Ports") or [] if isinstance(p, dict)})
    return {"id": str(raw.get("Id", ""))[:64], "name": names[0].lstrip("/") if names else None,
            "image": raw.get("Image"), "image_id": raw.get("ImageID"),
            "command": raw.get("Command"), "state": raw.get("State"),
            "status": raw.get("Status"), "created": raw.get("Created"), "ports": ports,
            "privileged_mounts": sorted(m.get("Source", "") for m in raw.get("Mounts") or []
                                        if isinstance(m, dict)
                                        and m.get("Source") in ("/", "/var/run/docker.sock",
                                                                "/run/docker.sock"))}


def _image(raw: dict[str, Any]) -> dict[str, Any]:
    return {"id": raw.get("Id"), "tags": sorted(raw.get("RepoTags") or []),
            "digests": sorted(raw.get("RepoDigests") or []), "size": raw.get("Size"),
            "created": raw.get("Created")}
