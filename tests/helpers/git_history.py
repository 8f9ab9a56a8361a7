"""Generated git histories with planted secrets, built with `git fast-import` (fast).

Each commit edits one to three files taken from real source text (the standard library);
every `secret_every`-th commit also adds a line holding a fake secret. The ground truth
records the commit, file and line of each planted secret.
"""

from __future__ import annotations

import random
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.helpers.fake_secrets import GENERATORS
from tests.helpers.planted import stdlib_sources

_INLINE = ("github-pat", "npm-token", "slack-bot", "stripe-live", "gcp-api-key", "sendgrid",
           "gitlab-pat", "postgres-uri", "openai", "dockerhub-pat")


@dataclass(frozen=True)
class PlantedCommit:
    """A secret added by one generated commit."""

    mark: int
    sha: str
    path: str
    line: int
    secret: str
    rules: frozenset[str]


def make_history(repo: Path, *, commits: int, seed: int = 11, secret_every: int = 25,
                 files: int = 300, author: str = "Ann Dev <ann@acme.io>"
                 ) -> list[PlantedCommit]:
    """Create `repo` with `commits` commits on `main`; return the planted secrets."""
    rng = random.Random(seed)
    sources = stdlib_sources()[:max(files, 1)]
    texts = [src.read_bytes() for src in sources]
    names = [f"src/{src.parent.name}/{src.name}" for src in sources]
    current: dict[str, list[bytes]] = {}
    stream: list[bytes] = []
    planted: list[tuple[int, str, int, str, frozenset[str]]] = []
    for index in range(1, commits + 1):
        changes: list[tuple[str, bytes]] = []
        for _ in range(rng.randint(1, 3)):
            pick = rng.randrange(len(names))
            name = names[pick]
            lines = current.get(name) or texts[pick].split(b"\n")[: rng.randint(20, 200)]
            start = rng.randrange(len(lines) + 1)
            donor = texts[rng.randrange(len(texts))].split(b"\n")
            at = rng.randrange(max(1, len(donor) - 30))
            lines = lines[:start] + donor[at:at + rng.randint(1, 30)] + lines[start:]
            current[name] = lines
            changes.append((name, b"\n".join(lines)))
        if index % secret_every == 0:
            fake = GENERATORS[_INLINE[(index // secret_every) % len(_INLINE)]](rng)
            name = f"config/settings_{index}.py"
            body = [b"# generated settings", *(line.encode() for line in fake.lines)]
            current[name] = body
            changes.append((name, b"\n".join(body)))
            planted.append((index, name, 2 + fake.offset, fake.secret, fake.rules))
        stream.append(_commit(index, changes, author, 1_700_000_000 + index * 3600))
    repo.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], cwd=repo, check=True)
    marks = repo / ".git" / "marks"
    subprocess.run(["git", "-C", str(repo), "fast-import", "--quiet",
                    f"--export-marks={marks}"], cwd=repo, input=b"".join(stream), check=True)
    sha = dict(line.split(" ", 1) for line in marks.read_text().splitlines() if line)
    subprocess.run(["git", "-C", str(repo), "checkout", "-q", "-f", "main"], cwd=repo,
                   check=True)
    return [PlantedCommit(mark, sha[f":{mark}"], path, line, secret, rules)
            for mark, path, line, secret, rules in planted]


def _commit(mark: int, changes: list[tuple[str, bytes]], author: str, when: int) -> bytes:
    message = f"change {mark}".encode()
    out = [b"commit refs/heads/main\n", f"mark :{mark}\n".encode(),
           f"author {author} {when} +0000\n".encode(),
           f"committer {author} {when} +0000\n".encode(),
           f"data {len(message)}\n".encode() + message + b"\n"]
    if mark > 1:
        out.append(f"from :{mark - 1}\n".encode())
    for name, content in changes:
        out.append(f"M 100644 inline {name}\ndata {len(content)}\n".encode() + content + b"\n")
    out.append(b"\n")
    return b"".join(out)
