"""Helpers for registry-monitoring tests: Alpine-like images, a live API server, waiting."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from stackwarden.artifact.build import ImageSpec, LayerFile, layer_tar, write_oci_layout
from stackwarden.artifact.registry import RegistryOptions, push_oci_layout
from stackwarden.vulndb.build import build_database
from tests.helpers.registry import free_port

OS_RELEASE = b'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.20.3\nPRETTY_NAME="Alpine v3.20"\n'


def apk_db(packages: dict[str, str]) -> bytes:
    """An apk installed database listing `packages` (name -> version)."""
    return "".join(f"C:Q1{name}=\nP:{name}\nV:{version}\nA:x86_64\nL:MIT\no:{name}\n\n"
                   for name, version in sorted(packages.items())).encode()


def base_layer(packages: dict[str, str]) -> bytes:
    """The OS layer: os-release and the package database."""
    return layer_tar([LayerFile("etc", type="dir", mode=0o755),
                      LayerFile("etc/os-release", OS_RELEASE),
                      LayerFile("lib", type="dir", mode=0o755),
                      LayerFile("lib/apk", type="dir", mode=0o755),
                      LayerFile("lib/apk/db", type="dir", mode=0o755),
                      LayerFile("lib/apk/db/installed", apk_db(packages))])


def app_image(packages: dict[str, str], marker: str, *, config: dict[str, Any] | None = None,
              base: bytes | None = None) -> ImageSpec:
    """An image: the shared OS layer plus a small layer of its own."""
    top = layer_tar([LayerFile("app", type="dir", mode=0o755),
                     LayerFile("app/build.txt", marker.encode())])
    return ImageSpec([base if base is not None else base_layer(packages), top],
                     config=config or {"User": "root"}, history=["ADD os", "ADD app"])


def push(tmp: Path, reference: str, spec: ImageSpec, *,
         options: RegistryOptions | None = None) -> str:
    """Push an image to `reference` (HOST/REPO:TAG); returns the manifest digest."""
    layout = tmp / f"layout-{abs(hash((reference, id(spec))))}"
    write_oci_layout(layout, spec, tag=reference.rsplit(":", 1)[1])
    return push_oci_layout(layout, reference, options=options or RegistryOptions())


def osv_alpine(vuln_id: str, name: str, fixed: str, severity: str = "HIGH") -> dict[str, Any]:
    """An Alpine advisory: `name` before `fixed` is affected."""
    return {"id": vuln_id, "modified": "2024-01-01T00:00:00Z", "published":
            "2024-01-01T00:00:00Z", "summary": f"{name} flaw",
            "database_specific": {"severity": severity},
            "affected": [{"package": {"name": name, "ecosystem": "Alpine:v3.20"},
                          "ranges": [{"type": "ECOSYSTEM",
                                      "events": [{"introduced": "0"}, {"fixed": fixed}]}]}]}


def build_vulndb(path: Path, records: list[dict[str, Any]]) -> None:
    """Build a database at `path` (replaced atomically, as `db update` does)."""
    src = path.parent / f"osv-{len(records)}-{time.monotonic_ns()}"
    src.mkdir(parents=True)
    for i, record in enumerate(records):
        (src / f"{i:03d}.json").write_text(json.dumps(record))
    tmp = path.with_name(path.name + ".new")
    build_database([str(src)], tmp)
    tmp.replace(path)


def wait_for(what: str, check: Callable[[], Any], timeout: float = 120.0,
             every: float = 0.2) -> Any:
    """Poll `check` until it returns something truthy; fail naming `what`."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


@contextmanager
def live_server(ctx: Any) -> Iterator[str]:
    """The API on a real loopback port (registries must be able to call it)."""
    import uvicorn

    from stackwarden.server.app import create_app

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(ctx=ctx), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for("the API server to start", lambda: server.started, timeout=20)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
