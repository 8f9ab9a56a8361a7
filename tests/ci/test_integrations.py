"""What ships for CI systems: the GitHub composite action, the GitLab template, the pre-commit
hooks. Checked as YAML with the keys each system needs, and their shell run with a stand-in
`stackwarden` that records its arguments and exits with a chosen code."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from stackwarden.report import SCAN_FORMAT_NAMES

REPO = Path(__file__).resolve().parents[2]
FAKE = """#!/bin/sh
printf '%s\\n' "$@" > "$FAKE_ARGS"
cat > "$FAKE_STDIN"
for a in "$@"; do case "$a" in *:*.sarif|*:*.json|*:*.xml|*:*.html) f="${a#*:}"; echo x > "$f";; esac; done
exit "${FAKE_CODE:-0}"
"""


@pytest.fixture()
def fake(tmp_path: Path) -> dict[str, str]:
    if shutil.which("bash") is None:
        pytest.skip("no bash")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "stackwarden").write_text(FAKE)
    (bin_dir / "stackwarden").chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}",
            "FAKE_ARGS": str(tmp_path / "args"), "FAKE_STDIN": str(tmp_path / "stdin")}


def args_of(env: dict[str, str]) -> list[str]:
    return Path(env["FAKE_ARGS"]).read_text().splitlines()


# --- GitHub Actions ------------------------------------------------------------------------------

def action() -> dict[str, Any]:
    return yaml.safe_load((REPO / "action.yml").read_text())


def test_action_is_a_composite_action() -> None:
    doc = action()
    assert doc["name"] and doc["description"]
    assert doc["runs"]["using"] == "composite"
    assert doc["inputs"]["target"]["required"] is True
    assert {"fail-on", "exit-code", "policy", "ignore-file", "vex", "sarif-file",
            "upload-sarif"} <= set(doc["inputs"])
    assert {"exit-code", "gate", "sarif-file"} <= set(doc["outputs"])
    for key, output in doc["outputs"].items():
        assert output["value"].startswith("${{ steps."), key
    steps = doc["runs"]["steps"]
    uses = [s["uses"].split("@")[0] for s in steps if "uses" in s]
    assert uses == ["actions/setup-python", "github/codeql-action/upload-sarif"]
    for step in steps:
        if "run" in step:
            assert step["shell"] == "bash", step["name"]  # composite steps must say
            # Inputs never pasted into scripts (script injection): only through env.
            assert "${{" not in step["run"], step["name"]
    install = next(s for s in steps if s["name"] == "Install StackWarden")
    assert 'pip install' in install["run"] and "$ACTION_PATH" in install["run"]
    assert install["env"]["ACTION_PATH"] == "${{ github.action_path }}"
    upload = next(s for s in steps if s.get("uses", "").startswith("github/codeql-action"))
    assert upload["with"]["sarif_file"] == "${{ steps.scan.outputs.sarif-file }}"
    assert "always()" in upload["if"]
    gate = steps[-1]
    assert gate["if"] == "${{ steps.scan.outputs.gate == 'failed' }}"


@pytest.mark.parametrize(("code", "step_code", "gate"), [(0, 0, "passed"), (1, 0, "failed"),
                                                         (5, 0, "failed"), (2, 2, None),
                                                         (3, 3, None)])
def test_action_scan_step(tmp_path: Path, fake: dict[str, str], code: int, step_code: int,
                          gate: str | None) -> None:
    step = next(s for s in action()["runs"]["steps"] if s.get("id") == "scan")
    out = tmp_path / "github_output"
    out.write_text("")
    env = {**fake, **{k: "" for k in step["env"]}, "GITHUB_OUTPUT": str(out),
           "FAKE_CODE": str(code), "SW_TARGET": "registry:ghcr.io/org/app:1",
           "SW_SARIF": "stackwarden.sarif", "SW_FAIL_ON": "high",
           "SW_VEX": "vex/a.json\nvex/b c.json\n", "SW_FORMATS": "json:r.json\n",
           "SW_EXTRA": "--ignore-unfixed\n"}
    done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
                          env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == step_code, done.stderr
    assert args_of(fake) == ["scan", "registry:ghcr.io/org/app:1", "--quiet", "--format", "table",
                             "--format", "sarif:stackwarden.sarif", "--fail-on", "high",
                             "--vex", "vex/a.json", "--vex", "vex/b c.json", "--format",
                             "json:r.json", "--ignore-unfixed"]
    outputs = dict(line.split("=", 1) for line in out.read_text().splitlines())
    assert outputs["exit-code"] == str(code)
    assert outputs.get("gate") == gate
    assert outputs["sarif-file"] == str(tmp_path / "stackwarden.sarif")


# --- GitLab CI -----------------------------------------------------------------------------------

def gitlab() -> dict[str, Any]:
    return yaml.safe_load((REPO / "ci" / "gitlab" / "stackwarden.gitlab-ci.yml").read_text())


def test_gitlab_template_declares_both_reports() -> None:
    doc = gitlab()
    job = doc["stackwarden_container_scanning"]
    reports = job["artifacts"]["reports"]
    assert reports == {"container_scanning": "gl-container-scanning-report.json",
                       "junit": "stackwarden-junit.xml"}
    assert job["artifacts"]["when"] == "always"  # reports even when the gate fails
    assert set(reports.values()) <= set(job["artifacts"]["paths"])
    script = "\n".join(job["script"])
    formats = re.findall(r"--format ([a-z]+)(?::(\S+))?", script)
    assert all(fmt in SCAN_FORMAT_NAMES for fmt, _ in formats)
    written = {file for _, file in formats if file}
    assert set(job["artifacts"]["paths"]) == written
    assert "STACKWARDEN_TARGET" in doc["variables"]
    assert job["image"] == "$STACKWARDEN_PYTHON_IMAGE"


@pytest.mark.parametrize(("target", "login"), [
    ("registry:registry.gitlab.example/group/app:abc", True),
    ("docker-archive:image.tar", False),
])
@pytest.mark.parametrize("code", [0, 1, 3])
def test_gitlab_script(tmp_path: Path, fake: dict[str, str], target: str, login: bool,
                       code: int) -> None:
    job = gitlab()["stackwarden_container_scanning"]
    env = {**fake, "FAKE_CODE": str(code), "STACKWARDEN_TARGET": target,
           "CI_REGISTRY": "registry.gitlab.example", "CI_REGISTRY_USER": "gitlab-ci-token",
           "CI_REGISTRY_PASSWORD": "s3cret", "STACKWARDEN_FAIL_ON": "critical",
           "STACKWARDEN_ARGS": "--ignore-unfixed --max-db-age 3", "STACKWARDEN_SCANNERS": "",
           "STACKWARDEN_EXIT_CODE": "", "STACKWARDEN_POLICY": ""}
    done = subprocess.run(["sh", "-e", "-c", "\n".join(job["script"])], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == code, done.stderr  # the job fails exactly when the scan does
    args = args_of(fake)
    assert args[:2] == ["scan", target]
    assert args[-3:] == ["--ignore-unfixed", "--max-db-age", "3"]
    assert ("--password-stdin" in args) is login
    assert "s3cret" not in args  # the password goes through stdin, never the command line
    assert Path(fake["FAKE_STDIN"]).read_text().strip() == "s3cret"


# --- pre-commit ----------------------------------------------------------------------------------

def hooks() -> list[dict[str, Any]]:
    return yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())


def test_pre_commit_hooks_are_well_formed() -> None:
    for hook in hooks():
        assert {"id", "name", "entry", "language"} <= set(hook)
        assert hook["language"] == "python"  # pre-commit pip-installs this repository
        assert hook["pass_filenames"] is True
        assert shlex.split(hook["entry"])[:2] == ["stackwarden", "scan"]
    assert [h["id"] for h in hooks()] == ["stackwarden", "stackwarden-secrets"]


def _parse(args: list[str]) -> Any:
    import typer

    from stackwarden.cli.main import app

    command = typer.main.get_command(app).commands["scan"]  # type: ignore[attr-defined]
    return command.make_context("scan", args)


@pytest.mark.parametrize("hook", hooks(), ids=lambda h: h["id"])
def test_pre_commit_entry_options_parse(hook: dict[str, Any]) -> None:
    """The options exist and their values are valid (formats, severity); the scanners named
    are checked once the secret and misconfig scanners are registered."""
    from stackwarden.policy import GatePolicy, with_flags
    from stackwarden.report import parse_outputs

    ctx = _parse(shlex.split(hook["entry"])[2:] + ["app/settings.py"])
    assert ctx.params["targets"] == ["app/settings.py"]
    parse_outputs(ctx.params["output_formats"])
    assert with_flags(GatePolicy(), fail_on=ctx.params["fail_on"]).rules


def test_pre_commit_passes_several_files() -> None:
    ctx = _parse(shlex.split(hooks()[0]["entry"])[2:] + ["a.py", "b.yaml"])
    assert ctx.params["targets"] == ["a.py", "b.yaml"]
