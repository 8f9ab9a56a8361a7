"""StackWarden's file integrity baseline and check vs AIDE on the same 100,000-file tree.

The tree (tests/helpers/fimtree.py: sizes like /usr, mostly small files, some up to 1 MiB,
symlinks, every mtime fixed in the past) is generated once. Both tools record the same
attributes (AIDE rule `p+i+u+g+s+m+sha256+xattrs+caps+ftype+l`; StackWarden's baseline with
content diffs off, since AIDE keeps no content) and run as whole processes, start-up included,
on a warm page cache (the tree is read once before the first run). Each step runs `--runs`
times, alternating the tools; the median wall time counts. AIDE runs with one worker (its
default) and with one per CPU (`num_workers`); the ratio is taken against its faster run.

After the baselines, generated changes of every kind (content, same-size replace with the
mtime kept, mode, owner, add, delete, mtime-only touch, symlink retarget, xattr, capability)
are applied, then both tools check; their sets of changed paths must be equal.

`--idle` then measures `stackwarden fim watch` on the same tree: CPU per cent and RSS of the
watcher over `--idle-seconds` of an idle tree once its inotify watches are in place (goal:
under 1 % CPU and 100 MB).

`--pools` times recording the tree in-process with one thread, threads and processes (what
chose the default).

    .venv/bin/python benchmarks/fim_vs_aide.py [--files 100000] [--runs 3] [--idle] [--pools]
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
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from tests.helpers.aide import write_config  # noqa: E402
from tests.helpers.fimtree import apply_changes, make_tree  # noqa: E402

PY = [sys.executable, "-m", "stackwarden", "fim"]
ENV = {**os.environ, "PYTHONPATH": str(ROOT / "src")}


def timed(cmd: list[str], stdout: Path | None = None, ok: tuple[int, ...] = (0,)
          ) -> tuple[float, float]:
    """Wall and CPU seconds (user + system of the children) of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with (stdout.open("wb") if stdout else open(os.devnull, "wb")) as out:
        done = subprocess.run(cmd, stdout=out, stderr=subprocess.PIPE, env=ENV, check=False,
                              stdin=subprocess.DEVNULL, timeout=7200)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in ok:
        raise SystemExit(f"{' '.join(cmd)} exited {done.returncode}: {done.stderr[-600:]!r}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def warm(tree: Path) -> int:
    """Read every file once so both tools start from the same (warm) page cache."""
    count = 0
    for directory, _, names in os.walk(tree):
        for name in names:
            path = os.path.join(directory, name)
            if not os.path.islink(path):
                with open(path, "rb") as handle:
                    while handle.read(1 << 20):
                        pass
            count += 1
    return count


def median(runs: list[tuple[float, float]]) -> tuple[float, float]:
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def aide_paths(report: Path) -> set[str]:
    doc = json.loads(report.read_text())
    return {p for kind in ("added", "removed", "changed") for p in doc.get(kind, {})}


def ours_paths(report: Path) -> set[str]:
    return {c["path"] for c in json.loads(report.read_text())["changes"]}


def compare(args: argparse.Namespace, work: Path, tree: Path) -> None:
    aide = shutil.which("aide") or "/usr/bin/aide"
    cpus = len(os.sched_getaffinity(0))
    configs = {}
    for workers in sorted({1, cpus}):
        (work / f"aide{workers}").mkdir(exist_ok=True)
        configs[workers] = write_config(work / f"aide{workers}", tree, workers)
    db = work / "fim.db"
    steps: dict[str, list[tuple[float, float]]] = {}
    print(f"tree: {args.files} files under {tree}; warm cache: {warm(tree)} entries read")
    for _ in range(args.runs):
        for workers, config in configs.items():
            steps.setdefault(f"aide init ({workers} worker)", []).append(
                timed([aide, "--init", "-c", str(config)]))
        steps.setdefault("stackwarden baseline", []).append(
            timed([*PY, "baseline", str(tree), "--db", str(db), "--diff-max-bytes", "0"]))
    for config in configs.values():
        (config.parent / "aide.db.new").replace(config.parent / "aide.db")
    # A kept tree may hold the previous run's changes: a new seed keeps every change real.
    seed = len(list(tree.rglob("new-*"))) + 7
    applied = apply_changes(tree, args.changes, seed=seed)
    print(f"applied {len(applied)} changes (parents included; seed {seed})")
    warm(tree)
    for _ in range(args.runs):
        for workers, config in configs.items():
            steps.setdefault(f"aide check ({workers} worker)", []).append(
                timed([aide, "--check", "-c", str(config)], work / f"aide{workers}.json",
                      ok=tuple(range(8))))
        steps.setdefault("stackwarden check", []).append(
            timed([*PY, "check", "--db", str(db), "--format", "json", "--exit-zero"],
                  work / "ours.json"))
    print(f"\n{'step':<28}{'wall s (median)':>16}{'CPU s':>8}")
    for name, runs in steps.items():
        wall, cpu = median(runs)
        print(f"{name:<28}{wall:>16.2f}{cpu:>8.2f}")
    for step in ("init", "check"):
        ours = median(steps["stackwarden " + ("baseline" if step == "init" else "check")])
        best = min(median(steps[f"aide {step} ({w} worker)"]) for w in configs)
        print(f"{step}: StackWarden / AIDE (faster config) = {ours[0] / best[0]:.2f} wall, "
              f"{ours[1] / best[1]:.2f} CPU")
    theirs = aide_paths(work / f"aide{cpus}.json")
    ours = ours_paths(work / "ours.json")
    expected = {a.path for a in applied}
    print(f"changed paths: AIDE {len(theirs)}, StackWarden {len(ours)}, applied {len(expected)}; "
          f"same set: {theirs == ours}; both equal to what was applied: "
          f"{theirs == ours == expected}")
    if theirs != ours:
        print("only AIDE:", sorted(theirs - ours)[:10], "only StackWarden:",
              sorted(ours - theirs)[:10])


def idle(args: argparse.Namespace, work: Path, tree: Path) -> None:
    import psutil

    db = work / "fim.db"
    if not db.exists():
        subprocess.run([*PY, "baseline", str(tree), "--db", str(db), "--diff-max-bytes", "0"],
                       env=ENV, check=True, timeout=3600, capture_output=True)
    proc = subprocess.Popen([*PY, "watch", "--db", str(db)], env=ENV, stderr=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, text=True, stdin=subprocess.DEVNULL)
    try:
        started = time.perf_counter()
        line = proc.stderr.readline()  # type: ignore[union-attr]
        ready = time.perf_counter() - started
        print(f"\nwatch: {line.strip()} (after {ready:.1f} s)")
        watcher = psutil.Process(proc.pid)
        time.sleep(2)
        before = watcher.cpu_times()
        rss = []
        start = time.perf_counter()
        while time.perf_counter() - start < args.idle_seconds:
            rss.append(watcher.memory_info().rss)
            time.sleep(1)
        after = watcher.cpu_times()
        seconds = time.perf_counter() - start
        cpu = (after.user - before.user) + (after.system - before.system)
        dirs = sum(1 for _ in os.walk(tree))
        print(f"idle over {seconds:.0f} s with {args.files} files in {dirs} watched directories: "
              f"CPU {100 * cpu / seconds:.3f} %, RSS max {max(rss) / 2**20:.1f} MiB "
              f"(goal < 1 %, < 100 MB)")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def pools(args: argparse.Namespace, tree: Path) -> None:
    from stackwarden.agent.fim.model import FimOptions
    from stackwarden.agent.fim.scan import record_tree

    print("\nrecording the tree in-process (no database), median of runs:")
    cpus = len(os.sched_getaffinity(0))
    for pool, workers in [("serial", 1), ("thread", cpus), ("thread", 2 * cpus),
                          ("process", cpus)]:
        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            for _ in record_tree([str(tree)], FimOptions(workers=workers, diff_max_bytes=0), [],
                                 pool=pool):
                pass
            times.append(time.perf_counter() - start)
        print(f"  {pool:<8} {workers} worker(s): {statistics.median(times):.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--changes", type=int, default=400)
    parser.add_argument("--idle", action="store_true", help="measure the idle watcher too")
    parser.add_argument("--idle-seconds", type=float, default=60)
    parser.add_argument("--pools", action="store_true", help="compare hashing pools")
    parser.add_argument("--keep", type=Path, help="work here and keep it (default: temp dir)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root: the changes include chown and file capabilities")
    work = args.keep or Path(tempfile.mkdtemp(prefix="fim-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    tree = work / "tree"
    try:
        if not tree.exists():
            started = time.perf_counter()
            make_tree(tree, args.files)
            print(f"generated {args.files} files in {time.perf_counter() - started:.0f} s")
        if args.pools:
            pools(args, tree)
        compare(args, work, tree)
        if args.idle:
            idle(args, work, tree)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
