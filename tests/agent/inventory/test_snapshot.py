"""Snapshots of the running host: packages against dpkg-query, our own process, our own socket,
Docker through a stand-in Engine API on a unix socket, and differences between snapshots."""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import shutil
import socket
import socketserver
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from stackwarden.agent.inventory import Snapshot, diff_snapshots, take_snapshot
from stackwarden.agent.collectors import collector_class, parse_settings
from stackwarden.agent.interface import CollectorContext, CollectorError
from tests.helpers.env import unavailable


def test_live_snapshot() -> None:
    if not Path("/var/lib/dpkg/status").exists() or not shutil.which("dpkg-query"):
        unavailable("a Debian host (dpkg) is needed to compare packages with dpkg-query")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        snap = take_snapshot("/")
    finally:
        listener.close()
        sleeper.kill()
        sleeper.wait()
    done = subprocess.run(["dpkg-query", "-W", "-f", "${db:Status-Abbrev} ${Package} ${Version}\n"],
                          capture_output=True, text=True, timeout=60, check=True)
    installed = {tuple(line.split()[1:3]) for line in done.stdout.splitlines()
                 if line.startswith(("ii", "iF", "iU", "iW", "it", "hi"))}
    assert {(p["name"], p["version"]) for p in snap.sections["packages"]} == installed
    assert snap.os is not None and snap.os["id"] == "debian"
    procs = {p["pid"]: p for p in snap.sections["processes"]}
    me = procs[os.getpid()]
    exe = os.path.realpath(sys.executable)
    assert me["exe"] == exe
    assert me["sha256"] == hashlib.sha256(Path(exe).read_bytes()).hexdigest()
    sleep = procs[sleeper.pid]
    assert sleep["package"] is not None and sleep["package"]["name"] == "coreutils"
    mine = [s for s in snap.sections["listening"] if s["port"] == port]
    assert mine == [{"proto": "tcp", "address": "127.0.0.1", "port": port, "pid": os.getpid(),
                     "process": me["name"], "exe": exe, "user": me["user"]}]
    names = {u["name"] for u in snap.sections["users"]}
    assert "root" in names and "services" in snap.sections


def test_other_root_skips_live_sections(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    (tmp_path / "etc/group").write_text("root:x:0:\n")
    (tmp_path / "var/lib/dpkg").mkdir(parents=True)
    shutil.copy("/var/lib/dpkg/status", tmp_path / "var/lib/dpkg/status")
    snap = take_snapshot(str(tmp_path))
    assert set(snap.sections) == {"packages", "users", "groups", "sudoers", "services"}
    assert len(snap.sections["packages"]) > 10
    assert "processes: only on the running host (root /), not on " + str(tmp_path) in snap.notes


class _Engine(http.server.BaseHTTPRequestHandler):
    """A stand-in for the Docker Engine API (the daemon cannot run here): two endpoints, with
    answers shaped as the Engine API v1.43 documents them."""

    containers = [{"Id": "c" * 64, "Names": ["/web"], "Image": "nginx:1.25", "ImageID":
                   "sha256:" + "a" * 64, "Command": "nginx -g 'daemon off;'", "Created": 1700000000,
                   "State": "running", "Status": "Up 2 hours",
                   "Ports": [{"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080,
                              "Type": "tcp"}],
                   "Mounts": [{"Type": "bind", "Source": "/var/run/docker.sock",
                               "Destination": "/var/run/docker.sock"}]}]
    images = [{"Id": "sha256:" + "a" * 64, "RepoTags": ["nginx:1.25"],
               "RepoDigests": ["nginx@sha256:" + "b" * 64], "Size": 187000000,
               "Created": 1699000000}]

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        body = {"/containers/json?all=1": self.containers, "/images/json": self.images}.get(
            self.path)
        data = json.dumps(body).encode()
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


class _UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def get_request(self):  # type: ignore[no-untyped-def]
        request, _ = super().get_request()
        return request, ("docker", 0)


@pytest.fixture()
def engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = tmp_path / "docker.sock"
    server = _UnixServer(str(path), _Engine)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("DOCKER_HOST", f"unix://{path}")
    yield path
    server.shutdown()
    server.server_close()


def test_docker_sections(engine: Path) -> None:
    snap = take_snapshot("/", sections=["containers", "images"])
    assert snap.sections["containers"] == [{
        "id": "c" * 64, "name": "web", "image": "nginx:1.25", "image_id": "sha256:" + "a" * 64,
        "command": "nginx -g 'daemon off;'", "state": "running", "status": "Up 2 hours",
        "created": 1700000000, "ports": ["0.0.0.0:8080->80/tcp"],
        "privileged_mounts": ["/var/run/docker.sock"]}]
    assert snap.sections["images"][0]["tags"] == ["nginx:1.25"]


def test_docker_socket_that_does_not_answer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                            ) -> None:
    dead = tmp_path / "dead.sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(dead))
    server.close()  # the file stays, nobody listens
    monkeypatch.setenv("DOCKER_HOST", f"unix://{dead}")
    snap = take_snapshot("/", sections=["containers"])
    assert snap.sections == {}
    assert len(snap.notes) == 1 and snap.notes[0].startswith(
        f"containers: the Docker API at {dead} failed")


