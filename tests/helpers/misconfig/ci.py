"""GitHub Actions and GitLab CI plants: each adds a job (or edits the workflow)."""

from __future__ import annotations

import copy
from typing import Any

import yaml

from tests.helpers.misconfig import FileKind, Mutation, Plant, apply_ops

SHA = "b4ffde65f46336ab88eb53be808477a3936bae11"
WORKFLOW: dict[str, Any] = {
    "name": "ci",
    "on": {"push": {"branches": ["main"]}, "pull_request": {}},
    "permissions": {"contents": "read"},
    "jobs": {"build": {"runs-on": "ubuntu-24.04", "steps": [
        {"uses": f"actions/checkout@{SHA}"},
        {"uses": "actions/setup-python@v5", "with": {"python-version": "3.12"}},
        {"run": "make test", "env": {"LOG_LEVEL": "info"}},
    ]}},
}
PIPELINE: dict[str, Any] = {
    "stages": ["build", "test"],
    "default": {"image": f"registry.example.com/ci/python:3.12@sha256:{'aa' * 32}"},
    "variables": {"PIP_CACHE_DIR": "$CI_PROJECT_DIR/.cache/pip"},
    "build": {"stage": "build", "script": ["make build"]},
}


def _job_plant(check_id: str, file_type: str, bad: dict[str, Any], good: dict[str, Any],
               bad_ops: tuple[tuple[Any, ...], ...] | list[tuple[Any, ...]] = (),
               good_ops: tuple[tuple[Any, ...], ...] | list[tuple[Any, ...]] = (),
               group: str = "") -> Plant:
    """Add job j<n> (built from `bad`/`good`) and apply workflow-level operations."""
    def make(job: dict[str, Any], ops: list[tuple[Any, ...]]) -> Mutation:
        def run(model: dict[str, Any], n: int) -> None:
            if job:
                target = model["jobs"] if file_type == "github-actions" else model
                target[f"j{n}"] = copy.deepcopy(job)
            apply_ops(model, list(ops))
        return run
    return Plant(check_id, file_type, make(bad, list(bad_ops)), make(good, list(good_ops)),
                 group)


def _gh(steps: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"runs-on": "ubuntu-24.04", "permissions": {"contents": "read"}, "steps": steps,
            **extra}


GH = "github-actions"
GITHUB_PLANTS = [
    _job_plant("SW-GHA-001", GH, _gh([{"uses": "docker/build-push-action@v6"}]),
               _gh([{"uses": f"docker/build-push-action@{SHA}"}])),
    _job_plant("SW-GHA-002", GH, _gh([{"uses": f"actions/checkout@{SHA}", "with": {
        "ref": "${{ github.event.pull_request.head.sha }}"}}]),
        _gh([{"uses": f"actions/checkout@{SHA}"}]),
        [("set", ("on", "pull_request_target"), {})],
        [("set", ("on", "pull_request_target"), {})], group="trigger"),
    _job_plant("SW-GHA-003", GH, _gh([{"run": 'echo "${{ github.event.issue.title }}"'}]),
               _gh([{"run": 'echo "$TITLE"',
                     "env": {"TITLE": "${{ github.event.issue.title }}"}}])),
    _job_plant("SW-GHA-004", GH, _gh([{"run": "aws s3 ls"}], env={
        "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}),
        _gh([{"run": "aws s3 ls"}], env={
            "AWS_SECRET_ACCESS_KEY": "${{ secrets.AWS_SECRET_ACCESS_KEY }}"})),
    _job_plant("SW-GHA-005", GH, {**_gh([{"run": "make release"}]), "permissions": "write-all"},
               {**_gh([{"run": "make release"}]), "permissions": {"contents": "write"}}),
    _job_plant("SW-GHA-006", GH, {}, {}, [("del", ("permissions",))],
               [("set", ("permissions",), {"contents": "read", "pull-requests": "write"})],
               group="permissions"),
    _job_plant("SW-GHA-007", GH, {**_gh([{"run": "make e2e"}]),
                                  "runs-on": ["self-hosted", "linux"]},
               {**_gh([{"run": "make e2e"}]), "runs-on": ["ubuntu-latest"]}),
    _job_plant("SW-GHA-008", GH, _gh([{"run": "make"}], env={
        "ACTIONS_ALLOW_UNSECURE_COMMANDS": "true"}),
        _gh([{"run": "make"}], env={"ACTIONS_ALLOW_UNSECURE_COMMANDS": "false"})),
    _job_plant("SW-GHA-009", GH, _gh([{"run": "curl -sSL https://example.com/i.sh | bash"}]),
               _gh([{"run": "curl -sSLo i.sh https://example.com/i.sh && sha256sum -c "
                            "i.sha256 && bash i.sh"}])),
    _job_plant("SW-GHA-010", GH, {"uses": f"shop/ci/.github/workflows/deploy.yml@{SHA}",
                                  "secrets": "inherit"},
               {"uses": f"shop/ci/.github/workflows/deploy.yml@{SHA}",
                "secrets": {"TOKEN": "${{ secrets.DEPLOY_TOKEN }}"}}),
]


def _gl(**job: Any) -> dict[str, Any]:
    return {"stage": "test", "script": ["make test"], **job}


GL = "gitlab-ci"
GITLAB_PLANTS = [
    _job_plant("SW-GL-001", GL, {}, {}, [("set", ("include",), [
        {"project": "shop/templates", "file": "/ci.yml", "ref": "main"}])],
        [("set", ("include",), [{"project": "shop/templates", "file": "/ci.yml",
                                 "ref": SHA}])], group="include"),
    _job_plant("SW-GL-002", GL, _gl(image="python:latest"), _gl(image="python:3.12.4")),
    _job_plant("SW-GL-003", GL, _gl(variables={"DB_PASSWORD": "Sup3rS3cret!"}),
               _gl(variables={"DB_PASSWORD_FILE": "/run/secrets/db"})),
    _job_plant("SW-GL-004", GL, _gl(services=["docker:24.0.5-dind"]),
               _gl(services=["postgres:16.2"])),
    _job_plant("SW-GL-005", GL, _gl(variables={"DOCKER_TLS_CERTDIR": ""}),
               _gl(variables={"DOCKER_TLS_CERTDIR": "/certs"})),
    _job_plant("SW-GL-006", GL, _gl(script=["curl -sSL https://example.com/i.sh | sh"]),
               _gl(script=["curl -sSLo i.sh https://example.com/i.sh", "sha256sum -c i.sha",
                           "sh i.sh"])),
    _job_plant("SW-GL-007", GL, _gl(variables={"GIT_SSL_NO_VERIFY": "true"}),
               _gl(variables={"GIT_SSL_NO_VERIFY": "false"})),
]


def _dump(model: dict[str, Any]) -> bytes:
    return yaml.safe_dump(model, sort_keys=False).encode()


GITHUB_KIND = FileKind(GH, lambda: copy.deepcopy(WORKFLOW), _dump,
                       lambda n: ".github/workflows/ci.yml", single_model=True)
GITLAB_KIND = FileKind(GL, lambda: copy.deepcopy(PIPELINE), _dump,
                       lambda n: ".gitlab-ci.yml", single_model=True)
