"""Agent idle cost: CPU and resident memory of `stackwarden agent run` over a window.

Starts a real server (`stackwarden server`, embedded database, loopback), enrolls an agent into
a temporary state directory, pushes a configuration, starts `stackwarden agent run` and, after
a warm-up, samples the agent process with psutil once a second: CPU time (user + system) over
the window as a share of one core, and RSS (max and last). Goals: CPU < 1 %, RSS < 100 MB.

The default configuration is the log collector on a quiet log file with the built-in rules,
heartbeats every 60 s, the FIM collector watching a generated tree of `--fim-files` files
(default 100,000, the issue's budget; 0 turns FIM off) with inotify, the host inventory and
host vulnerabilities off (they run every few hours, the latter in a child process;
`--with-inventory` includes both). `--config JSON` merges more. `--lines-per-second N` adds a
trickle of sshd lines, to see the cost of a host that logs. The warm-up must cover the FIM
baseline (about 10 s for 100,000 files here); the window starts after it.

    .venv/bin/python benchmarks/agent_idle.py [--window 60] [--warmup 40] [--fim-files 100000]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.helpers.fimtree import make_tree  # noqa: E402
CLI = [sys.executable, "-m", "stackwarden"]
GOAL_CPU, GOAL_RSS_MB = 1.0, 100.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("the server never answered")


def cli(*args: str, stdin: str | None = None) -> str:
    done = subprocess.run([*CLI, *args], input=stdin, capture_output=True, text=True,
                          timeout=120, check=False)
    if done.returncode != 0:
        raise SystemExit(f"stackwarden {' '.join(args[:3])} failed: {done.stderr.strip()}")
    return done.stdout.strip()


def trickle(log: Path, per_second: float, stop: threading.Event) -> None:
    n = 0
    while per_second > 0 and not stop.wait(1 / per_second):
        stamp = time.strftime("%b %e %H:%M:%S")
        with log.open("a") as handle:
            handle.write(f"{stamp} web1 sshd[{1000 + n}]: Accepted publickey for deploy from "
                         f"192.0.2.{n % 250 + 1} port {30000 + n} ssh2\n")
        n += 1


def measure(pid: int, window: float) -> dict[str, float]:
    proc = psutil.Process(pid)
    start_cpu = sum(proc.cpu_times()[:2])
    started = time.monotonic()
    rss: list[int] = []
    while time.monotonic() - started < window:
        rss.append(proc.memory_info().rss)
        time.sleep(1)
    elapsed = time.monotonic() - started
    cpu = sum(proc.cpu_times()[:2]) - start_cpu
    return {"seconds": elapsed, "cpu_seconds": cpu, "cpu_percent": 100 * cpu / elapsed,
            "rss_max_mb": max(rss) / 2**20, "rss_last_mb": rss[-1] / 2**20,
            "threads": proc.num_threads()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--window", type=float, default=60.0, help="seconds measured")
    parser.add_argument("--warmup", type=float, default=40.0, help="seconds before measuring")
    parser.add_argument("--fim-files", type=int, default=100_000,
                        help="files in the tree the FIM collector watches (0: FIM off)")
    parser.add_argument("--lines-per-second", type=float, default=0.0)
    parser.add_argument("--with-inventory", action="store_true",
                        help="keep the host inventory collector on (its child is not counted)")
    parser.add_argument("--config", default="{}", help="JSON merged into the agent config")
    args = parser.parse_args()

    env = {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep +
           os.environ.get("PYTHONPATH", "")}
    os.environ.update(env)
    with tempfile.TemporaryDirectory(prefix="sw-agent-bench-") as tmp:
        base = Path(tmp)
        flags = ["--data-dir", str(base / "server")]
        admin = cli("server", "init", "--password-stdin", *flags,
                    stdin="benchmark admin password\n")
        token = cli("server", "enroll-token", "create", "--expires", "1h", *flags)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server = subprocess.Popen([*CLI, "server", "--port", str(port), *flags],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        agent = None
        stop = threading.Event()
        try:
            wait_healthy(url)
            state = base / "agent"
            cli("agent", "enroll", "--server", url, "--token", token, "--state-dir", str(state))
            log = base / "auth.log"
            log.touch()
            fim: dict[str, Any] = {"enabled": False}
            if args.fim_files:
                tree = base / "watched"
                make_tree(tree, args.fim_files)
                fim = {"paths": [str(tree)], "interval": 5}
            config: dict[str, Any] = {"collectors": {
                "logs": {"inputs": [{"path": str(log)}]}, "fim": fim,
                "inventory": {"enabled": args.with_inventory},
                "host_vulnerabilities": {"enabled": args.with_inventory}}}
            extra = json.loads(args.config)
            for key, value in extra.get("collectors", {}).items():
                config["collectors"][key] = value
            config.update({k: v for k, v in extra.items() if k != "collectors"})
            put = httpx.put(f"{url}/api/v1/agents/config/default", json=config, timeout=30,
                            headers={"Authorization": f"Bearer {admin}"})
            if put.status_code != 200:
                raise SystemExit(f"configuration refused: {put.text}")
            agent = subprocess.Popen([*CLI, "agent", "run", "--state-dir", str(state),
                                      "--log-level", "warning"], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
            writer = threading.Thread(target=trickle, args=(log, args.lines_per_second, stop),
                                      daemon=True)
            writer.start()
            time.sleep(args.warmup)
            if agent.poll() is not None:
                raise SystemExit("the agent exited during the warm-up")
            figures = measure(agent.pid, args.window)
        finally:
            stop.set()
            for proc in (agent, server):
                if proc is not None:
                    proc.terminate()
                    proc.wait(timeout=60)
    load = os.getloadavg()[0]
    print(f"agent idle over {figures['seconds']:.0f} s (warm-up {args.warmup:.0f} s, "
          f"{args.fim_files:,} files watched, {args.lines_per_second:g} log lines/s, "
          f"load average {load:.1f}):")
    print(f"  CPU   {figures['cpu_seconds']:.3f} s = {figures['cpu_percent']:.3f} % of one core "
          f"(goal < {GOAL_CPU:g} %: {GOAL_CPU / max(figures['cpu_percent'], 1e-9):.1f}x under)")
    print(f"  RSS   max {figures['rss_max_mb']:.1f} MB, last {figures['rss_last_mb']:.1f} MB "
          f"(goal < {GOAL_RSS_MB:g} MB: {GOAL_RSS_MB / figures['rss_max_mb']:.1f}x under); "
          f"{figures['threads']} threads")


if __name__ == "__main__":
    main()
