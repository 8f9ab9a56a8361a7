"""`stackwarden agent …` on bad input: server down, 5xx, plain HTTP to a remote host, not
enrolled, a credential others can read, a configuration the agent cannot use. Each is one
clear line, never a traceback, and never the credential."""

from __future__ import annotations

import json
import logging
import stat
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from stackwarden.agent.client import AgentClient
from stackwarden.agent.config import TransportSettings
from stackwarden.agent.interface import AgentEvent
from stackwarden.agent.runner import AgentRunner
from stackwarden.agent.state import StateDir
from stackwarden.agent.transport import EventQueue, Shipper
from stackwarden.server.db.agent_models import Agent, AgentSetting
from tests.agent.conftest import LiveServer, Misbehaving, free_port


def run(*args: str, stdin: str | None = None) -> Any:
    from typer.testing import CliRunner

    from stackwarden.cli.main import app

    return CliRunner().invoke(app, list(args), input=stdin, catch_exceptions=False)


def one_line_error(result: Any) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and "Traceback" not in result.output
    return lines[0]


def test_enroll_failures_are_one_line(tmp_path: Path) -> None:
    state = str(tmp_path / "state")
    down = run("agent", "enroll", "--server", f"http://127.0.0.1:{free_port()}", "--token",
               "swe_1_secret", "--state-dir", state)
    assert down.exit_code == 3 and "cannot reach the server" in one_line_error(down)
    broken = Misbehaving(503, b"<html><body>upstream gone</body></html>")
    try:
        five = run("agent", "enroll", "--server", broken.url, "--token", "swe_1_secret",
                   "--state-dir", state)
        line = one_line_error(five)
        assert five.exit_code == 3 and "HTTP 503" in line and "swe_1_secret" not in line
    finally:
        broken.close()
    remote = run("agent", "enroll", "--server", "http://192.0.2.10:8080", "--token",
                 "swe_1_secret", "--state-dir", state)
    assert remote.exit_code == 2 and "refusing plain HTTP" in one_line_error(remote)
    garbage = run("agent", "enroll", "--server", "ftp://x", "--token", "t", "--state-dir", state)
    assert garbage.exit_code == 2 and "https://HOST" in one_line_error(garbage)
    empty = run("agent", "enroll", "--server", "http://127.0.0.1:1", "--token", "-",
                "--state-dir", state, stdin="\n")
    assert empty.exit_code == 2 and "empty" in one_line_error(empty)
    assert not (tmp_path / "state" / "credential").exists()
    for command in ("run", "status"):
        lost = run("agent", command, "--state-dir", state)
        assert lost.exit_code == 2 and "not enrolled" in one_line_error(lost)


def test_enroll_writes_a_private_credential(live: LiveServer, tmp_path: Path) -> None:
    state = tmp_path / "state"
    done = run("agent", "enroll", "--server", live.url, "--token", "-", "--state-dir",
               str(state), "--name", "web-1", stdin=live.enrollment_token() + "\n")
    assert done.exit_code == 0, done.stderr
    credential = (state / "credential").read_text().strip()
    assert credential.startswith("swt_") and credential not in done.output
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    for name in ("credential", "agent.json"):
        assert stat.S_IMODE((state / name).stat().st_mode) == 0o600
    identity = json.loads((state / "agent.json").read_text())
    assert identity["hostname"] == "web-1" and "credential" not in identity
    again = run("agent", "enroll", "--server", live.url, "--token", live.enrollment_token(),
                "--state-dir", str(state))
    assert again.exit_code == 2 and "--force" in one_line_error(again)

    (state / "credential").chmod(0o644)
    leaky = run("agent", "run", "--state-dir", str(state), "--once")
    assert leaky.exit_code == 3 and "chmod 600" in one_line_error(leaky)
    (state / "credential").chmod(0o600)
    (state / "agent.json").write_text("{not json")
    broken = run("agent", "status", "--state-dir", str(state))
    assert broken.exit_code == 3 and "agent.json" in one_line_error(broken)


