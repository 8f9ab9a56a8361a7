"""Registry monitoring's pure parts: intervals, URLs, globs, notifications, sealing, diffs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from stackwarden.core.errors import UsageError
from stackwarden.server.credentials import CredentialBox, CredentialError
from stackwarden.server.golden import Rule, diff_config, diff_packages, golden_tags
from stackwarden.server.registry_events import NotificationError, PushEvent, parse_notification
from stackwarden.server.registry_watch import (
    parse_interval,
    parse_registry_url,
    repository_selected,
)

D1, D2 = "sha256:" + "1" * 64, "sha256:" + "2" * 64


@pytest.mark.parametrize(("text", "seconds"), [
    ("15m", 900), ("1h", 3600), ("90s", 90), ("2d", 172800), ("600", 600), (" 10M ", 600)])
def test_intervals(text: str, seconds: int) -> None:
    assert parse_interval(text) == seconds


@pytest.mark.parametrize("text", ["", "5s", "31d", "1w", "-1m", "1.5h", "soon"])
def test_bad_intervals(text: str) -> None:
    with pytest.raises(UsageError):
        parse_interval(text)


@pytest.mark.parametrize(("url", "insecure", "host"), [
    ("https://registry.example", False, "registry.example"),
    ("registry.example:5000", False, "registry.example:5000"),
    ("https://registry.example:443/", False, "registry.example:443"),
    ("http://127.0.0.1:5000", False, "127.0.0.1:5000"),
    ("http://localhost:5000", False, "localhost:5000"),
    ("http://registry.internal", True, "registry.internal"),
    ("[::1]:5000", False, "[::1]:5000"),
])
def test_registry_urls(url: str, insecure: bool, host: str) -> None:
    assert parse_registry_url(url, insecure) == host


@pytest.mark.parametrize("url", ["http://registry.example", "ftp://r.example", "r.example/v2",
                                 "https://", "bad host", "https://r.example/path"])
def test_bad_registry_urls(url: str) -> None:
    with pytest.raises(UsageError):
        parse_registry_url(url, False)


@pytest.mark.parametrize(("repo", "include", "exclude", "selected"), [
    ("team/app", [], [], True),
    ("team/app", ["team/*"], [], True),
    ("other/app", ["team/*"], [], False),
    ("team/tmp-build", ["team/*"], ["*/tmp-*"], False),
    ("team/sub/app", ["team/*"], [], True),  # fnmatch's * crosses slashes, like Harbor's **
    ("Team/app", ["team/*"], [], False),  # case matters, as in repository names
])
def test_repository_selection(repo: str, include: list[str], exclude: list[str],
                              selected: bool) -> None:
    assert repository_selected(repo, include, exclude) is selected


def _distribution(*events: dict[str, Any]) -> bytes:
    return json.dumps({"events": list(events)}).encode()


def _push(repo: str, tag: str | None, digest: str, media: str =
          "application/vnd.oci.image.manifest.v1+json", action: str = "push") -> dict[str, Any]:
    target = {"mediaType": media, "repository": repo, "digest": digest, "size": 10}
    if tag is not None:
        target["tag"] = tag
    return {"id": "x", "action": action, "target": target, "request": {"method": "PUT"}}


@pytest.mark.parametrize(("body", "fmt", "events"), [
    (_distribution(_push("team/app", "1", D1)), "distribution",
     [PushEvent("team/app", "1", D1)]),
    # pulls, layer uploads and untagged child manifests are not new images
    (_distribution(_push("team/app", "1", D1, action="pull"),
                   _push("team/app", None, D2, media="application/octet-stream"),
                   _push("team/app", None, D2)), "distribution",
     [PushEvent("team/app", "", D2)]),
    (_distribution(_push("Bad Repo", "1", D1), _push("team/app", "1", "md5:x")),
     "distribution", []),
    (json.dumps({"type": "PUSH_ARTIFACT", "event_data": {
        "resources": [{"digest": D1, "tag": "v1"}, {"digest": D2, "tag": "v2"}],
        "repository": {"name": "web", "namespace": "lib"}}}).encode(), "harbor",
     [PushEvent("lib/web", "v1", D1), PushEvent("lib/web", "v2", D2)]),
    (json.dumps({"type": "DELETE_ARTIFACT", "event_data": {"resources": []}}).encode(),
     "harbor", []),
])
def test_notifications(body: bytes, fmt: str, events: list[PushEvent]) -> None:
    assert parse_notification(body) == (fmt, events)


@pytest.mark.parametrize("body", [b"", b"\xff", b"[]", b'{"events": 1}', b'{"hello": 1}',
                                  b'{"type": "PUSH_ARTIFACT", "event_data": 3}'])
def test_malformed_notifications(body: bytes) -> None:
    with pytest.raises(NotificationError):
        parse_notification(body)


def test_credentials_are_sealed_and_bound(tmp_path: Path) -> None:
    from stackwarden.server.settings import ServerSettings

    settings = ServerSettings(data_dir=tmp_path)
    box = CredentialBox.from_settings(settings)
    key_file = settings.credentials_key_path()
    assert key_file.stat().st_mode & 0o777 == 0o600
    sealed = box.seal("hunter2-secret", "registry:1")
    assert b"hunter2" not in sealed and box.seal("hunter2-secret", "registry:1") != sealed
    assert CredentialBox.from_settings(settings).open(sealed, "registry:1") == "hunter2-secret"
    with pytest.raises(CredentialError):
        box.open(sealed, "registry:2")  # moved onto another row
    with pytest.raises(CredentialError):
        box.open(sealed[:-1] + bytes([sealed[-1] ^ 1]), "registry:1")
    other = ServerSettings(data_dir=tmp_path / "other")
    with pytest.raises(CredentialError, match="credentials key"):
        CredentialBox.from_settings(other).open(sealed, "registry:1")
    configured = ServerSettings(data_dir=tmp_path, credentials_key=key_file.read_text().strip())
    assert CredentialBox.from_settings(configured).open(sealed, "registry:1") == "hunter2-secret"
    for bad in ("not base64!", "c2hvcnQ="):
        with pytest.raises(UsageError):
            CredentialBox.from_settings(ServerSettings(data_dir=tmp_path, credentials_key=bad))


def _pkg(name: str, version: str, kind: str = "apk") -> dict[str, str]:
    return {"name": name, "version": version, "type": kind,
            "purl": f"pkg:{kind}/alpine/{name}@{version}"}


def test_package_diff_uses_the_ecosystem_order() -> None:
    old = [_pkg("musl", "1.2.5-r0"), _pkg("zlib", "1.3.1-r1"), _pkg("gone", "1"),
           _pkg("rc", "1.2.3-r0")]
    new = [_pkg("musl", "1.2.5-r10"), _pkg("zlib", "1.3.1-r0"), _pkg("new", "2"),
           _pkg("rc", "1.2.3_rc1-r0")]
    diff = diff_packages(old, new)
    # r10 > r0 numerically (a string comparison would say otherwise); _rc1 sorts before
    assert diff["upgraded"] == [{"type": "apk", "name": "musl", "from": "1.2.5-r0",
                                 "to": "1.2.5-r10"}]
    assert [d["name"] for d in diff["downgraded"]] == ["rc", "zlib"]
    assert diff["added"] == [{"type": "apk", "name": "new", "version": "2"}]
    assert diff["removed"] == [{"type": "apk", "name": "gone", "version": "1"}]


def test_config_drift_names_env_without_values() -> None:
    old = {"User": "root", "Env": ["PATH=/bin", "TOKEN=abc"], "Cmd": ["run"]}
    new = {"User": "app", "Env": ["PATH=/usr/bin", "TOKEN=abc", "MODE=x"], "Cmd": ["run"],
           "ExposedPorts": {"8080/tcp": {}}}
    drift = diff_config(old, new)
    assert drift == [
        {"field": "User", "before": "root", "after": "app"},
        {"field": "ExposedPorts", "before": None, "after": {"8080/tcp": {}}},
        {"field": "Env", "added": ["MODE"], "removed": [], "changed": ["PATH"]}]
    assert "abc" not in json.dumps(drift)


def test_golden_rules() -> None:
    rules = [Rule(1, "team/base", "stable*"), Rule(2, "gold/*", "*")]
    assert golden_tags(rules, "team/base", ["stable-1", "dev", "stable"]) == ["stable",
                                                                             "stable-1"]
    assert golden_tags(rules, "gold/x", ["a"]) == ["a"]
    assert golden_tags(rules, "team/app", ["stable"]) == []
