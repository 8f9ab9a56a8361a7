"""Compose plants: one service per plant, next to a hardened service."""

from __future__ import annotations

import copy
from typing import Any

import yaml

from tests.helpers.misconfig import FileKind, Mutation, Plant, apply_ops

DIGEST = "sha256:" + "ef" * 32
SERVICE: dict[str, Any] = {
    "image": f"registry.example.com/shop/web:1.2.3@{DIGEST}", "user": "10001",
    "read_only": True, "security_opt": ["no-new-privileges:true"], "cap_drop": ["ALL"],
    "mem_limit": "512m", "pids_limit": 200, "ports": ["127.0.0.1:8080:8080"],
    "environment": {"LOG_LEVEL": "info"}, "restart": "on-failure:5",
}


def _plant(check_id: str, bad: list[tuple[Any, ...]], good: list[tuple[Any, ...]]) -> Plant:
    def make(ops: list[tuple[Any, ...]]) -> Mutation:
        def run(model: dict[str, Any], n: int) -> str:
            service = copy.deepcopy(SERVICE)
            apply_ops(service, ops)
            model["services"][f"s{n}"] = service
            return f"services.s{n}"
        return run
    return Plant(check_id, "compose", make(bad), make(good))


SO = ("security_opt",)
PLANTS = [
    _plant("SW-DC-001", [("set", ("privileged",), True)], [("set", ("privileged",), False)]),
    _plant("SW-DC-002", [("set", ("network_mode",), "host")],
           [("set", ("network_mode",), "bridge")]),
    _plant("SW-DC-003", [("set", ("pid",), "host")], [("set", ("pid",), "service:db")]),
    _plant("SW-DC-004", [("set", ("ipc",), "host")], [("set", ("ipc",), "shareable")]),
    _plant("SW-DC-005", [("set", ("volumes",), ["/var/run/docker.sock:/var/run/docker.sock"])],
           [("set", ("volumes",), ["./data:/data:ro"])]),
    _plant("SW-DC-006", [("set", ("volumes",), ["/etc:/host/etc:ro"])],
           [("set", ("volumes",), ["/srv/app/etc:/etc/app:ro"])]),
    _plant("SW-DC-007", [("set", ("cap_add",), ["SYS_ADMIN"])],
           [("set", ("cap_add",), ["NET_BIND_SERVICE"])]),
    _plant("SW-DC-008", [("append", SO, "seccomp:unconfined")],
           [("append", SO, "seccomp:./seccomp.json")]),
    _plant("SW-DC-009", [("append", SO, "apparmor:unconfined")],
           [("append", SO, "apparmor:docker-default")]),
    _plant("SW-DC-010", [("append", SO, "label:disable")],
           [("append", SO, "label:type:container_t")]),
    _plant("SW-DC-011", [("set", SO, [])], [("set", SO, ["no-new-privileges=true"])]),
    _plant("SW-DC-012", [("set", ("image",), "nginx:latest")],
           [("set", ("image",), "nginx:1.27.2")]),
    _plant("SW-DC-013", [("set", ("environment", "DB_PASSWORD"), "Sup3rS3cret!")],
           [("set", ("environment", "DB_PASSWORD_FILE"), "/run/secrets/db")]),
    _plant("SW-DC-014", [("set", ("ports",), ["8080:8080"])],
           [("set", ("ports",), ["127.0.0.1:8081:8080"])]),
    _plant("SW-DC-015", [("set", ("ports",), ["127.0.0.1:22:22"])],
           [("set", ("ports",), ["127.0.0.1:2222:22"])]),
    _plant("SW-DC-016", [("del", ("mem_limit",))],
           [("del", ("mem_limit",)), ("set", ("deploy",), {"resources": {"limits": {
               "memory": "1g", "pids": 100}}})]),
    _plant("SW-DC-017", [("set", ("user",), "root")], [("set", ("user",), "app")]),
    _plant("SW-DC-018", [("set", ("devices",), ["/dev/fuse"])], [("set", ("devices",), [])]),
    _plant("SW-DC-019", [("set", ("read_only",), False)], [("set", ("read_only",), True)]),
    _plant("SW-DC-020", [("set", ("uts",), "host")], [("set", ("hostname",), "web")]),
    _plant("SW-DC-021", [("set", ("userns_mode",), "host")], [("set", ("userns_mode",), "")]),
    _plant("SW-DC-022", [("del", ("pids_limit",))],
           [("del", ("pids_limit",)), ("set", ("deploy",), {"resources": {"limits": {
               "pids": 100}}})]),
]


def new() -> dict[str, Any]:
    """A Compose file with one hardened service."""
    return {"services": {"web": copy.deepcopy(SERVICE)}}


def render(model: dict[str, Any]) -> bytes:
    """The compose YAML."""
    return yaml.safe_dump(model, sort_keys=False).encode()


KIND = FileKind("compose", new, render, lambda n: "docker-compose.yml", single_model=False)