def test_shipping_to_a_broken_server_keeps_events(tmp_path: Path) -> None:
    queue = EventQueue(tmp_path / "q.db")
    queue.put([AgentEvent.make("test.event", {"n": 1})])
    broken = Misbehaving(502, b"Bad Gateway", "text/plain")
    try:
        client = AgentClient(broken.url, "swt_1_secret", timeout=5)
        result = Shipper(queue, client, TransportSettings(), rng=lambda: 1.0).ship()
    finally:
        broken.close()
    assert result is not None and result.sent == 0 and result.retry_in == 1.0
    assert "HTTP 502" in str(result.error) and "swt_1_secret" not in str(result.error)
    assert queue.stats()["depth"] == 1


def enrolled_runner(live: LiveServer, tmp_path: Path) -> AgentRunner:
    from stackwarden.agent.enroll import enroll

    state = StateDir(tmp_path / "state")
    enroll(live.url, live.enrollment_token(), state, name="web-1")
    return AgentRunner(state)


def test_a_configuration_the_agent_cannot_use_is_refused_once(
        live: LiveServer, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    good = {"collectors": {"logs": {"inputs": [{"path": str(tmp_path / "auth.log")}]},
                           "host_vulnerabilities": {"enabled": False},
                            "fim": {"enabled": False}, "inventory": {"enabled": False}}}
    assert live.api("PUT", "/api/v1/agents/config/default", json=good).status_code == 200
    runner = enrolled_runner(live, tmp_path)
    runner.refresh_config()
    first = runner.status["config_etag"]
    assert runner.status["config_source"] == "server" and runner.state.cached_config()
    # a newer server, or someone editing the database, hands out what this agent cannot use
    with live.ctx.db.transaction() as session:
        session.execute(update(AgentSetting).values(value=json.dumps(
            {"collectors": {"logs": {"interval": -5}}})))
    caplog.set_level(logging.ERROR, logger="stackwarden.agent")
    runner.refresh_config()
    runner.refresh_config()
    refused = [r.getMessage() for r in caplog.records]
    assert len(refused) == 1 and "collectors.logs.interval" in refused[0], refused
    assert "keeping the server configuration" in refused[0]
    assert runner.status["config_etag"] == first  # still the cached, good one
    with live.ctx.db.transaction() as session:
        session.execute(update(Agent).values(config="not json at all"))
    runner.refresh_config()
    assert "__unreadable__" in caplog.records[-1].getMessage()
    runner.client.close()
    runner.queue.close()

    # a proxy answering HTML instead of the configuration: the cached one is used
    garbage = Misbehaving(200, b"<html>captive portal</html>")
    try:
        runner = AgentRunner(runner.state)
        runner.client.close()
        runner.client = AgentClient(garbage.url, "swt_1_x", timeout=5)
        caplog.clear()
        runner.refresh_config()
        assert "not JSON" in caplog.records[-1].getMessage()
        assert runner.status["config_source"] == "cache"
        assert runner.config.collectors["logs"].inputs[0].path == str(tmp_path / "auth.log")
    finally:
        runner.queue.close()
        garbage.close()


def test_a_second_agent_on_the_same_state_directory_is_refused(live: LiveServer,
                                                               tmp_path: Path) -> None:
    runner = enrolled_runner(live, tmp_path)
    stop = threading.Event()
    thread = threading.Thread(target=runner.run, args=(stop,))
    thread.start()
    try:
        import time

        deadline = time.monotonic() + 20
        while runner._lock_handle is None and time.monotonic() < deadline:
            time.sleep(0.05)
        second = run("agent", "run", "--state-dir", str(runner.state.path), "--once")
        assert second.exit_code == 3 and "another agent is running" in one_line_error(second)
        status = run("agent", "status", "--state-dir", str(runner.state.path))
        assert status.exit_code == 0 and "running: yes" in status.stdout
    finally:
        stop.set()
        thread.join(timeout=60)
    assert run("agent", "status", "--state-dir", str(runner.state.path)).exit_code == 1


def test_an_in_process_run_leaves_the_signal_handlers_as_they_were(live: LiveServer,
                                                                   tmp_path: Path) -> None:
    import signal

    runner = enrolled_runner(live, tmp_path)
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    done = run("agent", "run", "--state-dir", str(runner.state.path), "--once")
    assert done.exit_code == 0, done.output
    assert {sig: signal.getsignal(sig) for sig in before} == before
