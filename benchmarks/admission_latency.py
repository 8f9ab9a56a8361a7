"""Admission latency: how long the API server waits for `stackwarden admission serve`.

No peer admission controller (Kyverno, OPA Gatekeeper) runs here without a cluster, so the
comparison is with the least any webhook can cost on the same stack: a plain HTTPS echo
(Uvicorn + Starlette, the same TLS certificate) that parses the AdmissionReview and allows it.
The difference is the price of StackWarden's decision (misconfiguration checks, image gate,
decision log). Both run as their own processes on loopback; the client keeps its connection
open, as the API server does, and a second pass opens a new TLS connection per request.

The reviews are recorded API-server bodies (tests/k8s/fixtures) and generated workloads whose
images are among --images scanned images (synthetic JSON scan reports of 40 findings each):
the verdict store is in memory, so its size should not show.

Budget: the API server's default `timeoutSeconds` is 10 s (deploy/kubernetes uses 5 s).

    .venv/bin/python benchmarks/admission_latency.py [--requests 2000] [--images 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import ssl
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from stackwarden.k8s.certs import generate, write
from tests.helpers.registry import free_port
from tests.k8s.helpers import SECURE_CONTAINER, fixture, workload, wrap
from tests.server.helpers import finding, report

BUDGET_SECONDS = 10.0
ECHO_APP = textwrap.dedent("""
    import json, sys, uvicorn
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    async def validate(request):
        doc = json.loads(await request.body())
        body = {"apiVersion": doc["apiVersion"], "kind": "AdmissionReview",
                "response": {"uid": doc["request"]["uid"], "allowed": True}}
        return Response(json.dumps(body), media_type="application/json")

    async def ready(request):
        return Response("ok")

    app = Starlette(routes=[Route("/validate", validate, methods=["POST"]),
                            Route("/readyz", ready)])
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), ssl_certfile=sys.argv[2],
                ssl_keyfile=sys.argv[3], log_level="warning", access_log=False)
