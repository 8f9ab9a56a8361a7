"""Registry auth: credential sources, challenges, TLS + htpasswd and token-auth docker-registries."""

from __future__ import annotations

import base64
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stackwarden.artifact import TargetOptions, open_target
from stackwarden.artifact.build import ImageSpec, LayerFile, layer_tar, write_oci_layout
from stackwarden.artifact.registry import RegistryClient, RegistryOptions, push_oci_layout
from stackwarden.artifact.registry_auth import (
    Challenge,
    Credentials,
    find_credentials,
    parse_challenges,
)
from stackwarden.core.errors import AuthenticationError, RegistryError, UsageError
from tests.helpers.registry import (
    Registry,
    TLSFiles,
    TokenServer,
    htpasswd_file,
    make_tls,
    run_registry,
)

USER = "alice"
PASSWORD = "Pa55-w0rd-never-shown"
WRONG = "wr0ng-pa55-never-shown"
REFRESH = "refresh-t0ken-never-shown"
SECRETS = (PASSWORD, WRONG, REFRESH, base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode(),
           base64.b64encode(f"{USER}:{WRONG}".encode()).decode())


@pytest.fixture(autouse=True)
def no_secret_escapes(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch,
                      tmp_path: Path) -> Iterator[None]:
    """Every test: no stray Docker config, and no secret in any log record (DEBUG included)."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("DOCKER_CONFIG", raising=False)
    caplog.set_level(logging.DEBUG)
    yield
    for secret in SECRETS:
        assert secret not in caplog.text


def _assert_clean(error: BaseException) -> None:
    for secret in SECRETS:
        assert secret not in str(error) and secret not in repr(error)


def _auth(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


def _config(tmp_path: Path, doc: dict[str, Any]) -> Path:
    path = tmp_path / "docker" / "config.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))
    return path


def _helper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str,
            answer: dict[str, str] | None, *, fail: str = "") -> Path:
    """A docker-credential-<name> on PATH speaking the helper protocol; returns its request log."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    asked = tmp_path / f"{name}.asked"
    if answer is not None:
        reply = f"cat <<'EOF'\n{json.dumps(answer)}\nEOF"
    else:
        reply = f"echo '{fail or 'credentials not found in native keychain'}'\nexit 1"
    script = bin_dir / f"docker-credential-{name}"
    script.write_text(f'#!/bin/sh\n[ "$1" = get ] || exit 3\nread server\n'
                      f'echo "$server" >> "{asked}"\n{reply}\n')
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return asked


# --- where credentials come from (no registry needed) ------------------------------------------

HOST = "registry.example.com:5000"
CASES: list[tuple[str, dict[str, Any], tuple[str | None, str | None, str | None] | None]] = [
    ("auths base64", {"auths": {HOST: {"auth": _auth(USER, PASSWORD)}}}, (USER, PASSWORD, None)),
    ("auths url key", {"auths": {f"https://{HOST}/v1/": {"auth": _auth(USER, PASSWORD)}}},
     (USER, PASSWORD, None)),
    ("auths fields", {"auths": {HOST: {"username": USER, "password": PASSWORD}}},
     (USER, PASSWORD, None)),
    ("identity token", {"auths": {HOST: {"identitytoken": REFRESH}}}, (None, None, REFRESH)),
    ("other host only", {"auths": {"other.example.com": {"auth": _auth(USER, PASSWORD)}}}, None),
    ("empty entry", {"auths": {HOST: {}}}, None),
    ("empty config", {}, None),
    ("helper", {"credHelpers": {HOST: "fake"}}, (USER, PASSWORD, None)),
    ("helper wins over auths", {"credHelpers": {HOST: "fake"},
                                "auths": {HOST: {"auth": _auth("bob", WRONG)}}},
     (USER, PASSWORD, None)),
    ("store", {"credsStore": "fake", "auths": {HOST: {}}}, (USER, PASSWORD, None)),
    ("auths win over store", {"credsStore": "fake",
                              "auths": {HOST: {"auth": _auth("bob", WRONG)}}}, ("bob", WRONG, None)),
]


