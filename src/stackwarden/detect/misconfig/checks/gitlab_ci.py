"""GitLab CI checks: includes, images, variables, Docker-in-Docker, scripts."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from stackwarden.detect.misconfig.checks import HIGH, LOW, MEDIUM, check
from stackwarden.detect.misconfig.checks.util import (
    PIPE_TO_SHELL,
    as_list,
    hit,
    image_reference_parts,
    is_true,
    secret_assignment,
)
from stackwarden.detect.misconfig.model import Document, Hit

GL = "gitlab-ci"
DOCS = "https://docs.gitlab.com/ci/yaml/"
KEYWORDS = frozenset({"stages", "variables", "include", "default", "workflow", "image",
                      "services", "before_script", "after_script", "cache", "pages", "spec"})
SHA = re.compile(r"^[0-9a-f]{40}$")
INSECURE = re.compile(r"\bcurl\b[^;&|\n]{0,300}\s(?:-k|--insecure)\b|--no-check-certificate\b|"
                      r"sslVerify\s+false\b|--tls-verify=false\b|--insecure-registry\b")


def _jobs(doc: Document) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, job in doc.body.items():
        if name not in KEYWORDS and isinstance(job, dict):
            yield str(name), job


def _scopes(doc: Document) -> Iterator[tuple[str, dict[str, Any]]]:
    """The pipeline itself, `default:`, and every job: places that take image/services/…"""
    yield "pipeline", doc.body
    if isinstance(doc.body.get("default"), dict):
        yield "default", doc.body["default"]
    for name, job in _jobs(doc):
        yield f"job {name}", job


def _unpinned_include(doc: Document) -> Iterator[Hit]:
    includes = doc.body.get("include")
    for index, item in enumerate(as_list(includes)):
        node = includes if isinstance(includes, list) else doc.body
        key = index if isinstance(includes, list) else "include"
        if isinstance(item, str) and item.startswith(("http://", "https://")):
            yield hit(f"remote include {item} can change without review", node, key, item)
        elif isinstance(item, dict):
            if isinstance(item.get("remote"), str):
                yield hit(f"remote include {item['remote']} can change without review", node,
                          key, item["remote"])
            elif item.get("project") is not None and not SHA.match(str(item.get("ref", ""))):
                yield hit(f"include from project {item['project']} is not pinned to a commit "
                          f"SHA (ref {item.get('ref', 'default branch')})", node, key,
                          str(item["project"]))


def _image_name(value: Any) -> str | None:
    name = value.get("name") if isinstance(value, dict) else value
    return name if isinstance(name, str) else None


def _unpinned_image(doc: Document) -> Iterator[Hit]:
    for where, scope in _scopes(doc):
        candidates = [("image", scope.get("image"))] + [("services", s) for s in
                                                        as_list(scope.get("services"))]
        for key, value in candidates:
            image = _image_name(value)
            if image is None or "$" in image:
                continue
            _, tag, digest = image_reference_parts(image)
            if digest is None and tag in (None, "latest"):
                yield hit(f"{where} uses {image} ('latest' or no tag)", scope, key,
                          f"{where}:{image}")


def _variables(doc: Document) -> Iterator[tuple[str, dict[str, Any]]]:
    for where, scope in _scopes(doc):
        if isinstance(scope.get("variables"), dict):
            yield where, scope["variables"]


def _plain_secret(doc: Document) -> Iterator[Hit]:
    for where, variables in _variables(doc):
        for key, value in variables.items():
            if isinstance(value, dict):
                value = value.get("value")
            if secret_assignment(key, value):
                yield hit(f"{where}: variable {key} is a credential written in the pipeline",
                          variables, key, f"{where}:{key}")


def _dind(doc: Document) -> Iterator[Hit]:
    for where, scope in _scopes(doc):
        for service in as_list(scope.get("services")):
            image = _image_name(service) or ""
            if image.startswith(("docker:", "docker@")) and "dind" in image:
                yield hit(f"{where} uses Docker-in-Docker ({image}), which needs a privileged "
                          "runner", scope, "services", f"{where}:dind")


def _dind_no_tls(doc: Document) -> Iterator[Hit]:
    for where, variables in _variables(doc):
        if "DOCKER_TLS_CERTDIR" in variables and variables["DOCKER_TLS_CERTDIR"] in ("", None):
            yield hit(f"{where}: DOCKER_TLS_CERTDIR is empty, so the Docker daemon listens "
                      "without TLS", variables, "DOCKER_TLS_CERTDIR", where)


def _scripts(doc: Document) -> Iterator[tuple[str, dict[str, Any], str, str]]:
    for where, scope in _scopes(doc):
        for key in ("before_script", "script", "after_script"):
            for line in as_list(scope.get(key)):
                if isinstance(line, str):
                    yield where, scope, key, line


def _pipe_to_shell(doc: Document) -> Iterator[Hit]:
    for where, scope, key, line in _scripts(doc):
        if PIPE_TO_SHELL.search(line):
            yield hit(f"{where} pipes a downloaded script into a shell", scope, key,
                      f"{where}:{key}")


def _insecure(doc: Document) -> Iterator[Hit]:
    for where, variables in _variables(doc):
        if is_true(variables.get("GIT_SSL_NO_VERIFY")):
            yield hit(f"{where}: GIT_SSL_NO_VERIFY disables TLS checks for git", variables,
                      "GIT_SSL_NO_VERIFY", where)
    for where, scope, key, line in _scripts(doc):
        if INSECURE.search(line):
            yield hit(f"{where} disables TLS verification in {key}", scope, key,
                      f"{where}:{key}:tls")


P = ("pipeline",)
CHECKS = (
    check("SW-GL-001", "Unpinned include", MEDIUM, GL, _unpinned_include,
          description="Remote or unpinned project includes can change the pipeline (and "
                      "steal its variables) without a change in this repository.",
          remediation="Include project files at a commit SHA (`ref: <sha>`); vendor remote "
                      "files.", references=(DOCS + "#include",), kinds=P),
    check("SW-GL-002", "Image uses 'latest' or no tag", LOW, GL, _unpinned_image,
          description="Jobs run whatever the tag points at on the day.",
          remediation="Pin images to a version (and digest).",
          references=(DOCS + "#image",), kinds=P),
    check("SW-GL-003", "Credential written in the pipeline", HIGH, GL, _plain_secret,
          description="Pipeline files are readable by everyone with repository access and "
                      "kept in history.",
          remediation="Use masked, protected CI/CD variables or an external secret store.",
          references=("https://docs.gitlab.com/ci/variables/",), kinds=P),
    check("SW-GL-004", "Privileged Docker-in-Docker", MEDIUM, GL, _dind,
          description="The dind service only works on a privileged runner; a job on it can "
                      "take over the runner host.",
          remediation="Build with rootless tools (BuildKit rootless, kaniko, buildah) on an "
                      "unprivileged runner.",
          references=("https://docs.gitlab.com/ci/docker/using_docker_build/",), kinds=P),
    check("SW-GL-005", "Docker-in-Docker without TLS", MEDIUM, GL, _dind_no_tls,
          description="An empty DOCKER_TLS_CERTDIR makes the daemon listen on plain TCP "
                      "2375.", remediation="Keep DOCKER_TLS_CERTDIR=/certs.",
          references=("https://docs.gitlab.com/ci/docker/using_docker_build/",), kinds=P),
    check("SW-GL-006", "Remote script piped into a shell", MEDIUM, GL, _pipe_to_shell,
          description="`curl … | sh` runs whatever the server returns, with the job's "
                      "variables.", remediation="Download, verify a checksum, then run.",
          kinds=P),
    check("SW-GL-007", "TLS verification disabled", HIGH, GL, _insecure,
          description="Fetched code and artefacts can be replaced in transit.",
          remediation="Keep TLS verification on; install the CA certificate instead.",
          kinds=P),
)
