"""The reference implementations on this machine, driven in batches over pipes.

Each oracle is one long-lived process (rpm's Python binding, node-semver under Node.js, Maven's
ComparableVersion under Java) reading one tab-separated request per line and answering one line
each; dpkg has no batch mode, so its pairs go through a shell loop per batch, split over the
machine's cores. Versions containing tabs or newlines are never sent.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.helpers.debian import CACHE, cache_lock
from tests.helpers.env import require_network, unavailable

NODE_SEMVER = "7.8.6"
MAVEN_JAR = Path("/usr/share/java/maven3-artifact.jar")
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "versions"
SYMBOL = {-1: "lt", 0: "eq", 1: "gt"}


class LineOracle:
    """A child process answering one line per request line."""

    def __init__(self, argv: Sequence[str], cwd: str | None = None) -> None:
        self.process = subprocess.Popen(
            list(argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            encoding="utf-8", errors="surrogateescape", bufsize=1, cwd=cwd)

    def ask(self, requests: Iterable[str], chunk: int = 256) -> list[str]:
        """One answer per request, in order."""
        assert self.process.stdin is not None and self.process.stdout is not None
        answers: list[str] = []
        pending = list(requests)
        for start in range(0, len(pending), chunk):
            part = pending[start:start + chunk]
            self.process.stdin.write("".join(r + "\n" for r in part))
            self.process.stdin.flush()
            for _ in part:
                line = self.process.stdout.readline()
                if not line:
                    raise AssertionError(f"oracle {self.process.args[0]} died")
                answers.append(line.rstrip("\n"))
        return answers

    def close(self) -> None:
        """End the child process."""
        if self.process.stdin:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


RPM_SCRIPT = r"""
import sys, rpm
for line in sys.stdin:
    a, b = line.rstrip("\n").split("\t")
    try:
        va, vb = rpm.ver(a), rpm.ver(b)
        out = "%d\t%s\t%s" % ((va > vb) - (va < vb), va.v, vb.v)
    except Exception:
        out = "E"
    sys.stdout.write(out + "\n"); sys.stdout.flush()
"""


def rpm_oracle() -> LineOracle:
    """rpm's own comparison (rpm.ver, rpmverCmp) through Debian's python3-rpm."""
    python = "/usr/bin/python3"
    check = subprocess.run([python, "-c", "import rpm"], capture_output=True, check=False) \
        if os.path.exists(python) else None
    if check is None or check.returncode != 0:
        unavailable("python3-rpm is not installed (scripts/install-system-deps installs it)")
    return LineOracle([python, "-c", RPM_SCRIPT])


NODE_SCRIPT = r"""
const semver = require('semver');
const rl = require('readline').createInterface({input: process.stdin});
rl.on('line', (line) => {
  const f = line.split('\t');
  let out;
  try {
    if (f[0] === 'C') out = String(semver.compare(f[1], f[2]));
    else out = String(semver.satisfies(f[2], f[1], {includePrerelease: f[3] === '1'}));
  } catch (e) { out = 'E'; }
  process.stdout.write(out + '\n');
});
"""


def node_oracle() -> LineOracle:
    """node-semver (pinned) under Node.js, installed once into the test cache."""
    if not shutil.which("node") or not shutil.which("npm"):
        unavailable("Node.js is not installed (scripts/install-system-deps installs it)")
    with cache_lock(f"node-semver-{NODE_SEMVER}") as directory:
        if not (directory / "node_modules" / "semver" / "package.json").exists():
            require_network("registry.npmjs.org")
            directory.mkdir(parents=True, exist_ok=True)
            done = subprocess.run(["npm", "install", "--silent", "--no-audit", "--no-fund",
                                   "--prefix", str(directory), f"semver@{NODE_SEMVER}"],
                                  capture_output=True, text=True, timeout=300, check=False)
            if done.returncode != 0:
                raise AssertionError("npm install semver failed: " + done.stderr[-1000:])
    return LineOracle(["node", "-e", NODE_SCRIPT], cwd=str(directory))


def maven_oracle() -> LineOracle:
    """Maven's ComparableVersion (Debian's maven-artifact 3.8) under Java."""
    if not shutil.which("java") or not MAVEN_JAR.exists():
        unavailable("Java or maven-artifact is missing (scripts/install-system-deps installs "
                    "openjdk-17-jre-headless and libmaven3-core-java)")
    return LineOracle(["java", "-cp", str(MAVEN_JAR), str(FIXTURES / "MavenCompare.java")])


DPKG_LOOP = r"""
while IFS=$'\t' read -r a op b; do
  dpkg --compare-versions -- "$a" "$op" "$b" 2>/dev/null; echo $?
done
"""


def dpkg_check(claims: Sequence[tuple[str, str, str]]) -> list[int]:
    """`dpkg --compare-versions a op b` exit codes (0 true, 1 false, 2 error) for each claim.

    dpkg compares one pair per process, so a shell loop runs each half of the batch on its
    own core.
    """
    if not shutil.which("dpkg"):
        unavailable("dpkg is not installed")
    halves = [claims[: len(claims) // 2], claims[len(claims) // 2:]]

    def run(part: Sequence[tuple[str, str, str]]) -> list[int]:
        if not part:
            return []
        done = subprocess.run(["bash", "-c", DPKG_LOOP], input="".join(
            f"{a}\t{op}\t{b}\n" for a, op, b in part), capture_output=True, text=True,
            timeout=300, check=True)
        return [int(x) for x in done.stdout.split()]

    with ThreadPoolExecutor(max_workers=2) as pool:
        first, second = pool.map(run, halves)
    results = first + second
    assert len(results) == len(claims)
    return results


def load_json(path: str) -> object:
    """A JSON file's content."""
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


__all__ = ["CACHE", "LineOracle", "dpkg_check", "load_json", "maven_oracle", "node_oracle",
           "rpm_oracle"]