@pytest.mark.parametrize(("doc", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_credentials_from_the_docker_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            doc: dict[str, Any], expected: Any) -> None:
    asked = _helper(tmp_path, monkeypatch, "fake", {"ServerURL": HOST, "Username": USER,
                                                    "Secret": PASSWORD})
    found = find_credentials(HOST, docker_config=_config(tmp_path, doc))
    got = None if found is None else (found.username, found.password, found.identity_token)
    assert got == expected
    if "credHelpers" in doc or ("credsStore" in doc and expected == (USER, PASSWORD, None)):
        assert asked.read_text() == f"{HOST}\n"  # the helper was asked for exactly this server


def test_docker_hub_credentials_use_the_index_key(tmp_path: Path) -> None:
    doc = {"auths": {"https://index.docker.io/v1/": {"auth": _auth(USER, PASSWORD)}}}
    found = find_credentials("registry-1.docker.io", docker_config=_config(tmp_path, doc))
    assert found is not None and found.username == USER


def test_config_location_follows_docker_config_env_and_option(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    path = _config(tmp_path, {"auths": {HOST: {"auth": _auth(USER, PASSWORD)}}})
    assert find_credentials(HOST) is None  # HOME is empty
    monkeypatch.setenv("DOCKER_CONFIG", str(path.parent))
    assert find_credentials(HOST) is not None
    monkeypatch.delenv("DOCKER_CONFIG")
    assert find_credentials(HOST, docker_config=path.parent) is not None  # a directory
    assert find_credentials(HOST, docker_config=path) is not None  # the file itself


def test_helper_answers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = _config(tmp_path, {"credHelpers": {HOST: "tok"}, "credsStore": "none"})
    _helper(tmp_path, monkeypatch, "tok", {"Username": "<token>", "Secret": REFRESH})
    found = find_credentials(HOST, docker_config=config)
    assert found == Credentials(None, None, REFRESH, "docker-credential-tok")
    _helper(tmp_path, monkeypatch, "none", None)
    assert find_credentials("other.example.com", docker_config=config) is None


@pytest.mark.parametrize(("doc", "helper", "error", "message"), [
    ({"credsStore": "absent-helper"}, None, AuthenticationError, "not on PATH"),
    ({"credsStore": "broken"}, "broken", AuthenticationError,
     "docker-credential-broken failed: keychain locked"),
    ({"auths": {HOST: {"auth": "%%%not-base64"}}}, None, UsageError, "not base64"),
    ({"auths": {HOST: {"auth": base64.b64encode(b"no-colon").decode()}}}, None, UsageError,
     "not base64 of user:password"),
    ({"credsStore": "../../bin/sh"}, None, UsageError, "not a plain name"),
])
def test_broken_credential_sources_fail_fast(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             doc: dict[str, Any], helper: str | None,
                                             error: type[Exception], message: str) -> None:
    if helper:
        _helper(tmp_path, monkeypatch, helper, None, fail="keychain locked")
    with pytest.raises(error, match=message) as caught:
        find_credentials(HOST, docker_config=_config(tmp_path, doc))
    assert "%%%not-base64" not in str(caught.value)


def test_malformed_config_and_half_flags_are_usage_errors(tmp_path: Path) -> None:
    bad = tmp_path / "config.json"
    bad.write_text("{not json")
    with pytest.raises(UsageError, match=f"{bad}: the Docker config is not valid JSON"):
        find_credentials(HOST, docker_config=bad)
    with pytest.raises(UsageError, match="needs a password"):
        find_credentials(HOST, password=PASSWORD)
    assert find_credentials(HOST, username=USER, password=PASSWORD, docker_config=bad) == \
        Credentials(USER, PASSWORD, source="the given username and password")
    assert PASSWORD not in repr(Credentials(USER, PASSWORD))


@pytest.mark.parametrize(("header", "expected"), [
    (('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
      'scope="repository:library/alpine:pull"'),
     [Challenge("bearer", {"realm": "https://auth.docker.io/token",
                           "service": "registry.docker.io",
                           "scope": "repository:library/alpine:pull"})]),
    ('Bearer realm="https://r/t",scope="repository:a:pull,push",error="insufficient_scope"',
     [Challenge("bearer", {"realm": "https://r/t", "scope": "repository:a:pull,push",
                           "error": "insufficient_scope"})]),
    ('Basic realm="Registry Realm"', [Challenge("basic", {"realm": "Registry Realm"})]),
    ('basic realm=plain, Bearer realm="x", service=s',
     [Challenge("basic", {"realm": "plain"}), Challenge("bearer", {"realm": "x", "service": "s"})]),
    ('Bearer realm="quo\\"ted"', [Challenge("bearer", {"realm": 'quo"ted'})]),
    ("Negotiate", [Challenge("negotiate", {})]),
    ("", []),
    ('"garbage', []),
])
def test_challenges_parse(header: str, expected: list[Challenge]) -> None:
    assert parse_challenges(header) == expected


# --- TLS + htpasswd basic auth --------------------------------------------------------------

@pytest.fixture(scope="module")
def layout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("auth-layout") / "layout"
    write_oci_layout(path, ImageSpec([layer_tar([LayerFile("etc/hello", b"hello\n")])]))
    return path


@pytest.fixture(scope="module")
def tls_registry(tmp_path_factory: pytest.TempPathFactory,
                 layout: Path) -> Iterator[tuple[Registry, TLSFiles]]:
    root = tmp_path_factory.mktemp("tls-registry")
    tls = make_tls(root / "tls")
    with run_registry(root / "registry", tls=tls,
                      htpasswd=htpasswd_file(root / "htpasswd", {USER: PASSWORD})) as registry:
        push_oci_layout(layout, f"{registry.host}/app:v1", options=RegistryOptions(
            username=USER, password=PASSWORD, ca_bundle=tls.ca_cert))
        yield registry, tls


@pytest.fixture
def trusted(tls_registry: tuple[Registry, TLSFiles], monkeypatch: pytest.MonkeyPatch) -> str:
    """The TLS registry's host, with its CA trusted through SSL_CERT_FILE."""
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_registry[1].ca_cert))
    return tls_registry[0].host


