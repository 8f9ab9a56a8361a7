"""Dashboard speed: page latency with many findings, and compliance PDF rendering measured
against the other way to make the PDF (Chromium's print-to-PDF) on the same HTML.

1. Pages: --assets images with --per-asset findings each are ingested through the API (so the
   post-ingest hook stores scores and queues notifications as in production), then the overview,
   the findings list sorted by priority, the SLA-breach filter and one asset page are fetched
   --requests times each; p50/p95 printed (goal: p95 < 1 s on SQLite at 50,000 findings).
2. PDF: the PCI DSS report of that server, as HTML, laid out by WeasyPrint (what the product
   uses) and by `chromium --headless --print-to-pdf`; times and the ratio are printed.

    .venv/bin/python benchmarks/dashboard_speed.py [--assets 50] [--per-asset 1000]
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from stackwarden.policy.compliance import load_framework  # noqa: E402
from stackwarden.server.app import create_app  # noqa: E402
from stackwarden.server.bootstrap import init_server  # noqa: E402
from stackwarden.server.compliance import evaluate  # noqa: E402
from stackwarden.server.compliance_report import render_html, render_pdf  # noqa: E402
from stackwarden.server.context import ServerContext  # noqa: E402
from stackwarden.server.settings import ServerSettings  # noqa: E402
from tests.server.helpers import finding, report  # noqa: E402

PASSWORD = "benchmark password 1"
SEVERITIES = ["critical", "high", "medium", "medium", "low", "low", "negligible"]


def timed(client: TestClient, path: str, n: int) -> tuple[float, float]:
    """p50 and p95 in milliseconds of `n` GETs."""
    times = []
    for _ in range(n):
        started = time.perf_counter()
        r = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        assert r.status_code == 200, (path, r.status_code)
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--assets", type=int, default=50)
    parser.add_argument("--per-asset", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = ServerSettings(database_url=f"sqlite:///{tmp}/s.db", data_dir=Path(tmp))
        ctx = ServerContext.open(settings, migrate=True)
        token = init_server(ctx, "admin", PASSWORD).token
        with TestClient(create_app(ctx=ctx, start_notifier=False),
                        base_url="https://bench") as client:
            started = time.perf_counter()
            for a in range(args.assets):
                findings = [finding(f"{a}-{i}", vuln=f"CVE-2024-{i:05}",
                                    severity=SEVERITIES[i % len(SEVERITIES)], kev=i % 97 == 0,
                                    fixed=i % 3 != 0, package=f"pkg{i % 300}")
                            for i in range(args.per_asset)]
                r = client.post("/api/v1/scans", json=report(
                    findings, digest=f"sha256:{a:064x}", tags=(f"r.example/app{a}:1",)),
                    headers={"Authorization": f"Bearer {token}"})
                assert r.status_code == 201, r.text
            total = args.assets * args.per_asset
            print(f"ingested {total} findings on {args.assets} assets in "
                  f"{time.perf_counter() - started:.1f} s (with the dashboard's post-ingest hook)")
            page = client.get("/login").text
            found = re.search(r'name="csrf" value="([^"]+)"', page)
            assert found is not None
            csrf = found.group(1)
            client.post("/login", data={"csrf": csrf, "username": "admin", "password": PASSWORD})
            for path in ("/", "/findings", "/findings?sort=priority&page=20",
                         "/findings?breached=1", "/findings?q=pkg7&severity=high",
                         "/assets", "/assets/1", "/audit"):
                p50, p95 = timed(client, path, args.requests)
                print(f"GET {path:38} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms")
        fw = load_framework("pci-dss-4")
        started = time.perf_counter()
        result = evaluate(ctx, fw)
        print(f"evaluate pci-dss-4: {(time.perf_counter() - started) * 1000:.0f} ms")
        html_path = Path(tmp) / "report.html"
        html_path.write_bytes(render_html(result))
        runs = []
        for _ in range(3):
            started = time.perf_counter()
            pdf = render_pdf(result)
            runs.append(time.perf_counter() - started)
        weasy = min(runs)
        print(f"PDF via WeasyPrint: {weasy * 1000:.0f} ms ({len(pdf)} bytes)")
        chromium = shutil.which("chromium")
        if chromium:
            runs = []
            for _ in range(3):
                started = time.perf_counter()
                subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu",
                                "--disable-background-networking", "--disable-component-update",
                                "--disable-sync", "--no-pdf-header-footer",
                                f"--print-to-pdf={tmp}/chromium.pdf", html_path.as_uri()],
                               check=True, capture_output=True, timeout=120)
                runs.append(time.perf_counter() - started)
            chrome = min(runs)
            size = Path(f"{tmp}/chromium.pdf").stat().st_size
            print(f"PDF via Chromium print-to-pdf: {chrome * 1000:.0f} ms ({size} bytes)")
            print(f"ratio Chromium / WeasyPrint: {chrome / weasy:.2f}x")
        ctx.close()


if __name__ == "__main__":
    main()
