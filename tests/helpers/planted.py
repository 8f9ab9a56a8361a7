"""Plant fake secrets in real source text at recorded places, and score findings against them.

`plant_corpus` copies the running Python's standard library, inserts generated secrets
(tests/helpers/fake_secrets.py) into its files and adds credential files (.npmrc,
kubeconfig, PKCS#12 …); it returns the ground truth: for each secret its type, file, lines
and the rule ids that may report it. Used by the correctness tests and by
benchmarks/secrets_vs_gitleaks.py.
"""

from __future__ import annotations

import os
import random
import shutil
import sysconfig
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.helpers.fake_secrets import GENERATORS

_SKIP_DIRS = {"test", "tests", "idle_test", "site-packages", "__pycache__", "lib2to3",
              "config-3.11-x86_64-linux-gnu", "ensurepip"}


@dataclass(frozen=True)
class Planted:
    """One planted secret: where it is and which rules may report it."""

    kind: str
    path: str  # relative to the corpus root
    line: int  # first line of the secret (1-based)
    end_line: int
    secret: str
    rules: frozenset[str]



def stdlib_sources(limit: int | None = None) -> list[Path]:
    """The running Python's standard-library .py files (tests and vendored code excluded)."""
    root = Path(sysconfig.get_paths()["stdlib"])
    found: list[Path] = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS)
        found.extend(Path(folder) / f for f in sorted(files) if f.endswith(".py"))
    return found[:limit] if limit else found


def plant_corpus(dest: Path, *, count: int = 250, seed: int = 4, sources: list[Path] | None
                 = None, prefix: str = "stdlib") -> list[Planted]:
    """Copy `sources` under dest/prefix, plant `count` fake secrets, return the ground truth."""
    rng = random.Random(seed)
    sources = sources if sources is not None else stdlib_sources()
    base = Path(sysconfig.get_paths()["stdlib"])
    copied: list[Path] = []
    for src in sources:
        rel = src.relative_to(base) if src.is_relative_to(base) else Path(src.name)
        target = dest / prefix / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, target)
        copied.append(target)
    kinds = sorted(GENERATORS)
    planted: list[Planted] = []
    hosts = rng.sample(copied, min(len(copied), count))
    for index in range(count):
        kind = kinds[index % len(kinds)]
        fake = GENERATORS[kind](rng)
        if fake.filename is not None:
            folder = dest / prefix / "deploy" / f"{kind}-{index}"
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / fake.filename
            path.write_bytes(fake.content if fake.content is not None
                             else ("\n".join(fake.lines) + "\n").encode())
            first = fake.offset + 1 if fake.content is None else 0
        else:
            path = hosts[index % len(hosts)]
            first = _insert(path, fake.lines, rng) + fake.offset
        rel = path.relative_to(dest).as_posix()
        last = first + max(fake.span, 1) - 1 if first else 0
        planted.append(Planted(kind, rel, first, last, fake.secret, fake.rules))
        for also_kind, offset, secret, rules in fake.also:
            line = first - fake.offset + offset
            planted.append(Planted(also_kind, rel, line, line, secret, rules))
    return planted


def _insert(path: Path, lines: tuple[str, ...], rng: random.Random) -> int:
    """Insert `lines` at a random line boundary of `path`; the 1-based line of the first."""
    text = path.read_bytes().split(b"\n")
    at = rng.randint(0, max(0, len(text) - 1))
    text[at:at] = [line.encode() for line in lines]
    path.write_bytes(b"\n".join(text))
    return at + 1


def match_findings(planted: list[Planted], found: Iterator[tuple[str, int | None, str]]
                   ) -> tuple[dict[str, list[int]], list[tuple[str, int | None, str]]]:
    """Per planted kind [hits, total], and the findings that match nothing planted (FPs)."""
    per_kind: dict[str, list[int]] = {}
    for p in planted:
        per_kind.setdefault(p.kind, [0, 0])[1] += 1
    seen: set[int] = set()
    false_positives = []
    by_path: dict[str, list[tuple[int, Planted]]] = {}
    for i, p in enumerate(planted):
        by_path.setdefault(p.path, []).append((i, p))
    for path, line, rule in found:
        hit = None
        for i, p in by_path.get(path, []):
            lines_ok = (p.line == 0 and not line) or (line is not None and p.line <= line
                                                      <= p.end_line)
            if lines_ok and rule in p.rules:
                hit = i
                break
        if hit is None:
            false_positives.append((path, line, rule))
        elif hit not in seen:
            seen.add(hit)
            per_kind[planted[hit].kind][0] += 1
    return per_kind, false_positives