def _snap(**sections: list[dict]) -> Snapshot:  # type: ignore[type-arg]
    return Snapshot("2026-01-01T00:00:00Z", "/", {}, None, dict(sections), [])


def test_diff_table() -> None:
    pkg = {"type": "deb", "arch": "amd64"}
    old = _snap(packages=[{**pkg, "name": "openssl", "version": "3.0.1"},
                          {**pkg, "name": "telnet", "version": "0.17"}],
                users=[{"name": "root", "uid": 0, "gid": 0, "home": "/root", "shell": "/bin/sh",
                        "login": True, "password": "locked"}],
                listening=[{"proto": "tcp", "address": "0.0.0.0", "port": 22, "process": "sshd",
                            "exe": "/usr/sbin/sshd", "user": "root"}])
    new = _snap(packages=[{**pkg, "name": "openssl", "version": "3.0.2"},
                          {**pkg, "name": "netcat", "version": "1.10"}],
                users=[{"name": "root", "uid": 0, "gid": 0, "home": "/root", "shell": "/bin/sh",
                        "login": True, "password": "none"}],
                listening=[{"proto": "tcp", "address": "0.0.0.0", "port": 22, "process": "sshd",
                            "exe": "/usr/sbin/sshd", "user": "root"},
                           {"proto": "tcp", "address": "0.0.0.0", "port": 4444, "process": "nc",
                            "exe": "/usr/bin/nc", "user": "www-data"}])
    diff = diff_snapshots(old, new)
    assert diff["summary"] == {"packages": {"added": 1, "removed": 1, "changed": 1},
                               "listening": {"added": 1, "removed": 0, "changed": 0},
                               "users": {"added": 0, "removed": 0, "changed": 1}}
    assert diff["sections"]["packages"]["changed"] == [
        {"item": "deb openssl amd64", "field": "version", "before": "3.0.1", "after": "3.0.2"}]
    assert diff["sections"]["users"]["changed"][0]["after"] == "none"
    assert diff_snapshots(new, new)["sections"] == {}


def test_collector_ships_snapshot_then_differences(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    (root / "etc/group").write_text("root:x:0:\n")
    state = tmp_path / "state"
    state.mkdir()
    settings = parse_settings("inventory", {"root": str(root), "sections": ["users", "groups"]})
    collector = collector_class("inventory")(CollectorContext(settings, state, agent_id="a1"))
    first = collector.collect()
    assert [e.kind for e in first.events] == ["inventory.snapshot"]
    assert collector.collect().events[0].id == first.events[0].id  # not committed: the same
    collector.commit(first)
    assert not collector.collect().events  # nothing changed
    with (root / "etc/passwd").open("a") as handle:
        handle.write("mallory:x:0:0::/tmp:/bin/sh\n")
    changed = collector.collect()
    assert [e.kind for e in changed.events] == ["inventory.snapshot", "inventory.diff"]
    added = changed.events[1].data["sections"]["users"]["added"]
    assert [(u["name"], u["uid"]) for u in added] == [("mallory", 0)]
    json.dumps([e.data for e in changed.events])  # JSON-ready
    collector.commit(changed)
    assert os.stat(state / "last.json").st_mode & 0o777 == 0o600
    with pytest.raises(CollectorError, match="unknown section"):
        parse_settings("inventory", {"sections": ["nope"]})

