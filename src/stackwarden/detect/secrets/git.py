"""Scan a git repository's history: the lines every commit added, through the secret engine.

`git rev-list` names the commits (one branch, all branches, `--since`); `git diff-tree
--stdin -p -U0` streams their patches, which are parsed as bytes: per commit and file the
added lines are joined into one chunk, with a map from chunk lines to file lines, and
scanned once. A commit git cannot read (a broken or missing object) becomes a warning and
the scan resumes with the next commit. Commits are split across worker processes.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from stackwarden.core.errors import UsageError
from stackwarden.core.forking import can_fork, forked_map
from stackwarden.core.models import Skipped
from stackwarden.detect.secrets.detector import hit_to_finding
from stackwarden.detect.secrets.directory import SecretScanResult
from stackwarden.detect.secrets.engine import Engine
from stackwarden.detect.secrets.model import RuleSet
from stackwarden.detect.secrets.rules import load_ruleset

_MARK = b"\x1e"  # starts each commit header in diff-tree's output
_FORMAT = "--format=%x1e%H%x1f%an <%ae>%x1f%aI%x1f%s"
_PARALLEL_MIN_COMMITS = 200


@dataclass(frozen=True, slots=True)
class GitOptions:
    """Which history to scan."""

    branch: str | None = None  # default: HEAD
    all_branches: bool = False  # every ref (branches, tags, remotes)
    since: str | None = None  # anything `git rev-list --since` accepts
    git: str = "git"


@dataclass(frozen=True, slots=True)
class _Commit:
    sha: str
    author: str
    date: str
    subject: str


def scan_git_history(repo: str | Path, *, options: GitOptions = GitOptions(),
                     ruleset: RuleSet | None = None, configs: Sequence[str | Path] = (),
                     show_secrets: bool = False, engine: Engine | None = None,
                     workers: int | None = None) -> SecretScanResult:
    """Every secret added by a commit of `repo`'s history (commit, author, date, file, line)."""
    started = time.perf_counter()
    root = Path(repo)
    _check_repository(root, options.git)
    if engine is None:
        engine = Engine(ruleset if ruleset is not None else load_ruleset(configs))
    result = SecretScanResult(warnings=list(engine.warnings))
    commits = _rev_list(root, options, result)
    workers = max(1, min(workers or os.cpu_count() or 1, len(commits) // 100 or 1))
    if workers > 1 and len(commits) >= _PARALLEL_MIN_COMMITS and can_fork():
        size = -(-len(commits) // workers)
        slices = [commits[i:i + size] for i in range(0, len(commits), size)]
        global _JOB
        _JOB = (root, options.git, engine, show_secrets)
        try:
            for part in forked_map(_scan_slice, slices, workers):
                _merge(result, part)
        finally:
            _JOB = None
    else:
        _merge(result, _scan_commits(root, options.git, commits, engine, show_secrets))
    result.seconds = time.perf_counter() - started
    result.sort()
    return result


_JOB: tuple[Path, str, Engine, bool] | None = None  # inherited by forked workers


def _scan_slice(commits: list[str]) -> SecretScanResult:
    assert _JOB is not None
    root, git, engine, show = _JOB
    return _scan_commits(root, git, commits, engine, show)


def _merge(result: SecretScanResult, part: SecretScanResult) -> None:
    result.findings.extend(part.findings)
    result.skipped.extend(part.skipped)
    result.warnings.extend(part.warnings)
    result.files += part.files
    result.bytes += part.bytes
    result.commits += part.commits


def _check_repository(root: Path, git: str) -> None:
    if not root.is_dir():
        raise UsageError("not a directory (a git repository is needed)", source=str(root))
    try:
        done = subprocess.run([git, "-C", str(root), "rev-parse", "--git-dir"], cwd=root,
                              capture_output=True, timeout=60, check=False)
    except FileNotFoundError:
        raise UsageError(f"{git!r} is not installed (needed to read git history)") from None
    except subprocess.TimeoutExpired:
        raise UsageError("git did not answer within 60 s", source=str(root)) from None
    if done.returncode != 0:
        raise UsageError(f"not a git repository: {_first_line(done.stderr)}", source=str(root))


def _rev_list(root: Path, options: GitOptions, result: SecretScanResult) -> list[str]:
    command = [options.git, "-C", str(root), "rev-list"]
    if options.since:
        command.append(f"--since={options.since}")
    if options.all_branches:
        command.append("--all")
    else:
        command += [options.branch or "HEAD", "--"]
    done = subprocess.run(command, cwd=root, capture_output=True, check=False)
    commits = [line.decode("ascii", "replace") for line in done.stdout.split()]
    if done.returncode != 0:
        message = _first_line(done.stderr)
        if not commits and ("unknown revision" in message or "bad revision" in message
                            or "ambiguous argument" in message):
            if options.branch is None and not options.all_branches:
                return []  # an empty repository: HEAD points at no commit yet
            raise UsageError(f"git rev-list: {message}", source=str(root))
        result.warnings.append(f"{root}: git rev-list stopped early ({message}); scanning the "
                               f"{len(commits)} commits it listed")
    return commits


def _reason(stderr: bytes) -> str:
    """git's `fatal:` line (the cause) when there is one, else its first line."""
    lines = stderr.decode("utf-8", "replace").strip().splitlines()
    fatal = [line for line in lines if line.startswith("fatal:")]
    return (fatal or lines or ["no message"])[0]


def _first_line(stderr: bytes) -> str:
    text = stderr.decode("utf-8", "replace").strip()
    return text.splitlines()[0] if text else "no message"


def _scan_commits(root: Path, git: str, commits: list[str], engine: Engine, show: bool
                  ) -> SecretScanResult:
    """Scan `commits` in one diff-tree process, restarting after any commit git cannot read."""
    out = SecretScanResult()
    position = 0
    while position < len(commits):
        seen, error = _stream(root, git, commits[position:], engine, show, out)
        if error is None:
            break
        # The failing commit is the last one whose header we saw if it fails alone,
        # otherwise the one after it.
        index = position + max(seen - 1, 0)
        if seen and not _diff_fails(root, git, commits[index]):
            index += 1
        index = min(index, len(commits) - 1)
        out.warnings.append(f"commit {commits[index]}: git could not read it ({error}); "
                            "skipped, the rest of the history is scanned")
        out.skipped.append(_skip(commits[index], error))
        position = index + 1
    return out


def _skip(commit: str, error: str) -> Skipped:
    return Skipped(f"commit {commit}", f"unreadable git objects: {error}", "secret")


def _diff_fails(root: Path, git: str, commit: str) -> bool:
    done = subprocess.run([git, "-C", str(root), "diff-tree", "-p", "--root", "-r", commit],
                          cwd=root, capture_output=True, check=False)
    return done.returncode != 0


def _stream(root: Path, git: str, commits: list[str], engine: Engine, show: bool,
            out: SecretScanResult) -> tuple[int, str | None]:
    """Scan one diff-tree run; (commit headers seen, error message or None)."""
    command = [git, "-C", str(root), "-c", "core.quotePath=false", "diff-tree", "--stdin",
               "-p", "-U0", "-r", "--root", "--no-color", "--no-ext-diff", "--no-textconv",
               "--no-renames", _FORMAT]
    proc = subprocess.Popen(command, cwd=root, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    writer = threading.Thread(target=_feed, args=(proc.stdin, commits), daemon=True)
    writer.start()
    seen = 0
    try:
        for commit, path, chunk, line_map in _parse(proc.stdout):
            if path is None:
                seen += 1
                out.commits += 1
                continue
            _scan_chunk(engine, commit, path, chunk, line_map, show, out)
    finally:
        proc.stdout.close()
        writer.join()
        stderr = proc.stderr.read()
        code = proc.wait()
    if code != 0:
        return seen, _reason(stderr)
    return seen, None


def _feed(pipe: IO[bytes], commits: list[str]) -> None:
    """Write the commit ids to git's stdin (in a thread: git's output is read meanwhile)."""
    try:
        for index in range(0, len(commits), 256):
            pipe.write(("\n".join(commits[index:index + 256]) + "\n").encode())
        pipe.close()
    except OSError:
        pass  # git exited early (a broken object); its stderr says why


def _scan_chunk(engine: Engine, commit: _Commit, path: str, chunk: bytes,
                line_map: list[int], show: bool, out: SecretScanResult) -> None:
    out.files += 1
    out.bytes += len(chunk)
    outcome = engine.scan(chunk, path, commit.sha)
    if outcome.skipped and outcome.skipped != "binary":
        out.skipped.append(Skipped(f"{path} @ {commit.sha}", outcome.skipped, "secret"))
    extra = {"author": commit.author, "date": commit.date, "message": commit.subject[:200]}
    out.findings.extend(hit_to_finding(hit, chunk, path=path, show_secrets=show,
                                       commit=commit.sha, line_map=line_map, extra=extra)
                        for hit in outcome.hits)


def _parse(stream: IO[bytes]) -> Iterator[tuple[_Commit, str | None, bytes,
                                                            list[int]]]:
    """Yield (commit, None, …) per commit header and (commit, path, added, map) per file."""
    commit: _Commit | None = None
    path: str | None = None
    added: list[bytes] = []
    line_map: list[int] = []
    next_line = 0
    in_hunk = False
    for raw in stream:
        if in_hunk:
            first = raw[:1]
            if first == b"+":
                added.append(raw[1:])
                line_map.append(next_line)
                next_line += 1
                continue
            if first in (b"-", b" ", b"\\"):
                continue
            in_hunk = False
        if raw.startswith(b"@@ "):
            next_line = _hunk_start(raw)
            in_hunk = path is not None
        elif raw.startswith(_MARK):
            if commit is not None and path is not None and added:
                yield commit, path, b"".join(added), line_map
            fields = raw[1:].rstrip(b"\n").decode("utf-8", "replace").split("\x1f")
            fields += [""] * (4 - len(fields))
            commit, path, added, line_map = _Commit(*fields[:4]), None, [], []
            yield commit, None, b"", []
        elif raw.startswith(b"diff --git "):
            if commit is not None and path is not None and added:
                yield commit, path, b"".join(added), line_map
            path, added, line_map = None, [], []
        elif raw.startswith(b"+++ "):
            target = raw[4:].rstrip(b"\n")
            if target.endswith(b"\t"):
                target = target[:-1]  # git marks names containing spaces with a tab
            path = None if target == b"/dev/null" else _unquote(target)[2:]  # drop "b/"
    if commit is not None and path is not None and added:
        yield commit, path, b"".join(added), line_map


def _hunk_start(header: bytes) -> int:
    """The new-file line number a hunk's added lines start at (`@@ -a,b +c,d @@`)."""
    try:
        new = header.split(b" ")[2]  # "+c,d"
        return int(new[1:].split(b",")[0]) or 1
    except (IndexError, ValueError):
        return 1


_ESCAPES = {b"n": b"\n", b"t": b"\t", b'"': b'"', b"\\": b"\\", b"a": b"\a", b"b": b"\b",
            b"f": b"\f", b"r": b"\r", b"v": b"\v"}


def _unquote(text: bytes) -> str:
    """git's C-style quoted path (`"b/with \\"quote\\""`) as text."""
    if not (text.startswith(b'"') and text.endswith(b'"')):
        return text.decode("utf-8", "surrogateescape")
    body, out, i = text[1:-1], bytearray(), 0
    while i < len(body):
        if body[i:i + 1] == b"\\" and i + 1 < len(body):
            nxt = body[i + 1:i + 2]
            if nxt.isdigit():
                out.append(int(body[i + 1:i + 4], 8))
                i += 4
                continue
            out += _ESCAPES.get(nxt, nxt)
            i += 2
            continue
        out += body[i:i + 1]
        i += 1
    return bytes(out).decode("utf-8", "surrogateescape")
