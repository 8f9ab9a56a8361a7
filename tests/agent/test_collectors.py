"""The collector registry and the two collectors built here: logs (event ids that survive a
crash before commit) and host vulnerabilities (an inventory in a child process)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import time
from pathlib import Path

import pytest

import stackwarden.agent
from stackwarden.agent.collectors import COLLECTORS, collector_class, parse_settings
from stackwarden.agent.config import ConfigError, default_document, parse_config
from stackwarden.agent.interface import Collection, Collector, CollectorContext, CollectorError
from tests.agent.logs.helpers import sshd
from tests.server.agent_helpers import debian_root


def test_every_collector_is_registered_and_loads() -> None:
    found = {}
    for info in pkgutil.walk_packages(stackwarden.agent.__path__, "stackwarden.agent."):
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, Collector) and cls is not Collector \
                    and cls.__module__ == module.__name__:
                found[cls.name] = f"{cls.__module__}:{cls.__qualname__}"
    assert found == dict(COLLECTORS)
    for name in COLLECTORS:
        cls = collector_class(name)
        assert cls.name == name and cls.default_interval > 0
        assert parse_settings(name, {}).enabled is True
    with pytest.raises(CollectorError, match="unknown collector 'nope'"):
        collector_class("nope")


def test_default_and_bad_configurations() -> None:
    config = parse_config(default_document())
    assert set(config.collectors) == set(COLLECTORS) and config.unknown_collectors == ()
    newer = parse_config({"collectors": {"future": {"x": 1}, "logs": {}}})
    assert newer.unknown_collectors == ("future",)  # skipped by the agent, refused by a server
    for bad, message in [([], "not a JSON object"),
                         ({"schema_version": 2}, "schema_version"),
                         ({"collectors": {"logs": {"interval": 0}}}, "collectors.logs.interval"),
                         ({"collectors": {"logs": []}}, "collectors.logs"),
                         ({"collectors": {"logs": {"inputs": [{"kind": "file", "path": "/x",
                                                               "format": "klingon"}]}}},
                          "unknown format 'klingon'"),
                         ({"collectors": {"future": {}}}, "unknown collector")]:
        with pytest.raises(ConfigError, match=message):
            parse_config(bad, strict=True)


def context(tmp_path: Path, name: str, raw: dict[str, object],
            folder_name: str | None = None) -> CollectorContext:
    folder = tmp_path / (folder_name or name)
    folder.mkdir(exist_ok=True)
    return CollectorContext(parse_settings(name, raw), folder, agent_id="agent-1")


def test_log_events_keep_their_ids_when_read_again_after_a_crash(tmp_path: Path) -> None:
    log = tmp_path / "auth.log"
    log.write_text("".join(sshd(i) for i in range(6)))
    raw = {"inputs": [{"path": str(log), "start_at_end": False}], "ship_events": True}

    def collect() -> tuple[Collector, Collection]:
        collector = collector_class("logs")(context(tmp_path, "logs", raw))
        return collector, collector.collect()

    crashed, first = collect()  # queued, then the agent died before commit
    assert [e.kind for e in first.events] == ["log.event"] * 6 + ["log.alert"]
    again, second = collect()
    assert [e.id for e in second.events] == [e.id for e in first.events]
    again.commit(second)
    _, nothing = collect()  # a restart after the commit: nothing is read twice
    assert list(nothing.events) == []
    with log.open("a") as handle:
        handle.write(sshd(7))
    more = again.collect()
    assert [e.data["offset"] for e in more.events] == [log.stat().st_size - len(sshd(7))]
    closing = again.close()  # the open incident's final state
    assert [(e.kind, e.data["closed"], e.data["count"]) for e in closing.events] == [
        ("log.alert", True, 7)]
    # another agent reading the same line gets other ids
    other = collector_class("logs")(CollectorContext(parse_settings("logs", raw),
                                                     tmp_path / "logs", agent_id="agent-2"))
    assert {e.id for e in other.collect().events}.isdisjoint({e.id for e in first.events})


def test_log_collector_settings_errors_name_the_rule(tmp_path: Path) -> None:
    bad_rule = "title: broken\nlogsource:\n    product: linux\ndetection:\n    sel:\n" \
               "        field|contians: x\n    condition: sel\n"
    with pytest.raises(CollectorError, match=r"pushed-rules/001.yml.*contians"):
        collector_class("logs")(context(tmp_path, "logs", {"rules": [bad_rule],
                                                           "inputs": []}))
    with pytest.raises(CollectorError, match="no rules"):
        collector_class("logs")(context(tmp_path, "logs", {"builtin_rules": False}))
    missing = collector_class("logs")(context(tmp_path, "logs", {
        "inputs": [{"path": str(tmp_path / "later.log")}]}))
    assert "no such log file yet" in missing.collect().notes[0]


def wait_for(collector: Collector, seconds: float = 120) -> Collection:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        got = collector.collect()
        if got.events or got.notes:
            return got
        time.sleep(0.2)
    raise AssertionError("the collector produced nothing")


def test_host_inventory_runs_in_a_child_and_ships_the_sbom(tmp_path: Path) -> None:
    root = debian_root(tmp_path / "root")
    collector = collector_class("host_vulnerabilities")(context(
        tmp_path, "host_vulnerabilities", {"root": str(root), "scan_interval": 3600}))
    got = wait_for(collector)
    (event,) = got.events
    assert event.kind == "host.sbom" and event.data["packages"] == 2
    names = sorted(p["name"] for p in event.data["sbom"]["packages"])
    assert names == ["base-files", "openssl"]
    assert all("files" not in p for p in event.data["sbom"]["packages"])
    collector.commit(got)
    assert collector.collect() == Collection()  # not due again for an hour
    assert list((tmp_path / "host_vulnerabilities").glob("sbom.*")) == []  # no leftovers

    broken = collector_class("host_vulnerabilities")(context(
        tmp_path, "host_vulnerabilities", {"root": str(tmp_path / "no-such-root")}, "broken"))
    failed = wait_for(broken)
    assert failed.events == () and "the inventory of" in failed.notes[0]
    assert "no-such-root" in failed.notes[0] and "\n" not in failed.notes[0]
