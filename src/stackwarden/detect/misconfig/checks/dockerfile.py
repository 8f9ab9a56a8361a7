"""Dockerfile checks: users, base images, ADD, remote scripts, secrets, package managers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from stackwarden.detect.misconfig.checks import HIGH, LOW, MEDIUM, check
from stackwarden.detect.misconfig.checks.util import (
    PIPE_TO_SHELL,
    image_reference_parts,
    is_literal_secret,
    is_secret_name,
    looks_like_token,
    secret_assignment,
)
from stackwarden.detect.misconfig.controls import docker
from stackwarden.detect.misconfig.model import Document, Hit

DF = "dockerfile"
REF = "https://docs.docker.com/reference/dockerfile/"
BEST = "https://docs.docker.com/build/building/best-practices/"
_ARCHIVE = re.compile(r"\.(?:tar|tar\.gz|tgz|tar\.bz2|tbz2?|tar\.xz|txz|tar\.zst)$", re.IGNORECASE)
_URL = re.compile(r"^(?:https?|ftp)://|^git@|\.git(?:#.*)?$", re.IGNORECASE)
_APT_INSTALL = re.compile(r"\bapt(?:-get)?\s+(?:-\S+\s+)*install\b")
_APT_UPDATE = re.compile(r"\bapt(?:-get)?\s+(?:-\S+\s+)*update\b")
_APT_UPGRADE = re.compile(r"\bapt(?:-get)?\s+(?:-\S+\s+)*(?:dist-upgrade|upgrade|full-upgrade)\b")
_APT_CLEAN = re.compile(r"rm\s+(?:-\S+\s+)*[^;&|]*?/var/lib/apt/lists")
_YUM_INSTALL = re.compile(r"\b(?:yum|dnf|microdnf|zypper)\s+(?:-\S+\s+)*(?:install|in)\b")
_YUM_CLEAN = re.compile(r"\b(?:yum|dnf|microdnf|zypper)\s+(?:-\S+\s+)*clean\b|"
                        r"rm\s+(?:-\S+\s+)*[^;&|]*?/var/cache/(?:yum|dnf|zypp)")
_APK_ADD = re.compile(r"\bapk\s+(?:-\S+\s+)*add\b")
_SUDO = re.compile(r"(?:^|[;&|(]\s*|\s)sudo\s")
_CHMOD_WORLD = re.compile(r"\bchmod\s+(?:-\S+\s+)*(?:0?[0-7]?77[67]|[ugoa]*o[ugoa]*\+[rwxX]*w|"
                          r"a\+[rwxX]*w)\b")
_INSECURE_FETCH = re.compile(
    r"\bcurl\b[^;&|\n]{0,300}\s(?:-k|--insecure)\b|--no-check-certificate\b|"
    r"--allow-unauthenticated\b|--trusted-host\b|--nogpgcheck\b|gpgcheck=0\b|"
    r"strict-ssl\s+false\b|sslVerify\s+false\b|--disable-tls\b|--allow-untrusted\b")
_SECRET_FILE = re.compile(
    r"(?:^|/)(?:id_rsa|id_dsa|id_ecdsa|id_ed25519|\.env|\.netrc|\.npmrc|\.pypirc|\.git-credentials"
    r"|credentials(?:\.json)?|\.aws/credentials|\.docker/config\.json|[^/]*\.pem|[^/]*\.key|"
    r"[^/]*\.p12|[^/]*\.pfx)$", re.IGNORECASE)


def _final(body: dict[str, Any]) -> dict[str, Any]:
    return body["stages"][-1]


def _at(item: dict[str, Any], message: str, subject: str = "") -> Hit:
    return Hit(message, item["line"], item["end_line"], subject or f"line:{item['original']}")


def _cmds(stage_or_body: dict[str, Any], *names: str) -> Iterator[dict[str, Any]]:
    for item in stage_or_body["instructions"]:
        if item["cmd"] in names:
            yield item


def _runs(doc: Document) -> Iterator[dict[str, Any]]:
    return _cmds(doc.body, "RUN")


def _no_user(doc: Document) -> Iterator[Hit]:
    final = _final(doc.body)
    if not any(True for _ in _cmds(final, "USER")):
        yield Hit("the final stage sets no USER, so the container runs as root", final["line"],
                  final["line"], "final-stage")


def _root_user(doc: Document) -> Iterator[Hit]:
    users = list(_cmds(_final(doc.body), "USER"))
    words = " ".join(users[-1]["args"]).split() if users else []
    if words and words[0].split(":", 1)[0] in ("root", "0"):
        yield _at(users[-1], f"the last USER is {words[0]!r}")


def _from_images(doc: Document) -> Iterator[tuple[dict[str, Any], str]]:
    aliases = set()
    for stage in doc.body["stages"]:
        image = stage["image"]
        if image.lower() != "scratch" and image.lower() not in aliases and "$" not in image:
            yield stage, image
        if stage["alias"]:
            aliases.add(stage["alias"].lower())


def _latest(doc: Document) -> Iterator[Hit]:
    for stage, image in _from_images(doc):
        _, tag, digest = image_reference_parts(image)
        if tag == "latest" and not digest:
            yield Hit(f"base image {image} uses the mutable tag 'latest'", stage["line"],
                      stage["line"], f"from:{image}")


def _untagged(doc: Document) -> Iterator[Hit]:
    for stage, image in _from_images(doc):
        _, tag, digest = image_reference_parts(image)
        if tag is None and digest is None:
            yield Hit(f"base image {image} has no tag (pulls 'latest')", stage["line"],
                      stage["line"], f"from:{image}")


def _no_digest(doc: Document) -> Iterator[Hit]:
    for stage, image in _from_images(doc):
        if image_reference_parts(image)[2] is None:
            yield Hit(f"base image {image} is not pinned by digest", stage["line"],
                      stage["line"], f"from:{image}")


def _sources(item: dict[str, Any]) -> list[str]:
    args = [a for a in item["args"] if not a.startswith("<<")]
    return args[:-1] if len(args) > 1 else []


def _add_local(doc: Document) -> Iterator[Hit]:
    for item in _cmds(doc.body, "ADD"):
        sources = _sources(item)
        if sources and not any(_URL.search(s) or _ARCHIVE.search(s) for s in sources):
            yield _at(item, "ADD copies local files; COPY is explicit and has no side effects")


def _add_url(doc: Document) -> Iterator[Hit]:
    for item in _cmds(doc.body, "ADD"):
        if any(f.startswith("--checksum=") for f in item["flags"]):
            continue
        for source in _sources(item):
            if _URL.search(source):
                yield _at(item, f"ADD downloads {source} without a checksum", f"add:{source}")


def _pipe_to_shell(doc: Document) -> Iterator[Hit]:
    for item in _runs(doc):
        if PIPE_TO_SHELL.search(item["script"]):
            yield _at(item, "a downloaded script is piped straight into a shell")


def _env_secret(doc: Document) -> Iterator[Hit]:
    for item in _cmds(doc.body, "ENV"):
        args = item["args"]
        for name, value in zip(args[::2], args[1::2], strict=False):
            if secret_assignment(name, value):
                yield _at(item, f"ENV {name} holds a credential in clear text", f"env:{name}")


def _arg_secret_default(doc: Document) -> Iterator[Hit]:
    for item in _cmds(doc.body, "ARG"):
        for arg in item["args"]:
            name, sep, value = arg.partition("=")
            if sep and (secret_assignment(name, value) or looks_like_token(value)):
                yield _at(item, f"ARG {name} has a credential as its default", f"arg:{name}")


def _arg_secret(doc: Document) -> Iterator[Hit]:
    for item in _cmds(doc.body, "ARG"):
        for arg in item["args"]:
            name, sep, value = arg.partition("=")
            if is_secret_name(name) and not (sep and is_literal_secret(value)):
                yield _at(item, f"build argument {name} is a secret: build arguments are kept "
                                f"in the image history", f"arg:{name}")


def _no_healthcheck(doc: Document) -> Iterator[Hit]:
    final = _final(doc.body)
    checks = list(_cmds(final, "HEALTHCHECK"))
    if not checks:
        yield Hit("the final stage has no HEALTHCHECK", final["line"], final["line"],
                  "final-stage")
    elif checks[-1]["args"] and checks[-1]["args"][0].upper() == "NONE":
        yield _at(checks[-1], "HEALTHCHECK NONE disables the base image's health check")


def _uses_cache_mount(item: dict[str, Any]) -> bool:
    return any("type=cache" in f for f in item["flags"])


def _apt_no_clean(doc: Document) -> Iterator[Hit]:
    for item in _runs(doc):
        script = item["script"]
        if _APT_INSTALL.search(script) and not _APT_CLEAN.search(script) \
                and not _uses_cache_mount(item):
            yield _at(item, "apt-get install without removing /var/lib/apt/lists in the same "
                            "RUN")


def _apt_update_alone(doc: Document) -> Iterator[Hit]:
    for item in _runs(doc):
        script = item["script"]
        if _APT_UPDATE.search(script) and not _APT_INSTALL.search(script) and \
                not _APT_UPGRADE.search(script):
            yield _at(item, "apt-get update alone: a later cached layer installs from a stale "
                            "package index")


def _sudo(doc: Document) -> Iterator[Hit]:
    for item in _runs(doc):
        if _SUDO.search(" " + item["script"]):
            yield _at(item, "sudo in a RUN instruction")


def _no_recommends(doc: Document) -> Iterator[Hit]:
    for item in _runs(doc):
        script = item["script"]
        if re.search(r"\bapt-get\s+(?:-\S+\s+)*install\b", script) and \
                "--no-install-recommends" not in script:
            yield _at(item, "apt-get install without --no-install-recommends")


def _upgrade(doc: Document) -> Iterator[Hit]:
    for item in _runs(doc):
        if _APT_UPGRADE.search(item["script"]):
            yield _at(item, "apt-get upgrade in the image: rebuild on an updated base image "
                            "instead")


def _ports(item: dict[str, Any]) -> Iterator[int | None]:
    for arg in item["args"]:
        text = arg.split("/", 1)[0]
        low, _, high = text.partition("-")
        try:
            for port in range(int(low), int(high or low) + 1):
                yield port
                if port > 70000:
                    break
        except ValueError:
            if "$" not in text:
                yield None


def _expose_ssh(doc: Document) -> Iterator[Hit]:
    for item in _cmds(doc.body, "EXPOSE"):
        if 22 in set(_ports(item)):
            yield _at(item, "EXPOSE 22: an SSH server inside a container", "expose:22")


def _expose_invalid(doc: Document) -> Iterator[Hit]:
    for item in _cmds(doc.body, "EXPOSE"):
        if any(p is None or not 0 < p <= 65535 for p in _ports(item)):
            yield _at(item, f"EXPOSE {' '.join(item['args'])} is not a valid port")


def _duplicate_entrypoints(doc: Document) -> Iterator[Hit]:
    for stage in doc.body["stages"]:
        for name in ("CMD", "ENTRYPOINT"):
            items = list(_cmds(stage, name))
            for item in items[:-1]:
                yield _at(item, f"{name} overridden by a later {name} in the same stage")


def _world_writable(doc: Document) -> Iterator[Hit]:
    for item in _runs(doc):
        if _CHMOD_WORLD.search(item["script"]):
            yield _at(item, "chmod makes files world-writable")
    for item in _cmds(doc.body, "COPY", "ADD"):
        if any(re.fullmatch(r"--chmod=0?[0-7]?7[67]7?", f) or f in ("--chmod=777", "--chmod=666")
               for f in item["flags"]):
            yield _at(item, "COPY/ADD --chmod makes files world-writable")


def _yum_no_clean(doc: Document) -> Iterator[Hit]:
    for item in _runs(doc):
        script = item["script"]
        if _YUM_INSTALL.search(script) and not _YUM_CLEAN.search(script) \
                and not _uses_cache_mount(item):
            yield _at(item, "yum/dnf/zypper install without cleaning the package cache")


def _apk_cache(doc: Document) -> Iterator[Hit]:
    for item in _runs(doc):
        script = item["script"]
        if _APK_ADD.search(script) and "--no-cache" not in script \
                and "/var/cache/apk" not in script and not _uses_cache_mount(item):
            yield _at(item, "apk add without --no-cache")


def _insecure_fetch(doc: Document) -> Iterator[Hit]:
    for item in _runs(doc):
        match = _INSECURE_FETCH.search(item["script"])
        if match:
            yield _at(item, f"TLS or signature verification disabled ({match.group(0).strip()})")


def _secret_files(doc: Document) -> Iterator[Hit]:
    for item in _cmds(doc.body, "COPY", "ADD"):
        if any(f.startswith("--from=") for f in item["flags"]):
            continue
        for source in _sources(item):
            if _SECRET_FILE.search(source.rstrip("/")):
                yield _at(item, f"{item['cmd']} puts {source} (a credential file) into the image",
                          f"copy:{source}")


def _insecure_run(doc: Document) -> Iterator[Hit]:
    for item in _runs(doc):
        if "--security=insecure" in item["flags"]:
            yield _at(item, "RUN --security=insecure runs the build step without sandboxing")


def _relative_workdir(doc: Document) -> Iterator[Hit]:
    for item in _cmds(doc.body, "WORKDIR"):
        path = item["args"][0] if item["args"] else ""
        if path and not path.startswith(("/", "$", "C:", "c:", "\\")):
            yield _at(item, f"WORKDIR {path} is relative")


_SEC = "Secrets in Dockerfiles end up in image layers and history, readable by anyone who can "
_SEC += "pull the image."
CHECKS = (
    check("SW-DF-001", "Final stage sets no USER", MEDIUM, DF, _no_user,
          description="Without a USER instruction the container runs as root, so a compromise "
                      "of the process is a compromise of root inside the container.",
          remediation="Create an unprivileged user and add `USER <name>` to the final stage.",
          references=(REF + "#user",), controls=(docker("4.1"),)),
    check("SW-DF-002", "Final USER is root", HIGH, DF, _root_user,
          description="The last USER instruction of the final stage switches to root.",
          remediation="End the final stage with `USER` set to an unprivileged user.",
          references=(REF + "#user",), controls=(docker("4.1"),)),
    check("SW-DF-003", "Base image uses the 'latest' tag", MEDIUM, DF, _latest,
          description="'latest' moves: builds are not reproducible and can pick up an "
                      "unreviewed image.",
          remediation="Use a specific version tag, ideally with a digest (`image:1.2@sha256:…`).",
          references=(BEST + "#from",), controls=(docker("4.2"),)),
    check("SW-DF-004", "Base image has no tag", MEDIUM, DF, _untagged,
          description="A FROM without tag or digest pulls 'latest'.",
          remediation="Give every FROM an explicit version tag or digest.",
          references=(BEST + "#from",), controls=(docker("4.2"),)),
    check("SW-DF-005", "Base image not pinned by digest", LOW, DF, _no_digest,
          description="Tags can be re-pointed; only a digest names exactly one image.",
          remediation="Pin base images by digest (`FROM image:tag@sha256:…`) and let a bot "
                      "update the pin.",
          references=(BEST + "#pin-base-image-versions",), controls=(docker("4.2"),)),
    check("SW-DF-006", "ADD used for local files", LOW, DF, _add_local,
          description="ADD also fetches URLs and unpacks archives; COPY only copies.",
          remediation="Use COPY for local files.",
          references=(BEST + "#add-or-copy",), controls=(docker("4.9"),)),
    check("SW-DF-007", "ADD downloads a remote file without a checksum", MEDIUM, DF, _add_url,
          description="ADD from a URL or git repository trusts whatever the remote serves.",
          remediation="Download with a pinned checksum (`ADD --checksum=sha256:…`) or fetch and "
                      "verify in a RUN step.",
          references=(REF + "#add---checksum",), controls=(docker("4.9"), docker("4.11"))),
    check("SW-DF-008", "Remote script piped into a shell", HIGH, DF, _pipe_to_shell,
          description="`curl … | sh` runs unverified code from the network at build time.",
          remediation="Download to a file, verify its checksum or signature, then run it.",
          references=(BEST,), controls=(docker("4.11"),)),
    check("SW-DF-009", "Secret in ENV", HIGH, DF, _env_secret,
          description=_SEC, remediation="Pass secrets at run time (orchestrator secrets) or at "
          "build time with `RUN --mount=type=secret`.",
          references=("https://docs.docker.com/build/building/secrets/",),
          controls=(docker("4.10"),)),
    check("SW-DF-010", "Secret as ARG default", HIGH, DF, _arg_secret_default,
          description=_SEC, remediation="Remove the default and use `RUN --mount=type=secret`.",
          references=("https://docs.docker.com/build/building/secrets/",),
          controls=(docker("4.10"),)),
    check("SW-DF-011", "Secret passed as a build argument", MEDIUM, DF, _arg_secret,
          description="Build argument values are recorded in the image history.",
          remediation="Use BuildKit secrets (`RUN --mount=type=secret,id=…`) instead of ARG.",
          references=("https://docs.docker.com/build/building/secrets/",),
          controls=(docker("4.10"),)),
    check("SW-DF-012", "No HEALTHCHECK", LOW, DF, _no_healthcheck,
          description="Without a health check the engine cannot tell a hung container from a "
                      "healthy one.",
          remediation="Add a HEALTHCHECK to the final stage.",
          references=(REF + "#healthcheck",), controls=(docker("4.6"),)),
    check("SW-DF-013", "apt-get lists not removed", LOW, DF, _apt_no_clean,
          description="Package lists left in a layer bloat the image and go stale.",
          remediation="End the RUN with `rm -rf /var/lib/apt/lists/*` (or use a cache mount).",
          references=(BEST + "#apt-get",), controls=(docker("4.3"),)),
    check("SW-DF-014", "apt-get update alone", MEDIUM, DF, _apt_update_alone,
          description="An update in its own layer is cached; later installs use an old index "
                      "and miss security fixes.",
          remediation="Run `apt-get update && apt-get install …` in one RUN.",
          references=(BEST + "#apt-get",), controls=(docker("4.7"),)),
    check("SW-DF-015", "sudo used in RUN", MEDIUM, DF, _sudo,
          description="sudo in an image has unpredictable TTY and signal behaviour and "
                      "usually means a privileged user is left in the image.",
          remediation="Run the step as root before switching USER; use gosu at run time if "
                      "needed.", references=(BEST + "#user",)),
    check("SW-DF-016", "apt-get install pulls recommended packages", LOW, DF, _no_recommends,
          description="Recommended packages widen the attack surface without being needed.",
          remediation="Add `--no-install-recommends`.",
          references=(BEST + "#apt-get",), controls=(docker("4.3"),)),
    check("SW-DF-017", "Packages upgraded inside the image", LOW, DF, _upgrade,
          description="`apt-get upgrade` makes builds unreproducible; fixes belong in the base.",
          remediation="Rebuild on a patched base image instead of upgrading in place.",
          references=(BEST + "#apt-get",), controls=(docker("4.4"),)),
    check("SW-DF-018", "SSH port exposed", MEDIUM, DF, _expose_ssh,
          description="Running sshd in a container adds a service to patch and credentials to "
                      "manage; `docker exec` / `kubectl exec` do the job.",
          remediation="Remove the SSH server and `EXPOSE 22`.",
          references=(REF + "#expose",), controls=(docker("5.6"),)),
    check("SW-DF-019", "Invalid port in EXPOSE", LOW, DF, _expose_invalid,
          description="EXPOSE lists a port outside 1-65535 or not a number.",
          remediation="Expose valid ports only.", references=(REF + "#expose",)),
    check("SW-DF-020", "Several CMD or ENTRYPOINT in one stage", LOW, DF, _duplicate_entrypoints,
          description="Only the last CMD/ENTRYPOINT of a stage takes effect; the others mislead.",
          remediation="Keep one CMD and one ENTRYPOINT per stage.",
          references=(REF + "#cmd",)),
    check("SW-DF-021", "World-writable files", MEDIUM, DF, _world_writable,
          description="Files any user can write let a compromised process tamper with code or "
                      "configuration.",
          remediation="Grant write access to the owning user only (e.g. 755/644).",
          controls=(docker("4.8"),)),
    check("SW-DF-022", "yum/dnf/zypper cache not cleaned", LOW, DF, _yum_no_clean,
          description="Package manager caches left in a layer bloat the image.",
          remediation="Run `yum clean all` (or dnf/zypper clean) in the same RUN.",
          controls=(docker("4.3"),)),
    check("SW-DF-023", "apk add without --no-cache", LOW, DF, _apk_cache,
          description="The apk index is left in the layer.",
          remediation="Use `apk add --no-cache`.", controls=(docker("4.3"),)),
    check("SW-DF-024", "TLS or signature verification disabled", HIGH, DF, _insecure_fetch,
          description="Downloads or package installs with verification turned off can be "
                      "tampered with in transit.",
          remediation="Keep TLS and package signature checks on; add the CA certificate "
                      "instead of disabling checks.", controls=(docker("4.11"),)),
    check("SW-DF-025", "Credential file copied into the image", HIGH, DF, _secret_files,
          description="Private keys, .env files and registry credentials copied into a layer "
                      "stay in the image even if deleted later.",
          remediation="Mount credentials at build time (`RUN --mount=type=secret`) and add "
                      "them to .dockerignore.", controls=(docker("4.10"),)),
    check("SW-DF-026", "RUN --security=insecure", MEDIUM, DF, _insecure_run,
          description="The insecure entitlement runs the build step like a privileged "
                      "container.",
          remediation="Remove `--security=insecure`.", references=(REF + "#run---security",)),
    check("SW-DF-027", "Relative WORKDIR", LOW, DF, _relative_workdir,
          description="A relative WORKDIR depends on the base image's directory.",
          remediation="Use an absolute path.", references=(BEST + "#workdir",)),
)
