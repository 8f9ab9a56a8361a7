"""`stackwarden secrets scan`: formats, exit codes, git mode, rule-file errors."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from typer.testing import CliRunner

from stackwarden.cli.main import app

TOKEN = "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"
runner = CliRunner()


def tree(tmp_path: Path) -> Path:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "settings.py").write_text(f'TOKEN = "{TOKEN}"\n')
    (tmp_path / "app" / "clean.py").write_text("print('hello')\n")
    return tmp_path / "app"


def test_json_report(tmp_path: Path) -> None:
    result = runner.invoke(app, ["secrets", "scan", str(tree(tmp_path)), "--format", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["schema_version"] == "1.0" and doc["summary"]["findings"] == 1
    [finding] = doc["findings"]
    assert (finding["kind"], finding["id"], finding["severity"]) == ("secret", "github-pat",
                                                                     "critical")
    assert finding["location"]["path"] == "settings.py" and finding["location"]["line"] == 1
    assert finding["evidence"]["match"] == "ghp_************"
    assert TOKEN not in result.stdout


def test_table_show_secrets_and_fail(tmp_path: Path) -> None:
    result = runner.invoke(app, ["secrets", "scan", str(tree(tmp_path)), "--show-secrets",
                                 "--fail"])
    assert result.exit_code == 1
    assert "github-pat" in result.stdout and TOKEN in result.stdout


def test_git_mode(tmp_path: Path) -> None:
    repo = tree(tmp_path)
    for args in (["init", "-q"], ["add", "."], ["-c", "user.name=A", "-c", "user.email=a@b",
                                                 "commit", "-q", "-m", "x"]):
        subprocess.run(["git", "-C", str(repo), *args], check=True)
    (repo / "settings.py").unlink()
    result = runner.invoke(app, ["secrets", "scan", str(repo), "--git", "-f", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["mode"] == "git" and doc["stats"]["commits"] == 1
    assert doc["findings"][0]["location"]["commit"]


def test_usage_errors(tmp_path: Path) -> None:
    target = str(tree(tmp_path))
    bad = tmp_path / "bad.toml"
    bad.write_text("[[rule]]\nid = 'x'\nregex = '(a'\n")
    result = runner.invoke(app, ["secrets", "scan", target, "--secret-config", str(bad)])
    assert result.exit_code == 2
    assert "bad.toml" in result.output and "rule 'x'" in result.output
    assert runner.invoke(app, ["secrets", "scan", target, "--since", "2020-01-01"]).exit_code == 2
    assert runner.invoke(app, ["secrets", "scan", target, "-f", "xml"]).exit_code == 2


def test_rules_listing() -> None:
    result = runner.invoke(app, ["secrets", "rules", "-f", "json"])
    assert result.exit_code == 0
    rules = json.loads(result.stdout)["rules"]
    assert len(rules) >= 150 and all(r["reference"].startswith("https://") for r in rules)
    table = runner.invoke(app, ["secrets", "rules"])
    assert "github-pat" in table.stdout and f"{len(rules)} rules" in table.stdout
