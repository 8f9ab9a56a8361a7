"""The agent as it runs on a host, against the server as it runs in production: both real
processes (`stackwarden server`, `stackwarden agent run`) on loopback. The server is killed in
the middle of a stream of log lines and restarted, then the agent is killed and restarted:
every line arrives once, in order."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.agent.conftest import free_port
from tests.agent.test_agent_cli import one_line_error, run

CLI = [sys.executable, "-m", "stackwarden"]
PASSWORD = "a long enough admin password"


class Process:
    """A CLI process whose output goes to a file (read after it ends)."""

    def __init__(self, args: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.args, self.log, self.env = args, log, env
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        handle = self.log.open("ab")
        self.proc = subprocess.Popen([*CLI, *self.args], stdin=subprocess.DEVNULL,
                                     stdout=handle, stderr=subprocess.STDOUT,
                                     env={**os.environ, **(self.env or {})})
        handle.close()

    def signal(self, sig: int) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout=60)
        self.proc = None
        return code

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)


def wait_until(check: Any, seconds: float, what: str) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture()
def processes() -> Iterator[list[Process]]:
    started: list[Process] = []
    yield started
    for process in started:
        process.stop()


def line(n: int) -> str:
    """A distinct sshd line, logged now."""
    stamp = time.strftime("%b %e %H:%M:%S")
    return (f"{stamp} web1 sshd[{1000 + n}]: Accepted publickey for deploy from "
            f"192.0.2.{n % 250 + 1} port {30000 + n} ssh2: ED25519 SHA256:k{n}\n")


def test_nothing_lost_nothing_doubled_across_server_and_agent_restarts(
        tmp_path: Path, processes: list[Process]) -> None:
    data = tmp_path / "server"
    flags = ["--data-dir", str(data)]
    init = run("server", "init", "--password-stdin", *flags, stdin=PASSWORD + "\n")
    assert init.exit_code == 0, init.stderr
    admin = {"Authorization": f"Bearer {init.stdout.strip()}"}
    made = run("server", "enroll-token", "create", "--expires", "1h", "--name", "web-1", *flags)
    assert made.exit_code == 0 and "single use" in made.stderr, made.stderr
    token = made.stdout.strip()
    short = run("server", "enroll-token", "create", "--expires", "1s", *flags).stdout.strip()

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = Process(["server", "--port", str(port), *flags], tmp_path / "server.log",
                     env={"STACKWARDEN_SERVER_LOG_LEVEL": "warning"})
    processes.append(server)
    server.start()
    wait_until(lambda: healthy(url), 60, "the server")

    state = tmp_path / "agent"
    done = run("agent", "enroll", "--server", url, "--token", token, "--state-dir", str(state))
    assert done.exit_code == 0, done.stderr
    assert oct((state / "credential").stat().st_mode & 0o777) == "0o600"
    credential = (state / "credential").read_text().strip()
    reuse = run("agent", "enroll", "--server", url, "--token", token, "--state-dir",
                str(tmp_path / "other"))
    assert reuse.exit_code == 3 and "already used" in one_line_error(reuse)
    late = run("agent", "enroll", "--server", url, "--token", short, "--state-dir",
               str(tmp_path / "other"))
    assert late.exit_code == 3 and "expired at" in one_line_error(late)
    assert not (tmp_path / "other" / "credential").exists()

    log = tmp_path / "auth.log"
    log.touch()
    config = {"heartbeat_interval": 1, "config_refresh_interval": 2,
              "transport": {"batch_max_events": 25, "backoff_initial": 0.2, "backoff_max": 1,
                            "timeout": 5},
              "collectors": {"logs": {"inputs": [{"path": str(log), "start_at_end": False}],
                                      "ship_events": True, "interval": 0.2},
                             "host_vulnerabilities": {"enabled": False},
                            "fim": {"enabled": False}, "inventory": {"enabled": False}}}
    put = httpx.put(f"{url}/api/v1/agents/config/default", json=config, headers=admin)
    assert put.status_code == 200, put.text

    agent = Process(["agent", "run", "--state-dir", str(state)], tmp_path / "agent.log")
    processes.append(agent)
    agent.start()
    host = json.loads((state / "agent.json").read_text())["asset_id"]

    def events() -> list[dict[str, Any]]:
        items, after = [], 0
        while True:
            page = httpx.get(f"{url}/api/v1/hosts/{host}/events", headers=admin, timeout=10,
                             params={"kind": "log.event", "after": after, "limit": 1000}).json()
            items += page["items"]
            if page["next_after"] is None:
                return items
            after = page["next_after"]

    def write(first: int, count: int) -> None:
        for n in range(first, first + count):
            with log.open("a") as handle:
                handle.write(line(n))
            if n % 10 == 9:
                time.sleep(0.05)

    write(0, 100)
    wait_until(lambda: len(events()) >= 40, 60, "the first events")
    assert server.signal(signal.SIGKILL) == -signal.SIGKILL  # the server dies mid-stream
    write(100, 100)  # written while the server is away: they wait in the agent's queue
    time.sleep(2)
    queued = json.loads(run("agent", "status", "--state-dir", str(state), "--json").stdout)
    assert queued["running"] and queued["queue"]["depth"] > 0
    server.start()
    wait_until(lambda: healthy(url), 60, "the restarted server")
    write(200, 100)
    wait_until(lambda: len(events()) >= 300, 90, "300 events")

    assert agent.signal(signal.SIGKILL) == -signal.SIGKILL  # the agent dies too
    write(300, 50)
    agent.start()
    wait_until(lambda: len(events()) >= 350, 90, "350 events")
    time.sleep(1.5)  # anything doubled would have arrived by now
    stored = events()
    offsets = [e["data"]["offset"] for e in stored]
    expected, position = [], 0
    for text in log.read_text().splitlines(keepends=True):
        expected.append(position)
        position += len(text.encode())
    assert len(stored) == 350 and offsets == expected  # all, once, in order
    assert [e["seq"] for e in stored] == sorted(e["seq"] for e in stored)
    assert len({e["event_id"] for e in stored}) == 350

    status = run("agent", "status", "--state-dir", str(state))
    assert status.exit_code == 0 and "running: yes" in status.stdout
    assert "queue: 0 event(s)" in status.stdout, status.stdout
    shown = httpx.get(f"{url}/api/v1/hosts/{host}", headers=admin).json()
    assert shown["status"] == "online" and shown["agents"][0]["hostname"]
    assert agent.signal(signal.SIGTERM) == 0  # a clean stop
    stopped = run("agent", "status", "--state-dir", str(state))
    assert stopped.exit_code == 1 and "running: no" in stopped.stdout
    server.stop()
    for output in (tmp_path / "server.log", tmp_path / "agent.log"):
        text = output.read_text()
        assert credential not in text and credential.split("_", 2)[2] not in text
        assert "Traceback" not in text, text[-3000:]
    agent_log = (tmp_path / "agent.log").read_text()
    assert "events kept on disk" in agent_log and "server reachable again" in agent_log


def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key (PEM files)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "stackwarden test server")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


def test_enrollment_and_shipping_over_https_with_a_private_ca(tmp_path: Path) -> None:
    import threading

    import uvicorn

    from stackwarden.agent.runner import AgentRunner
    from stackwarden.agent.state import StateDir
    from tests.agent.conftest import live_server

    cert, key = self_signed(tmp_path)
    gen = live_server(tmp_path)
    live = next(gen)
    port = free_port()
    tls = uvicorn.Server(uvicorn.Config(live.uvicorn.config.app, host="127.0.0.1", port=port,
                                        log_level="warning", ssl_certfile=str(cert),
                                        ssl_keyfile=str(key)))
    thread = threading.Thread(target=tls.run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: tls.started, 30, "the TLS server")
        url = f"https://127.0.0.1:{port}"
        state = tmp_path / "agent"
        untrusted = run("agent", "enroll", "--server", url, "--token", live.enrollment_token(),
                        "--state-dir", str(state))
        assert untrusted.exit_code == 3 and "TLS failed" in one_line_error(untrusted)
        done = run("agent", "enroll", "--server", url, "--token", live.enrollment_token(),
                   "--state-dir", str(state), "--ca-cert", str(cert))
        assert done.exit_code == 0, done.stderr
        live.api("PUT", "/api/v1/agents/config/default", json={"collectors": {
            "logs": {"inputs": [{"path": str(tmp_path / "auth.log")}]},
            "host_vulnerabilities": {"enabled": False},
                            "fim": {"enabled": False}, "inventory": {"enabled": False}}})
        AgentRunner(StateDir(state), once=True).run(threading.Event())
        status = json.loads((state / "status.json").read_text())
        assert status["config_source"] == "server" and status["server_state"] in ("ok",
                                                                                   "unknown")
        agents = live.api("GET", "/api/v1/agents").json()["items"]
        assert agents[0]["last_address"] == "127.0.0.1"
    finally:
        tls.should_exit = True
        thread.join(timeout=30)
        next(gen, None)
