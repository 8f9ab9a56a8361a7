"""Registries that misbehave (fake servers on loopback): garbage, rate limits, errors, silence."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from stackwarden.artifact import TargetOptions, open_target
from stackwarden.artifact.build import ImageSpec, LayerFile, layer_tar, write_oci_layout
from stackwarden.artifact.image import DOCKER_SCHEMA1, OCI_MANIFEST, load_image
from stackwarden.artifact.registry import RegistrySource
from stackwarden.artifact.registry_client import RegistryClient, RegistryOptions, is_loopback
from stackwarden.core.config import Limits
from stackwarden.core.errors import (
    ArtifactError,
    AuthenticationError,
    DigestMismatch,
    LimitExceeded,
    RegistryError,
)
from tests.helpers.registry import FakeRegistry, Reply, SeenRequest, Stall, layout_responder

FAST = RegistryOptions(timeout=0.5, retries=2, backoff=0.01, max_retry_wait=5)
JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def layout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fake-layout") / "layout"
    write_oci_layout(path, ImageSpec([layer_tar([LayerFile("etc/hello", b"hello\n")])]))
    return path


@pytest.fixture
def fake() -> Iterator[Callable[[Callable[[SeenRequest], Reply]], FakeRegistry]]:
    servers: list[FakeRegistry] = []

    def start(respond: Callable[[SeenRequest], Reply]) -> FakeRegistry:
        servers.append(FakeRegistry(respond))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def _pull(server: FakeRegistry, options: RegistryOptions = FAST, repo: str = "app:v1") -> str:
    target = f"registry:{server.host}/{repo}"
    source = RegistrySource(f"{server.host}/{repo}", reference=target, options=options)
    with load_image(source) as art:
        return art.read("/etc/hello").decode()


def _manifest_only(reply: Reply) -> Callable[[SeenRequest], Reply]:
    def respond(request: SeenRequest) -> Reply:
        if request.path == "/v2/":
            return 200, JSON, b"{}"
        return reply
    return respond


@pytest.mark.parametrize(("reply", "error", "message"), [
    ((200, {"Content-Type": "text/html"}, b"<html><body>Welcome to nginx</body></html>"),
     RegistryError, "answered 'text/html', not an image manifest"),
    ((200, {"Content-Type": OCI_MANIFEST}, b"this is not json"), RegistryError,
     r"answer is not JSON \(starts b'this is not json'\)"),
    ((200, {"Content-Type": "application/octet-stream"}, b"{}"), RegistryError,
     "answered 'application/octet-stream', not an image manifest"),
    ((200, {"Content-Type": OCI_MANIFEST}, b"[1, 2]"), RegistryError, "not a JSON object"),
    ((200, JSON, b'{"schemaVersion": 2}'), ArtifactError, "unknown manifest type 'application/json'"),
    ((200, {"Content-Type": OCI_MANIFEST}, b'{"schemaVersion": 2}'), ArtifactError,
     r"\(config\): descriptor without a digest"),
    ((200, {"Content-Type": DOCKER_SCHEMA1[1]}, b'{"schemaVersion": 1, "fsLayers": []}'),
     ArtifactError, "schema 1 manifests are not supported"),
    ((200, {"Content-Type": OCI_MANIFEST, "Docker-Content-Digest": "sha256:" + "1" * 64},
      b'{"schemaVersion": 2, "layers": []}'), DigestMismatch, "hashes to sha256:"),
    ((502, {"Content-Type": "text/html"}, b"<html>Bad Gateway</html>"), RegistryError,
     r"HTTP 502 Scripted \(answered text/html\)"),
    ((418, JSON, b'{"errors": [{"code": "TEAPOT", "message": "short and stout"}]}'),
     RegistryError, r"HTTP 418 Scripted \(TEAPOT: short and stout\)"),
    ((200, {"Content-Type": OCI_MANIFEST}, b" " * 2000), LimitExceeded, "1000-byte limit"),
    (b"SSH-2.0-OpenSSH_9.2\r\n", RegistryError, "cannot talk to"),
])
def test_garbage_gives_one_clear_error(fake: Callable[..., FakeRegistry], reply: Reply,
                                       error: type[Exception], message: str) -> None:
    server = fake(_manifest_only(reply))
    started = time.monotonic()
    with pytest.raises(error, match=message) as caught:
        target = f"registry:{server.host}/app:v1"
        with load_image(RegistrySource(f"{server.host}/app:v1", reference=target, options=FAST,
                                       limits=Limits(max_manifest_bytes=1000))):
            pass
    assert str(caught.value).startswith(f"registry:{server.host}/app:v1")
    assert "\n" not in str(caught.value)
    assert time.monotonic() - started < 5


def test_rate_limit_is_honoured_then_the_pull_succeeds(fake: Callable[..., FakeRegistry],
                                                       layout: Path) -> None:
    serve = layout_responder(layout, "app", "v1")
    limited: list[float] = []

    def respond(request: SeenRequest) -> Reply:
        if "/manifests/" in request.path and not limited:
            limited.append(time.monotonic())
            return 429, {"Retry-After": "1", **JSON}, b'{"errors": [{"code": "TOOMANYREQUESTS"}]}'
        return serve(request)

    server = fake(respond)
    assert _pull(server) == "hello\n"
    manifest_calls = [r for r in server.requests if "/manifests/" in r.path]
    assert len(manifest_calls) == 2
    assert time.monotonic() - limited[0] >= 1.0


def test_a_retry_after_longer_than_we_wait_is_an_error(fake: Callable[..., FakeRegistry]) -> None:
    server = fake(_manifest_only((429, {"Retry-After": "3600"}, b"")))
    started = time.monotonic()
    with pytest.raises(RegistryError, match="asks to retry after 3600s"):
        _pull(server)
    assert time.monotonic() - started < 2


def test_server_errors_are_retried_then_reported(fake: Callable[..., FakeRegistry]) -> None:
    server = fake(_manifest_only((500, {"Content-Type": "text/plain"}, b"boom")))
    with pytest.raises(RegistryError, match=r"fetching manifest v1 failed: HTTP 500"):
        _pull(server)
    assert len([r for r in server.requests if "/manifests/" in r.path]) == FAST.retries + 1


def test_transient_server_errors_recover(fake: Callable[..., FakeRegistry], layout: Path) -> None:
    serve = layout_responder(layout, "app", "v1")
    failures = {"blobs": 0}

    def respond(request: SeenRequest) -> Reply:
        if "/blobs/" in request.path and failures["blobs"] < 2:
            failures["blobs"] += 1
            return 503, {}, b""
        return serve(request)

    assert _pull(fake(respond)) == "hello\n"


def test_a_registry_that_never_answers_times_out(fake: Callable[..., FakeRegistry]) -> None:
    server = fake(lambda request: None)
    started = time.monotonic()
    with pytest.raises(RegistryError, match=r"no answer from 127\.0\.0\.1:\d+ within 0\.5s"):
        open_target(f"registry:{server.host}/app:v1",
                    TargetOptions(limits=Limits(network_timeout=0.5)))
    assert time.monotonic() - started < 3  # the HTTPS probe and the HTTP attempt, no retries


def test_a_blob_that_stalls_mid_transfer_times_out(fake: Callable[..., FakeRegistry],
                                                   layout: Path) -> None:
    serve = layout_responder(layout, "app", "v1")

    def respond(request: SeenRequest) -> Reply:
        reply = serve(request)
        if "/blobs/" in request.path and isinstance(reply, tuple) and len(reply[2]) > 200:
            head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(reply[2])}\r\n\r\n".encode()
            return Stall(head + reply[2][:10])  # then silence, connection kept open
        return reply

    started = time.monotonic()
    with pytest.raises(RegistryError, match=r"fetching blob sha256:[0-9a-f]+: the registry "
                                            r"stopped sending \(no data within 0\.5s\)"):
        _pull(fake(respond))
    assert time.monotonic() - started < 3


def test_a_blob_longer_than_its_descriptor_is_cut_off(fake: Callable[..., FakeRegistry],
                                                      layout: Path) -> None:
    serve = layout_responder(layout, "app", "v1")
    config = json.loads((layout / "index.json").read_text())["manifests"][0]["digest"]
    manifest = json.loads((layout / "blobs" / config.replace(":", "/")).read_text())
    layer = manifest["layers"][0]["digest"]

    def respond(request: SeenRequest) -> Reply:
        reply = serve(request)
        if request.path.endswith(layer) and isinstance(reply, tuple):
            return reply[0], reply[1], reply[2] + b"\0" * 4096
        return reply

    with pytest.raises(DigestMismatch, match="more than the descriptor's"):
        _pull(fake(respond))


def test_a_plain_http_token_realm_elsewhere_is_refused(fake: Callable[..., FakeRegistry]) -> None:
    challenge = 'Bearer realm="http://auth.example.com/token",service="x"'
    server = fake(lambda request: (401, {"WWW-Authenticate": challenge}, b""))
    with pytest.raises(RegistryError, match="refusing the token realm.*plain HTTP is allowed "
                                            "only for loopback"):
        _pull(server, RegistryOptions(username="u", password="p", timeout=0.5))


def test_a_token_answer_without_a_token_is_refused(fake: Callable[..., FakeRegistry]) -> None:
    def respond(request: SeenRequest) -> Reply:
        if request.path.startswith("/token"):
            return 200, JSON, b'{"expires_in": 60}'
        realm = f'Bearer realm="http://{server.host}/token",service="fake"'
        return 401, {"WWW-Authenticate": realm}, b""

    server = fake(respond)
    with pytest.raises(RegistryError, match="the answer holds no token"):
        _pull(server)


def test_a_401_without_a_usable_challenge(fake: Callable[..., FakeRegistry]) -> None:
    server = fake(lambda request: (401, {"WWW-Authenticate": "Negotiate"}, b""))
    with pytest.raises(AuthenticationError, match=r"no usable authentication challenge "
                                                  r"\(schemes: negotiate\)"):
        _pull(server)


def test_basic_auth_against_a_fake_sends_credentials_only_after_the_challenge(
        fake: Callable[..., FakeRegistry], layout: Path) -> None:
    serve = layout_responder(layout, "app", "v1")

    def respond(request: SeenRequest) -> Reply:
        if request.headers.get("authorization") != "Basic dTpw":  # u:p
            return 401, {"WWW-Authenticate": 'Basic realm="fake"'}, b""
        return serve(request)

    server = fake(respond)
    assert _pull(server, RegistryOptions(username="u", password="p", timeout=0.5)) == "hello\n"
    sent = [r.headers.get("authorization") for r in server.requests]
    assert sent[:2] == [None, None] and set(sent[2:]) == {"Basic dTpw"}


@pytest.mark.parametrize(("host", "loopback"), [
    ("localhost", True), ("localhost:5000", True), ("127.0.0.1", True), ("127.9.8.7:80", True),
    ("[::1]:5000", True), ("::1", True), ("10.0.0.1:5000", False), ("registry.example.com", False),
    ("localhost.example.com", False), ("[2001:db8::1]:443", False), ("0.0.0.0:5000", False),
])
def test_plain_http_only_for_loopback_or_insecure(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
    with RegistryClient(host) as client:
        assert client.plain_allowed is loopback
    with RegistryClient(host, options=RegistryOptions(insecure=True)) as client:
        assert client.plain_allowed
