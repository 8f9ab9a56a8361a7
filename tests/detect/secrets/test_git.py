"""Git history: the lines each commit added, with commit, author, date, file and line."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from stackwarden.core.errors import UsageError
from stackwarden.detect.secrets.engine import Engine
from stackwarden.detect.secrets.git import GitOptions, scan_git_history
from tests.detect.secrets.test_ground_truth import gitleaks_binary
from tests.helpers.git_history import make_history

TOKEN = "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"
DB = "postgresql://app:Zk3mQ9vB2xT7pL4w@db.internal/app"


def git(repo: Path, *args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], cwd=repo, capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, check=False)
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}"
    return done.stdout.strip()


def commit(repo: Path, files: dict[str, str | None], message: str, date: str) -> str:
    for name, text in files.items():
        path = repo / name
        if text is None:
            git(repo, "rm", "-q", name)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        git(repo, "add", name)
    stamp = {"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
    git(repo, "commit", "-q", "-m", message, env=stamp)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture()
def repo(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.name", "Ann Dev")
    git(root, "config", "user.email", "ann@acme.io")
    shas = {
        "init": commit(root, {"app.py": "a = 1\nb = 2\nc = 3\n"}, "init", "2023-01-01T10:00:00Z"),
        "token": commit(root, {"app.py": f'a = 1\nb = 2\nTOKEN = "{TOKEN}"\nc = 3\n'},
                        "add token", "2023-02-01T10:00:00Z"),
        "removed": commit(root, {"app.py": "a = 1\nb = 2\nc = 3\n"}, "remove token",
                          "2023-03-01T10:00:00Z"),
    }
    git(root, "checkout", "-q", "-b", "feature")
    shas["feature"] = commit(root, {'conf/we ird "näme".py': f'x = 1\nDB = "{DB}"\n'}, "db",
                             "2024-01-01T10:00:00Z")
    git(root, "checkout", "-q", "main")
    return root, shas


def test_history_finds_secrets_removed_since(repo: tuple[Path, dict[str, str]],
                                             engine: Engine) -> None:
    root, shas = repo
    result = scan_git_history(root, engine=engine)
    assert result.commits == 3
    assert [(f.id, f.location.path, f.location.line, f.location.commit)
            for f in result.findings] == [("github-pat", "app.py", 3, shas["token"])]
    evidence = result.findings[0].evidence
    assert evidence["author"] == "Ann Dev <ann@acme.io>"
    assert evidence["date"].startswith("2023-02-01T10:00:00")
    assert evidence["message"] == "add token"
    assert TOKEN not in json.dumps(evidence)


def test_branch_all_branches_and_since(repo: tuple[Path, dict[str, str]],
                                      engine: Engine) -> None:
    root, shas = repo
    feature = scan_git_history(root, engine=engine, options=GitOptions(branch="feature"))
    assert {(f.id, f.location.commit) for f in feature.findings} == {
        ("github-pat", shas["token"]), ("postgres-uri-password", shas["feature"])}
    assert ('conf/we ird "näme".py', 2) in {(f.location.path, f.location.line)
                                             for f in feature.findings}
    every = scan_git_history(root, engine=engine, options=GitOptions(all_branches=True))
    assert every.commits == 4 and len(every.findings) == 2
    recent = scan_git_history(root, engine=engine,
                              options=GitOptions(all_branches=True, since="2023-06-01"))
    assert recent.commits == 1 and [f.id for f in recent.findings] == ["postgres-uri-password"]


def test_broken_objects_warn_and_the_rest_continues(tmp_path: Path, engine: Engine) -> None:
    root = tmp_path / "broken"
    planted = make_history(root, commits=30, secret_every=5)
    victim = planted[2]  # its blob is read by this commit only (the file is never edited)
    pack_dir = root / ".git" / "objects" / "pack"  # loosen every object to corrupt one
    packs = [pack.read_bytes() for pack in pack_dir.glob("*.pack")]
    for old in pack_dir.iterdir():
        old.unlink()
    for data in packs:
        subprocess.run(["git", "-C", str(root), "unpack-objects", "-q"], cwd=root, input=data,
                       check=True)
    blob = git(root, "rev-parse", f"{victim.sha}:{victim.path}")
    obj = root / ".git" / "objects" / blob[:2] / blob[2:]
    obj.chmod(0o644)
    obj.write_bytes(b"not zlib")
    for path in root.glob("config/*"):
        path.unlink()  # git must read the blobs, not reuse the work-tree copies
    result = scan_git_history(root, engine=engine)
    assert [s.path for s in result.skipped] == [f"commit {victim.sha}"]
    assert any(victim.sha in w and "git could not read it" in w for w in result.warnings)
    assert result.commits >= 29
    assert {f.location.commit for f in result.findings} == {p.sha for p in planted} - {victim.sha}


def test_not_a_repository_and_empty_repository(tmp_path: Path, engine: Engine) -> None:
    with pytest.raises(UsageError, match="not a git repository"):
        scan_git_history(tmp_path, engine=engine)
    with pytest.raises(UsageError, match="not a directory"):
        scan_git_history(tmp_path / "missing", engine=engine)
    git(tmp_path, "init", "-q")
    assert scan_git_history(tmp_path, engine=engine).findings == []
    with pytest.raises(UsageError, match="rev-list"):
        scan_git_history(tmp_path, engine=engine, options=GitOptions(branch="nope"))


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list]:
    root = tmp_path_factory.mktemp("history") / "repo"
    return root, make_history(root, commits=300, secret_every=10)


def test_generated_history_ground_truth(generated: tuple[Path, list], engine: Engine) -> None:
    root, planted = generated
    for workers in (1, 2):
        result = scan_git_history(root, engine=engine, workers=workers)
        assert result.commits == 300
        found = {(f.location.commit, f.location.path, f.location.line, f.id)
                 for f in result.findings}
        expected = {(p.sha, p.path, p.line) for p in planted}
        assert {(c, p, line) for c, p, line, _ in found} == expected
        assert all(rule in p.rules for c, path, line, rule in found for p in planted
                   if (p.sha, p.path, p.line) == (c, path, line))


def test_every_planted_secret_gitleaks_finds_in_history(generated: tuple[Path, list],
                                                        engine: Engine, tmp_path: Path) -> None:
    root, planted = generated
    report = tmp_path / "gl.json"
    subprocess.run([gitleaks_binary(), "git", str(root), "--no-banner", "--log-level", "error",
                    "--report-format", "json", "--report-path", str(report), "--exit-code", "0"],
                   check=True, timeout=600)
    theirs = {(f["Commit"], f["File"], f["StartLine"]) for f in json.loads(report.read_text())}
    ours = {(f.location.commit, f.location.path, f.location.line)
            for f in scan_git_history(root, engine=engine).findings}
    truth = {(p.sha, p.path, p.line) for p in planted}
    assert theirs & truth <= ours


def test_oversized_additions_are_listed_as_skipped(repo: tuple[Path, dict[str, str]],
                                                   tmp_path: Path) -> None:
    from stackwarden.detect.secrets.rules import load_ruleset
    from tests.detect.secrets.conftest import HS_CACHE

    root, shas = repo
    commit(root, {"big.txt": "x" * 300 + "\n"}, "big", "2023-04-01T10:00:00Z")
    config = tmp_path / "limits.toml"
    config.write_text("[settings]\nmax_file_bytes = 200\n")
    engine = Engine(load_ruleset([config]), cache=HS_CACHE)
    result = scan_git_history(root, engine=engine)
    assert [s.path.split(" @ ")[0] for s in result.skipped] == ["big.txt"]
    assert "200-byte limit" in result.skipped[0].reason
    assert [f.location.commit for f in result.findings] == [shas["token"]]