@pytest.mark.parametrize("source", ["flags", "auths", "helper", "store"])
def test_basic_auth_over_tls(trusted: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                             source: str) -> None:
    options = TargetOptions(username=USER, password=PASSWORD)
    if source != "flags":
        _helper(tmp_path, monkeypatch, "fake", {"Username": USER, "Secret": PASSWORD})
        doc = {"auths": {trusted: {"auth": _auth(USER, PASSWORD)}}} if source == "auths" else \
            {"credHelpers": {trusted: "fake"}} if source == "helper" else {"credsStore": "fake"}
        options = TargetOptions(docker_config=_config(tmp_path, doc))
    with open_target(f"registry:{trusted}/app:v1", options) as art:
        assert art.read("/etc/hello") == b"hello\n"


@pytest.mark.parametrize(("options", "message"), [
    (TargetOptions(), r"requires authentication \(HTTP 401\) and no credentials were found"),
    (TargetOptions(username=USER, password=WRONG),
     r"refused the credentials from the given username and password \(HTTP 401\)"),
])
def test_basic_auth_refusals_are_one_clear_line(trusted: str, options: TargetOptions,
                                                message: str) -> None:
    with pytest.raises(AuthenticationError, match=message) as caught:
        open_target(f"registry:{trusted}/app:v1", options)
    assert str(caught.value).startswith(f"registry:{trusted}/app:v1: ")
    _assert_clean(caught.value)


def test_refused_config_credentials_name_the_file_not_the_secret(trusted: str,
                                                                 tmp_path: Path) -> None:
    config = _config(tmp_path, {"auths": {trusted: {"auth": _auth(USER, WRONG)}}})
    with pytest.raises(AuthenticationError, match=f"refused the credentials from {config}"
                                                  ) as caught:
        open_target(f"registry:{trusted}/app:v1", TargetOptions(docker_config=config))
    _assert_clean(caught.value)


def test_untrusted_certificates_are_refused_unless_insecure(
        tls_registry: tuple[Registry, TLSFiles], monkeypatch: pytest.MonkeyPatch) -> None:
    host = tls_registry[0].host
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    with pytest.raises(RegistryError, match=f"TLS certificate of {host} is not trusted"):
        open_target(f"registry:{host}/app:v1", TargetOptions(username=USER, password=PASSWORD))
    with open_target(f"registry:{host}/app:v1", TargetOptions(username=USER, password=PASSWORD,
                                                              insecure=True)) as art:
        assert art.read("/etc/hello") == b"hello\n"


