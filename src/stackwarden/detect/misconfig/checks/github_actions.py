"""GitHub Actions checks: pinning, untrusted checkouts, script injection, secrets, token
permissions, runners."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from stackwarden.detect.misconfig.checks import CRITICAL, HIGH, LOW, MEDIUM, check
from stackwarden.detect.misconfig.checks.util import (
    PIPE_TO_SHELL,
    as_list,
    hit,
    is_true,
    secret_assignment,
)
from stackwarden.detect.misconfig.model import Document, Hit

GHA = "github-actions"
HARDENING = "https://docs.github.com/en/actions/security-for-github-actions/security-guides/"
SHA = re.compile(r"^[0-9a-f]{40}$")
FIRST_PARTY = ("actions/", "github/")
UNTRUSTED = re.compile(
    r"\$\{\{\s*(?:github\.event\.(?:issue\.(?:title|body)|pull_request\.(?:title|body|"
    r"head\.(?:ref|label|repo\.default_branch))|comment\.body|review\.body|review_comment\.body|"
    r"pages\.[^}]*?\.page_name|commits\.[^}]*?\.(?:message|author\.(?:email|name))|"
    r"head_commit\.(?:message|author\.(?:email|name))|discussion\.(?:title|body)|"
    r"workflow_run\.(?:head_branch|head_commit\.message|display_title))|github\.head_ref)"
    r"[^}]*\}\}")
PR_HEAD = re.compile(r"github\.event\.(?:pull_request\.head\.(?:sha|ref)|workflow_run\.head_"
                     r"(?:sha|branch))|github\.head_ref|refs/pull/")


def _triggers(doc: Document) -> set[str]:
    on = doc.body.get("on", doc.body.get(True))  # PyYAML-loaded dicts read `on:` as True
    if isinstance(on, str):
        return {on}
    if isinstance(on, list):
        return {str(t) for t in on}
    if isinstance(on, dict):
        return {str(t) for t in on}
    return set()


def _jobs(doc: Document) -> Iterator[tuple[str, dict[str, Any]]]:
    jobs = doc.body.get("jobs")
    if isinstance(jobs, dict):
        for name, job in jobs.items():
            if isinstance(job, dict):
                yield str(name), job


def _steps(doc: Document) -> Iterator[tuple[str, Any, int, dict[str, Any]]]:
    for name, job in _jobs(doc):
        steps = job.get("steps")
        for index, step in enumerate(as_list(steps)):
            if isinstance(step, dict):
                yield name, steps, index, step


def _unpinned(doc: Document) -> Iterator[Hit]:
    places: list[tuple[str, Any, Any, str]] = []
    for job_name, _, _, step in _steps(doc):
        if isinstance(step.get("uses"), str):
            places.append((job_name, step, "uses", step["uses"]))
    for job_name, job_body in _jobs(doc):
        if isinstance(job_body.get("uses"), str):
            places.append((job_name, job_body, "uses", job_body["uses"]))
    for job, node, key, uses in places:
        if uses.startswith("./"):
            continue
        if uses.startswith("docker://"):
            if "@sha256:" not in uses:
                yield hit(f"job {job} runs container action {uses} without a digest", node, key,
                          f"{job}:{uses}")
            continue
        action, _, ref = uses.partition("@")
        if action.lower().startswith(FIRST_PARTY):
            continue
        if not SHA.match(ref):
            yield hit(f"job {job} uses {uses}: third-party action not pinned to a commit SHA",
                      node, key, f"{job}:{uses}")


def _untrusted_checkout(doc: Document) -> Iterator[Hit]:
    if not _triggers(doc) & {"pull_request_target", "workflow_run"}:
        return
    for job, _, _, step in _steps(doc):
        uses = str(step.get("uses", ""))
        ref = str((step.get("with") or {}).get("ref", "")) if isinstance(step.get("with"),
                                                                         dict) else ""
        if uses.startswith("actions/checkout") and PR_HEAD.search(ref):
            yield hit(f"job {job} checks out the pull request's code in a privileged "
                      "pull_request_target/workflow_run context", step, "with",
                      f"{job}:checkout")


def _injection(doc: Document) -> Iterator[Hit]:
    for job, _, _, step in _steps(doc):
        scripts = [("run", step.get("run"))]
        if str(step.get("uses", "")).startswith("actions/github-script") and \
                isinstance(step.get("with"), dict):
            scripts.append(("with", step["with"].get("script")))
        for key, script in scripts:
            if isinstance(script, str):
                match = UNTRUSTED.search(script)
                if match:
                    yield hit(f"job {job} expands {match.group(0)} straight into a script",
                              step, key, f"{job}:{match.group(0)}")


def _env_blocks(doc: Document) -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(doc.body.get("env"), dict):
        yield "workflow", doc.body["env"]
    for name, job in _jobs(doc):
        if isinstance(job.get("env"), dict):
            yield f"job {name}", job["env"]
    for name, _, index, step in _steps(doc):
        if isinstance(step.get("env"), dict):
            yield f"job {name} step {index + 1}", step["env"]
        if isinstance(step.get("with"), dict):
            yield f"job {name} step {index + 1} inputs", step["with"]


def _plain_secret(doc: Document) -> Iterator[Hit]:
    for where, env in _env_blocks(doc):
        for key, value in env.items():
            if secret_assignment(key, value):
                yield hit(f"{where}: {key} is a credential written in the workflow", env, key,
                          f"{where}:{key}")


def _write_all(doc: Document) -> Iterator[Hit]:
    if doc.body.get("permissions") == "write-all":
        yield hit("workflow token has write-all permissions", doc.body, "permissions",
                  "workflow")
    for name, job in _jobs(doc):
        if job.get("permissions") == "write-all":
            yield hit(f"job {name} token has write-all permissions", job, "permissions", name)


def _no_permissions(doc: Document) -> Iterator[Hit]:
    if "permissions" in doc.body:
        return
    jobs = list(_jobs(doc))
    if jobs and not all("permissions" in job for _, job in jobs):
        yield hit("no permissions block: the token gets the repository's default "
                  "(often write) permissions", doc.body, subject="permissions")


def _self_hosted(doc: Document) -> Iterator[Hit]:
    if not _triggers(doc) & {"pull_request", "pull_request_target"}:
        return
    for name, job in _jobs(doc):
        labels = [str(x) for x in as_list(job.get("runs-on"))]
        if "self-hosted" in labels:
            yield hit(f"job {name} runs pull request code on a self-hosted runner", job,
                      "runs-on", name)


def _unsecure_commands(doc: Document) -> Iterator[Hit]:
    for where, env in _env_blocks(doc):
        if is_true(env.get("ACTIONS_ALLOW_UNSECURE_COMMANDS")):
            yield hit(f"{where}: ACTIONS_ALLOW_UNSECURE_COMMANDS re-enables set-env/add-path",
                      env, "ACTIONS_ALLOW_UNSECURE_COMMANDS", where)


def _pipe_to_shell(doc: Document) -> Iterator[Hit]:
    for job, _, index, step in _steps(doc):
        if isinstance(step.get("run"), str) and PIPE_TO_SHELL.search(step["run"]):
            yield hit(f"job {job} pipes a downloaded script into a shell", step, "run",
                      f"{job}:{index}")


def _inherit(doc: Document) -> Iterator[Hit]:
    for name, job in _jobs(doc):
        uses = job.get("uses")
        if job.get("secrets") == "inherit" and isinstance(uses, str) and \
                not uses.startswith("./"):
            yield hit(f"job {name} passes every secret to external workflow {uses}", job,
                      "secrets", name)


W = ("workflow",)
CHECKS = (
    check("SW-GHA-001", "Action not pinned to a commit SHA", MEDIUM, GHA, _unpinned,
          description="Tags and branches of third-party actions can be moved to malicious "
                      "code (tj-actions/changed-files, 2025).",
          remediation="Pin `uses:` to a full 40-character commit SHA (comment the version).",
          references=(HARDENING + "security-hardening-for-github-actions",), kinds=W),
    check("SW-GHA-002", "Privileged workflow checks out pull request code", CRITICAL, GHA,
          _untrusted_checkout,
          description="pull_request_target and workflow_run run with secrets and a write "
                      "token; building the PR's code there hands both to the PR author.",
          remediation="Use `pull_request` for untrusted code, or never run the checked-out "
                      "code in the privileged job.",
          references=(("https://securitylab.github.com/resources/github-actions-preventing-"
                      "pwn-requests/"),), kinds=W),
    check("SW-GHA-003", "Script injection from event data", HIGH, GHA, _injection,
          description="Titles, bodies, branch names and commit messages are attacker-"
                      "controlled; `${{ }}` pastes them into the shell script unescaped.",
          remediation="Pass the value through an environment variable and quote it "
                      "(`env: TITLE: ${{ github.event.issue.title }}` then \"$TITLE\").",
          references=(HARDENING + "security-hardening-for-github-actions"
                      "#understanding-the-risk-of-script-injections",), kinds=W),
    check("SW-GHA-004", "Credential written in the workflow", HIGH, GHA, _plain_secret,
          description="Workflow files are readable by everyone with repository access and "
                      "kept in history.", remediation="Use `${{ secrets.NAME }}`.",
          references=(("https://docs.github.com/en/actions/security-for-github-actions/"
                      "security-guides/using-secrets-in-github-actions"),), kinds=W),
    check("SW-GHA-005", "Token with write-all permissions", MEDIUM, GHA, _write_all,
          description="Any step (or compromised action) can push code, create releases and "
                      "change settings.",
          remediation="Grant the specific scopes needed (`contents: read`, …).",
          references=(("https://docs.github.com/en/actions/writing-workflows/"
                      "choosing-what-your-workflow-does/controlling-permissions-for-"
                      "github_token"),), kinds=W),
    check("SW-GHA-006", "No token permissions declared", LOW, GHA, _no_permissions,
          description="Without `permissions:` the token gets the repository default, which "
                      "may be read-write.",
          remediation="Add `permissions: contents: read` at the top and widen per job.",
          references=(("https://docs.github.com/en/actions/writing-workflows/"
                      "choosing-what-your-workflow-does/controlling-permissions-for-"
                      "github_token"),), kinds=W),
    check("SW-GHA-007", "Pull request code on a self-hosted runner", MEDIUM, GHA, _self_hosted,
          description="Code from a fork runs on your infrastructure and can persist there.",
          remediation="Use GitHub-hosted or ephemeral runners for pull requests.",
          references=(HARDENING + "security-hardening-for-github-actions"
                      "#hardening-for-self-hosted-runners",), kinds=W),
    check("SW-GHA-008", "Unsecure workflow commands enabled", HIGH, GHA, _unsecure_commands,
          description="set-env and add-path let log output inject environment variables "
                      "(CVE-2020-15228).",
          remediation="Remove ACTIONS_ALLOW_UNSECURE_COMMANDS; use $GITHUB_ENV.",
          references=(("https://github.blog/changelog/2020-10-01-github-actions-deprecating-"
                      "set-env-and-add-path-commands/"),), kinds=W),
    check("SW-GHA-009", "Remote script piped into a shell", MEDIUM, GHA, _pipe_to_shell,
          description="`curl … | sh` runs whatever the server returns, with the job's "
                      "secrets.", remediation="Download, verify a checksum, then run.",
          kinds=W),
    check("SW-GHA-010", "All secrets passed to an external workflow", LOW, GHA, _inherit,
          description="`secrets: inherit` hands every repository secret to the called "
                      "workflow.", remediation="Pass only the secrets the workflow needs.",
          references=(("https://docs.github.com/en/actions/sharing-automations/"
                      "reusing-workflows"),), kinds=W),
)
