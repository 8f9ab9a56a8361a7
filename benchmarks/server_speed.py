"""Server speed: ingest a 10,000-finding report; list a filtered page with 1,000,000 findings.

Runs the real application in-process (FastAPI TestClient: the whole HTTP stack without a
socket) on SQLite and, when it answers on 127.0.0.1:5432, on PostgreSQL (a throwaway database).

1. Ingestion: POST /api/v1/scans with a report of --report-findings findings (goal < 5 s), then
   the same image again (every finding updated to `open`), then a third scan that fixes half.
2. Listing: --findings rows are bulk-loaded straight into the findings table across 1,000 assets
   (severity, kind, KEV, fix, state and age spread like a real fleet), then --requests filtered
   pages are fetched through the API, following cursors to deep pages too; p50 and p95 are printed
   per backend (goal: p95 < 200 ms on PostgreSQL).

    .venv/bin/python benchmarks/server_speed.py [--findings 1000000] [--backend sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.server.helpers: the report builder the tests use

from stackwarden.server.app import create_app
from stackwarden.server.bootstrap import init_server
from stackwarden.server.context import ServerContext
from stackwarden.server.settings import ServerSettings
from tests.server.helpers import PG_ADMIN_URL, finding, pg_create, pg_drop, report

SEVERITIES = ["critical", "high", "medium", "low", "negligible", "unknown"]
FILTERS: list[dict[str, Any]] = [
    {}, {"severity": "critical"}, {"severity": ["critical", "high"]}, {"kev": "true"},
    {"fix_available": "true", "min_severity": "high"}, {"state": "open"},
    {"kind": "secret"}, {"sort": "severity"}, {"sort": "severity", "kev": "true"},
    {"state": "new", "severity": "high"}, {"min_age_days": 30}, {"triage": "none"},
    {"package": "openssl"}, {"vuln_id": "CVE-2024-0042"},
]


def big_report(n: int, seed: int = 1) -> bytes:
    rnd = random.Random(seed)
    rows = [finding(f"fp{i:08d}", vuln=f"CVE-2024-{i % 9000:04d}",
                    severity=rnd.choice(SEVERITIES), package=f"pkg{i % 700}",
                    fixed=rnd.random() < 0.6, kev=rnd.random() < 0.02) for i in range(n)]
    return json.dumps(report(rows)).encode()


def bench_ingest(client: TestClient, auth: dict[str, str], n: int
                 ) -> list[tuple[str, float, float]]:
    data = big_report(n)
    half = json.loads(data)
    half["findings"] = half["findings"][: n // 2]
    out = []
    for label, body in (("first scan (all new)", data), ("same image again (all open)", data),
                        ("third scan (half fixed)", json.dumps(half).encode())):
        started, cpu = time.perf_counter(), time.process_time()
        r = client.post("/api/v1/scans", content=body,
                        headers={**auth, "Content-Type": "application/json"})
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        assert r.status_code == 201, r.text
        out.append((label, elapsed, cpu))
    return out


def load_findings(ctx: ServerContext, total: int, assets: int = 1000) -> float:
    """Bulk-load `total` findings with SQL generating the rows inside the database."""
    started = time.perf_counter()
    pg = ctx.db.engine.dialect.name == "postgresql"
    series = ("generate_series(1, :n) AS g(i)" if pg else
              "(WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < :n) "
              "SELECT i FROM s) AS g")
    now = "now() AT TIME ZONE 'utc'" if pg else "datetime('now')"
    age = (f"{now} - (i % 400) * interval '1 day'" if pg else
           "datetime('now', '-' || (i % 400) || ' days')")
    boolean = (lambda e: f"({e})") if pg else (lambda e: f"CASE WHEN {e} THEN 1 ELSE 0 END")
    with ctx.db.engine.begin() as conn:
        conn.execute(text(
            f"INSERT INTO assets (kind, key, name, digest, created_at) SELECT 'image', "
            f"'sha256:bench' || i, 'bench/app' || i, NULL, {now} FROM {series}"), {"n": assets})
        first = conn.execute(text("SELECT min(id) FROM assets WHERE key LIKE 'sha256:bench%'")
                             ).scalar_one()
        # Independent random columns (the database's random()): columns derived from the
        # same counter would be correlated, and some filter combinations would match nothing.
        rnd = "floor(random() * {n})" if pg else "(abs(random()) % {n})"
        r6, r4, r5, r97 = (rnd.format(n=n) for n in (6, 4, 5, 97))
        conn.execute(text(
            "INSERT INTO findings (asset_id, fingerprint, kind, vuln_id, title, severity, "
            "severity_rank, package_name, package_version, purl, path, fix_available, kev, epss, "
            "state, first_seen, last_seen, first_scan_id, last_scan_id, triage, triage_reason, "
            "triage_by, triage_approver, data) SELECT "
            f"asset_id, 'b' || i, kind, vuln_id, 'a benchmark finding', "
            "CASE sev WHEN 5 THEN 'critical' WHEN 4 THEN 'high' WHEN 3 THEN 'medium' "
            "WHEN 2 THEN 'low' WHEN 1 THEN 'negligible' ELSE 'unknown' END, sev, package_name, "
            f"'1.0', '', '/usr/lib', {boolean('fix < 3')}, {boolean('kev = 0')}, NULL, "
            "CASE st WHEN 0 THEN 'new' WHEN 1 THEN 'open' WHEN 2 THEN 'fixed' "
            f"ELSE 'reopened' END, {age}, {now}, 1, 1, '', '', '', '', '{{}}' FROM (SELECT i, "
            f":first + (i % {assets}) AS asset_id, "
            "CASE WHEN i % 50 = 0 THEN 'secret' ELSE 'vulnerability' END AS kind, "
            "'CVE-2024-' || (i % 9000) AS vuln_id, "
            "CASE WHEN i % 700 = 0 THEN 'openssl' ELSE 'pkg' || (i % 700) END AS package_name, "
            f"{r6} AS sev, {r4} AS st, {r5} AS fix, {r97} AS kev FROM {series}) AS src"),
            {"n": total, "first": first})
        conn.execute(text("ANALYZE"))
    return time.perf_counter() - started


def bench_list(client: TestClient, auth: dict[str, str], requests: int, asset_ids: list[int]
               ) -> tuple[float, float, float, dict[str, float], float]:
    rnd = random.Random(7)
    times, cpu_times = [], []
    per_filter: dict[str, list[float]] = {}
    for n in range(requests):
        params: dict[str, Any] = dict(rnd.choice(FILTERS))
        if n % 5 == 0:
            params = {"asset_id": rnd.choice(asset_ids), **({"state": "open"} if n % 2 else {})}
        params["limit"] = 50
        cursor = None
        for _page in range(1 + n % 3):  # first pages and deeper ones through cursors
            if cursor:
                params["cursor"] = cursor
            started, cpu = time.perf_counter(), time.process_time()
            r = client.get("/api/v1/findings", params=params, headers=auth)
            times.append(time.perf_counter() - started)
            cpu_times.append(time.process_time() - cpu)
            label = ",".join(f"{k}={v}" for k, v in sorted(params.items())
                             if k not in ("limit", "cursor", "asset_id")) or "-"
            per_filter.setdefault(label, []).append(times[-1])
            assert r.status_code == 200, r.text
            cursor = r.json()["next_cursor"]
            if not cursor:
                break
    times.sort()
    worst = {k: max(v) for k, v in per_filter.items()}
    cpu_times.sort()
    return (statistics.median(times), times[int(len(times) * 0.95) - 1], times[-1], worst,
            cpu_times[int(len(cpu_times) * 0.95) - 1])


def run_backend(name: str, url: str, args: argparse.Namespace, tmp: Path) -> None:
    settings = ServerSettings(database_url=url, data_dir=tmp / name)
    ctx = ServerContext.open(settings, migrate=True)
    token = init_server(ctx, "admin", "benchmark admin password").token
    auth = {"Authorization": f"Bearer {token}"}
    try:
        with TestClient(create_app(ctx=ctx)) as client:
            for label, seconds, cpu in bench_ingest(client, auth, args.report_findings):
                # CPU time of this process too: on a shared machine, wall time includes waiting
                print(f"{name:<10} ingest {args.report_findings} findings, {label}: "
                      f"{seconds:.2f} s wall, {cpu:.2f} s CPU here (goal < 5 s)", flush=True)
            if args.skip_load:
                return
            loaded = load_findings(ctx, args.findings)
            with ctx.db.session() as session:
                count = session.execute(text("SELECT count(*) FROM findings")).scalar_one()
                asset_ids = list(session.execute(text("SELECT id FROM assets")).scalars())
            print(f"{name:<10} loaded {count:,} findings in {loaded:.1f} s", flush=True)
            p50, p95, worst, by_filter, cpu95 = bench_list(client, auth, args.requests, asset_ids)
            slowest = sorted(by_filter.items(), key=lambda kv: -kv[1])[:4]
            print(f"{name:<10} slowest filters: " + "; ".join(
                f"{k} {v * 1000:.0f} ms" for k, v in slowest), flush=True)
            print(f"{name:<10} filtered page of 50 with {count:,} stored: p50 {p50 * 1000:.1f} ms,"
                  f" p95 {p95 * 1000:.1f} ms, max {worst * 1000:.1f} ms (goal p95 < 200 ms); "
                  f"p95 CPU in this process {cpu95 * 1000:.1f} ms",
                  flush=True)
    finally:
        ctx.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--findings", type=int, default=1_000_000)
    parser.add_argument("--report-findings", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--backend", default="sqlite,postgresql")
    parser.add_argument("--skip-load", action="store_true", help="Only the ingestion figures.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sw-server-bench-") as tmp:
        for backend in args.backend.split(","):
            if backend == "sqlite":
                run_backend("sqlite", f"sqlite:///{tmp}/bench.db", args, Path(tmp))
            elif backend == "postgresql":
                name = f"sw_bench_{uuid.uuid4().hex[:10]}"
                try:
                    url = pg_create(name)
                except Exception as exc:  # noqa: BLE001 - report and go on with the others
                    print(f"postgresql skipped: {PG_ADMIN_URL} unreachable ({exc})")
                    continue
                try:
                    run_backend("postgresql", url, args, Path(tmp))
                finally:
                    pg_drop(name)


if __name__ == "__main__":
    main()