def test_ca_bundle_option(tls_registry: tuple[Registry, TLSFiles],
                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    registry, tls = tls_registry
    options = RegistryOptions(username=USER, password=PASSWORD, ca_bundle=tls.ca_cert)
    with RegistryClient(registry.host, options=options) as client:
        assert client.list_tags("app") == ["v1"]
        assert client.base_url() == f"https://{registry.host}"


# --- Bearer token auth (docker-registry's `auth: token` with our token server) --------------

@pytest.fixture(scope="module")
def token_registry(tmp_path_factory: pytest.TempPathFactory,
                   layout: Path) -> Iterator[tuple[Registry, TokenServer]]:
    root = tmp_path_factory.mktemp("token-registry")
    server = TokenServer(root / "token", users={USER: PASSWORD}, refresh_tokens={REFRESH: USER})
    try:
        with run_registry(root / "registry", token=server) as registry:
            push_oci_layout(layout, f"{registry.host}/app:v1",
                            options=RegistryOptions(username=USER, password=PASSWORD))
            push_oci_layout(layout, f"{registry.host}/team/other:v2",
                            options=RegistryOptions(username=USER, password=PASSWORD))
            assert any("repository:app:pull,push" in r.scopes for r in server.requests)
            yield registry, server
    finally:
        server.close()


@pytest.mark.parametrize(("source", "method"), [
    ("flags", "GET"), ("identity token", "POST"), ("helper token", "POST"), ("helper", "GET")])
def test_bearer_token_flow(token_registry: tuple[Registry, TokenServer], tmp_path: Path,
                           monkeypatch: pytest.MonkeyPatch, source: str, method: str) -> None:
    registry, server = token_registry
    options = TargetOptions(username=USER, password=PASSWORD)
    if source == "identity token":
        options = TargetOptions(docker_config=_config(
            tmp_path, {"auths": {registry.host: {"identitytoken": REFRESH}}}))
    elif source.startswith("helper"):
        answer = {"Username": "<token>", "Secret": REFRESH} if source == "helper token" else \
            {"Username": USER, "Secret": PASSWORD}
        _helper(tmp_path, monkeypatch, "fake", answer)
        options = TargetOptions(docker_config=_config(
            tmp_path, {"credHelpers": {registry.host: "fake"}}))
    server.requests.clear()
    with open_target(f"registry:{registry.host}/app:v1", options) as art:
        assert art.read("/etc/hello") == b"hello\n"
    assert [(r.method, r.user, r.scopes, r.service) for r in server.requests] == \
        [(method, USER, ["repository:app:pull"], server.service)]  # one token for the pull


@pytest.mark.parametrize(("options", "message"), [
    (TargetOptions(), (r"the token server requires authentication \(HTTP 401\) and no "
                       r"credentials were found")),
    (TargetOptions(username=USER, password=WRONG), (r"the token server refused the credentials "
                                                    r"from the given username and password")),
])
def test_bearer_refusals_are_one_clear_line(token_registry: tuple[Registry, TokenServer],
                                            options: TargetOptions, message: str) -> None:
    target = f"registry:{token_registry[0].host}/app:v1"
    with pytest.raises(AuthenticationError, match=message) as caught:
        open_target(target, options)
    assert str(caught.value).startswith(target + ": ")
    _assert_clean(caught.value)


def test_bearer_tokens_for_listing(token_registry: tuple[Registry, TokenServer]) -> None:
    registry, server = token_registry
    with RegistryClient(registry.host, options=RegistryOptions(username=USER,
                                                               password=PASSWORD)) as client:
        assert client.catalog(page_size=1) == ["app", "team/other"]
        assert client.list_tags("team/other") == ["v2"]
        assert client.head_manifest("app", "v1") is not None
    scopes = {s for r in server.requests for s in r.scopes}
    assert {"registry:catalog:*", "repository:team/other:pull"} <= scopes
