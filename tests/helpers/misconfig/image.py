"""Image config plants: edits of one clean image config blob."""

from __future__ import annotations

import copy
import json
from typing import Any

from tests.helpers.misconfig import FileKind, Mutation, Plant, apply_ops

CLEAN: dict[str, Any] = {
    "architecture": "amd64", "os": "linux",
    "config": {"User": "10001", "ExposedPorts": {"8080/tcp": {}},
               "Env": ["PATH=/usr/local/bin:/usr/bin:/bin", "LOG_LEVEL=info"],
               "Healthcheck": {"Test": ["CMD", "/app/healthcheck"], "Interval": 30000000000},
               "Entrypoint": ["/app/run"], "WorkingDir": "/app"},
    "rootfs": {"type": "layers", "diff_ids": ["sha256:" + "12" * 32, "sha256:" + "34" * 32]},
    "history": [{"created": "2024-05-01T00:00:00Z",
                 "created_by": "/bin/sh -c #(nop) ADD file:4b1c in / "},
                {"created": "2024-05-01T00:00:01Z",
                 "created_by": "RUN /bin/sh -c apt-get update && apt-get install -y curl "
                               "# buildkit"}],
}


def _plant(check_id: str, bad: list[tuple[Any, ...]], good: list[tuple[Any, ...]],
           group: str = "") -> Plant:
    def make(ops: list[tuple[Any, ...]]) -> Mutation:
        def run(model: dict[str, Any], n: int) -> None:
            apply_ops(model, ops)
        return run
    return Plant(check_id, "image-config", make(bad), make(good), group)


def _history(text: str) -> tuple[Any, ...]:
    return ("append", ("history",), {"created": "2024-05-01T00:00:02Z", "created_by": text})


PLANTS = [
    _plant("SW-IMG-001", [("set", ("config", "User"), "")],
           [("set", ("config", "User"), "app")], "user"),
    _plant("SW-IMG-002", [("set", ("config", "ExposedPorts", "22/tcp"), {})],
           [("set", ("config", "ExposedPorts", "2222/tcp"), {})]),
    _plant("SW-IMG-003", [("set", ("config", "ExposedPorts", "23/tcp"), {})],
           [("set", ("config", "ExposedPorts", "2323/tcp"), {})]),
    _plant("SW-IMG-004", [("append", ("config", "Env"),
                           "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")],
           [("append", ("config", "Env"), "AWS_REGION=eu-west-1")]),
    _plant("SW-IMG-005", [("del", ("config", "Healthcheck"))],
           [("set", ("config", "Healthcheck"), {"Test": ["CMD-SHELL", "curl -f localhost"]})],
           "hc"),
    _plant("SW-IMG-006", [("set", ("config", "Healthcheck"), {"Test": ["NONE"]})],
           [("set", ("config", "Healthcheck"), {"Test": ["CMD", "true"]})], "hc"),
    _plant("SW-IMG-007", [_history("RUN /bin/sh -c curl -fsSL https://x.example/i.sh | sh "
                                   "# buildkit")],
           [_history("RUN /bin/sh -c curl -fsSLo /tmp/i.sh https://x.example/i.sh && "
                     "sha256sum -c i.sha256 # buildkit")]),
    _plant("SW-IMG-008", [_history("|1 NPM_TOKEN=npm_a1b2c3d4e5 /bin/sh -c npm ci")],
           [_history("|1 NODE_ENV=production /bin/sh -c npm ci")]),
    _plant("SW-IMG-009", [_history("ADD https://example.com/tool.tgz /opt/ # buildkit")],
           [_history("ADD tool.tgz /opt/ # buildkit")]),
]


def new() -> dict[str, Any]:
    """A clean image config."""
    return copy.deepcopy(CLEAN)


def render(model: dict[str, Any]) -> bytes:
    """The config blob as JSON."""
    return json.dumps(model, indent=2).encode()


KIND = FileKind("image-config", new, render, lambda n: f"config-{n}.json", single_model=True)
