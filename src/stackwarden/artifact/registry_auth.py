"""Registry credentials (flags, Docker's config.json, credential helpers) and auth challenges."""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stackwarden.core.errors import AuthenticationError, UsageError

DOCKER_HUB_KEY = "https://index.docker.io/v1/"
HUB_HOSTS = ("registry-1.docker.io", "docker.io", "index.docker.io", "registry.hub.docker.com")
MAX_CONFIG_BYTES = 4 * 1024 * 1024
MAX_HELPER_OUTPUT = 64 * 1024
TOKEN_USERNAME = "<token>"  # a credential helper's way of saying "Secret is an identity token"


@dataclass(frozen=True)
class Credentials:
    """What we authenticate with; secrets are kept out of repr (and so out of logs)."""

    username: str | None = None
    password: str | None = field(default=None, repr=False)
    identity_token: str | None = field(default=None, repr=False)
    source: str = ""  # where they came from, for messages: "flags", a file, a helper

    def basic(self) -> str | None:
        """The `Authorization: Basic` value, when there is a username and password."""
        if self.username is None or self.password is None:
            return None
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode()


def docker_config_file(explicit: Path | None = None) -> Path:
    """The Docker CLI config in use: `explicit` (file or directory), `$DOCKER_CONFIG`, ~/.docker."""
    if explicit is not None:
        return explicit / "config.json" if explicit.is_dir() else explicit
    env = os.environ.get("DOCKER_CONFIG")
    base = Path(env) if env else Path.home() / ".docker"
    return base / "config.json"


def config_keys(host: str) -> list[str]:
    """The keys a Docker config may file `host`'s credentials under, most specific first."""
    if host in HUB_HOSTS:
        return [DOCKER_HUB_KEY, "index.docker.io", "docker.io", "registry-1.docker.io",
                "https://registry-1.docker.io"]
    return [host, f"https://{host}", f"http://{host}", f"https://{host}/v1/",
            f"https://{host}/v2/", f"http://{host}/v1/", f"http://{host}/v2/"]


def _read_config(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise UsageError(f"cannot read the Docker config: {exc.strerror}", source=str(path)) \
            from exc
    if len(data) > MAX_CONFIG_BYTES:
        raise UsageError("the Docker config is implausibly large", source=str(path))
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise UsageError(f"the Docker config is not valid JSON: {exc}", source=str(path)) \
            from exc
    if not isinstance(doc, dict):
        raise UsageError("the Docker config is not a JSON object", source=str(path))
    return doc


def _from_auths_entry(entry: Any, source: str) -> Credentials | None:
    if not isinstance(entry, dict):
        return None
    if isinstance(entry.get("identitytoken"), str) and entry["identitytoken"]:
        return Credentials(username=entry.get("username") or None,
                           identity_token=entry["identitytoken"], source=source)
    auth = entry.get("auth")
    if isinstance(auth, str) and auth:
        try:
            user, sep, password = base64.b64decode(auth, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            # The message never repeats the value: it is a credential.
            raise UsageError("an `auth` entry is not base64 of user:password", source=source)
        if not sep:
            raise UsageError("an `auth` entry is not base64 of user:password", source=source)
        return Credentials(user, password, source=source)
    name, secret = entry.get("username"), entry.get("password")
    if isinstance(name, str) and isinstance(secret, str) and name:
        return Credentials(name, secret, source=source)
    return None


def run_credential_helper(helper: str, server: str, timeout: float) -> Credentials | None:
    """Ask `docker-credential-<helper> get` for `server`'s credentials (None when it has none)."""
    name = f"docker-credential-{helper}"
    if not re.fullmatch(r"[A-Za-z0-9._-]+", helper):
        raise UsageError(f"credential helper name {helper!r} is not a plain name")
    exe = shutil.which(name)
    if exe is None:
        raise AuthenticationError(f"the Docker config names credential helper {name}, which is "
                                  "not on PATH", source=server)
    try:
        done = subprocess.run([exe, "get"], input=server.encode(), capture_output=True,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise AuthenticationError(f"{name} did not answer within {timeout:g}s",
                                  source=server) from exc
    except OSError as exc:
        raise AuthenticationError(f"cannot run {name}: {exc.strerror}", source=server) from exc
    out = done.stdout[:MAX_HELPER_OUTPUT]
    if done.returncode != 0:
        said = (out or done.stderr[:MAX_HELPER_OUTPUT]).decode(errors="replace").strip()
        if "credentials not found" in said.lower():
            return None
        first = said.splitlines()[0][:200] if said else f"exit status {done.returncode}"
        raise AuthenticationError(f"{name} failed: {first}", source=server)
    try:
        doc = json.loads(out)
    except (ValueError, UnicodeDecodeError) as exc:
        raise AuthenticationError(f"{name} answered something that is not JSON",
                                  source=server) from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("Secret"), str):
        raise AuthenticationError(f"{name} answered without a Secret", source=server)
    user = doc.get("Username") if isinstance(doc.get("Username"), str) else None
    if user == TOKEN_USERNAME:
        return Credentials(identity_token=doc["Secret"], source=name)
    return Credentials(user, doc["Secret"], source=name)


def find_credentials(host: str, *, username: str | None = None, password: str | None = None,
                     docker_config: Path | None = None, timeout: float = 30.0
                     ) -> Credentials | None:
    """Credentials for `host`: the flags, else the Docker config (helpers, auths, store)."""
    if username is not None or password is not None:
        if not username or password is None:
            raise UsageError("a registry username needs a password, and a password a username")
        return Credentials(username, password, source="the given username and password")
    path = docker_config_file(docker_config)
    config = _read_config(path)
    keys = config_keys(host)
    helpers = config.get("credHelpers")
    if isinstance(helpers, dict):
        for key in keys:
            if isinstance(helpers.get(key), str) and helpers[key]:
                return run_credential_helper(helpers[key], key, timeout)
    auths = config.get("auths")
    if isinstance(auths, dict):
        for key in keys:
            found = _from_auths_entry(auths.get(key), f"{path} (auths {key})")
            if found is not None:
                return found
    store = config.get("credsStore")
    if isinstance(store, str) and store:
        return run_credential_helper(store, keys[0], timeout)
    return None


@dataclass(frozen=True)
class Challenge:
    """One `WWW-Authenticate` challenge: its scheme (lower case) and parameters."""

    scheme: str
    params: dict[str, str]


_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')


def parse_challenges(header: str) -> list[Challenge]:
    """Parse `WWW-Authenticate` (RFC 7235): `Bearer realm="...",service="...",scope="..."`."""
    challenges: list[Challenge] = []
    pos, size = 0, len(header)
    while pos < size:
        while pos < size and header[pos] in " \t,":
            pos += 1
        match = _TOKEN.match(header, pos)
        if match is None:
            break
        word, pos = match.group(0), match.end()
        rest = header[pos:].lstrip(" \t")
        if rest.startswith("=") and challenges and not rest.startswith("=="):
            pos = size - len(rest) + 1
            while pos < size and header[pos] in " \t":
                pos += 1
            quoted = _QUOTED.match(header, pos)
            if quoted is not None:
                value = re.sub(r"\\(.)", r"\1", quoted.group(1))
                pos = quoted.end()
            else:
                plain = _TOKEN.match(header, pos)
                value = plain.group(0) if plain else ""
                pos = plain.end() if plain else pos
            challenges[-1].params[word.lower()] = value
        else:
            challenges.append(Challenge(word.lower(), {}))
    return challenges