""")


def make_reports(directory: Path, count: int) -> list[str]:
    """`count` synthetic scan reports; returns the image references (by digest)."""
    rnd = random.Random(7)
    refs = []
    severities = ["critical", "high", "medium", "low"]
    for i in range(count):
        digest = f"sha256:{i:064x}"
        tag = f"registry.bench:5000/team{i % 40}/app{i}:1.{i % 9}"
        rows = [finding(f"fp{i}-{j}", vuln=f"CVE-2024-{j:04d}",
                        severity=rnd.choice(severities[1:] if i % 5 else severities))
                for j in range(40)]
        (directory / f"r{i}.json").write_text(json.dumps(report(rows, digest=digest,
                                                                tags=(tag,))))
        refs.append(f"registry.bench:5000/team{i % 40}/app{i}@{digest}")
    return refs


def bodies(refs: list[str], n: int) -> list[bytes]:
    """A mix of recorded reviews and workloads running scanned images."""
    rnd = random.Random(11)
    recorded = [fixture(name) for name in ("pod-create.json", "deployment-create.json",
                                           "cronjob-create.json", "pod-create-by-replicaset.json",
                                           "statefulset-create-dry-run.json")]
    out = []
    for i in range(n):
        if i % 3 == 0:
            doc = recorded[i % len(recorded)]
            doc["request"]["uid"] = str(uuid.uuid4())
        else:
            kind = rnd.choice(["Pod", "Deployment", "StatefulSet", "DaemonSet", "Job",
                               "CronJob"])
            containers = [{"name": f"c{k}", "image": rnd.choice(refs), **SECURE_CONTAINER}
                          for k in range(rnd.randint(1, 3))]
            doc = wrap(workload(kind, containers))
        out.append(json.dumps(doc).encode())
    return out


def start(cmd: list[str], url: str, ca: Path) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL,
                               env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    context = ssl.create_default_context(cafile=str(ca))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/readyz", verify=context, timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.1)
    process.terminate()
    raise SystemExit(f"{cmd[2:5]} did not start")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


def measure(url: str, ca: Path, payloads: list[bytes], *, keep_alive: bool = True,
            threads: int = 1) -> tuple[list[float], float]:
    """Per-request seconds, and the wall time of the whole run."""
    context = ssl.create_default_context(cafile=str(ca))
    times: list[float] = []
    lock = threading.Lock()
    chunks = [payloads[i::threads] for i in range(threads)]

    def worker(items: list[bytes]) -> None:
        limits = httpx.Limits(max_keepalive_connections=1 if keep_alive else 0)
        with httpx.Client(verify=context, timeout=BUDGET_SECONDS, limits=limits) as client:
            mine = []
            for body in items:
                started = time.perf_counter()
                answer = client.post(url + "/validate", content=body,
                                     headers={"Content-Type": "application/json"})
                mine.append(time.perf_counter() - started)
                assert answer.status_code == 200 and "response" in answer.json()
            with lock:
                times.extend(mine)

    started = time.perf_counter()
    pool = [threading.Thread(target=worker, args=(chunk,)) for chunk in chunks]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return times, time.perf_counter() - started


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def line(name: str, times: list[float], wall: float) -> str:
    return (f"{name:<36} p50 {pct(times, 0.5) * 1000:7.2f} ms   p99 {pct(times, 0.99) * 1000:7.2f}"
            f" ms   max {max(times) * 1000:7.2f} ms   {len(times) / wall:7.0f} req/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sw-admission-bench-") as tmp_name:
        tmp = Path(tmp_name)
        write(generate(["localhost", "127.0.0.1"], days=1), tmp / "certs")
        ca, cert, key = tmp / "certs" / "ca.crt", tmp / "certs" / "tls.crt", tmp / "certs" / "tls.key"
        (tmp / "reports").mkdir()
        t0 = time.perf_counter()
        refs = make_reports(tmp / "reports", args.images)
        print(f"{args.images} scan reports written in {time.perf_counter() - t0:.1f} s")
        payloads = bodies(refs, args.requests)
        (tmp / "echo.py").write_text(ECHO_APP)
        hook_port, echo_port = free_port(), free_port()
        hook_url, echo_url = f"https://localhost:{hook_port}", f"https://localhost:{echo_port}"
        policy = tmp / "admission.yaml"
        policy.write_text("mode: enforce\nimages:\n  gate:\n    fail_on: critical\n")
        t0 = time.perf_counter()
        hook = start([sys.executable, "-m", "stackwarden", "admission", "serve", "--cert",
                      str(cert), "--key", str(key), "--port", str(hook_port), "--policy",
                      str(policy), "--reports", str(tmp / "reports"), "--decision-log",
                      str(tmp / "decisions.jsonl"), "--log-level", "warning"], hook_url, ca)
        print(f"webhook ready in {time.perf_counter() - t0:.1f} s (reports indexed)")
        echo = start([sys.executable, str(tmp / "echo.py"), str(echo_port), str(cert),
                      str(key)], echo_url, ca)
        try:
            measure(hook_url, ca, payloads[:200])  # warm both
            measure(echo_url, ca, payloads[:200])
            results: dict[tuple[str, str], tuple[list[float], float]] = {}
            # Interleaved rounds: this machine is shared, so drift hits both servers alike.
            for key, items, kw in (("seq", payloads, {}),
                                   ("new", payloads[:300], {"keep_alive": False}),
                                   ("par", payloads, {"threads": args.threads})):
                for name, url in (("stackwarden", hook_url), ("echo", echo_url)):
                    results[name, key] = ([], 0.0)
                rounds = 10
                for r in range(rounds):
                    chunk = items[r::rounds]
                    for name, url in (("stackwarden", hook_url), ("echo", echo_url)):
                        times, wall = measure(url, ca, chunk, **kw)  # type: ignore[arg-type]
                        results[name, key][0].extend(times)
                        results[name, key] = (results[name, key][0],
                                              results[name, key][1] + wall)
        finally:
            stop(hook)
            stop(echo)
        decided = [json.loads(x)["duration_ms"] / 1000
                   for x in (tmp / "decisions.jsonl").read_text().splitlines()]
        verdicts = [json.loads(x)["verdict"]
                    for x in (tmp / "decisions.jsonl").read_text().splitlines()]
    print(f"\n{args.requests} AdmissionReviews, {args.images} scanned images in the store "
          f"(verdicts: {', '.join(f'{v} {verdicts.count(v)}' for v in ('allow', 'warn', 'deny'))})")
    for label, key in (("one connection, sequential", "seq"),
                       ("new TLS connection per review", "new"),
                       (f"{args.threads} connections in parallel", "par")):
        print(f"-- {label}")
        for name in ("stackwarden", "echo"):
            print("  " + line(name, *results[name, key]))
        ratio = pct(results["stackwarden", key][0], 0.5) / pct(results["echo", key][0], 0.5)
        print(f"  p50 ratio stackwarden / plain echo: {ratio:.2f}x")
    print(f"-- decision time inside the webhook (from the decision log): "
          f"p50 {pct(decided, 0.5) * 1000:.2f} ms, p99 {pct(decided, 0.99) * 1000:.2f} ms, "
          f"mean {statistics.mean(decided) * 1000:.2f} ms")
    worst = max(pct(results["stackwarden", k][0], 0.99) for k in ("seq", "new", "par"))
    print(f"-- budget: worst p99 {worst * 1000:.1f} ms = {worst / BUDGET_SECONDS:.4%} of the "
          f"default timeoutSeconds ({BUDGET_SECONDS:g} s)")


if __name__ == "__main__":
    main()
