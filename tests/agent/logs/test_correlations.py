"""Sigma correlation rules over time windows and groups: thresholds at the window's edges,
incidents that grow instead of repeating, value counts, temporal (ordered) sequences, chains,
aliases, tumbling windows for "fewer than", overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from stackwarden.agent.logs.sigma.ruleset import CorrelationOverride, RuleSettings
from tests.agent.logs.helpers import event, ruleset_from, run, simple_rule

FAIL = simple_rule("sel:\n    action: failed\ncondition: sel", title="failure",
                   rule_id="aaaaaaaa-0000-0000-0000-000000000001", extra="name: fail\n")
OK = simple_rule("sel:\n    action: accepted\ncondition: sel", title="success",
                 rule_id="aaaaaaaa-0000-0000-0000-000000000002", extra="name: ok\n")


def corr(kind: str, rules: str, condition: str, timespan: str = "60s",
         group: str = "[src_ip]", extra: str = "") -> str:
    return (f"title: correlation\nid: bbbbbbbb-0000-0000-0000-000000000001\nname: corr\n"
            f"correlation:\n    type: {kind}\n    rules: {rules}\n    group-by: {group}\n"
            f"    timespan: {timespan}\n{condition}{extra}level: high\n")


COUNT5 = corr("event_count", "[fail]", "    condition:\n        gte: 5\n")


def fails(times: list[float], ip: str = "192.0.2.1") -> list:
    return [event({"action": "failed", "src_ip": ip}, t=t) for t in times]


@pytest.mark.parametrize("times,expected", [
    ([0, 15, 30, 45, 60], 1),  # five within 60 s, edges included
    ([0, 15, 30, 45, 61], 0),  # the first has left the window
    ([0, 10, 20, 30], 0),  # four
    ([0, 1, 2, 3, 4, 100, 101, 102, 103, 104], 2),  # two bursts, two incidents
])
def test_event_count_window(tmp_path: Path, times: list[float], expected: int) -> None:
    alerts = run(ruleset_from(tmp_path, FAIL, COUNT5), fails(times))
    assert len(alerts) == expected


def test_an_incident_grows_instead_of_repeating(tmp_path: Path) -> None:
    alerts = run(ruleset_from(tmp_path, FAIL, COUNT5), fails([float(t) for t in range(0, 40, 2)]))
    assert len(alerts) == 1
    alert = alerts[0]
    assert (alert.count, alert.first, alert.last) == (20, 0.0, 38.0)
    assert alert.group == (("src_ip", "192.0.2.1"),)
    assert alert.kind == "event_count" and alert.closed
    assert alert.title == "correlation" and alert.level == "high"


def test_groups_are_counted_apart(tmp_path: Path) -> None:
    events = fails([0, 1, 2], "192.0.2.1") + fails([3, 4], "192.0.2.2") + fails([5, 6], "192.0.2.1")
    events.sort(key=lambda e: e.time)
    alerts = run(ruleset_from(tmp_path, FAIL, COUNT5), events)
    assert [(a.group, a.count) for a in alerts] == [((("src_ip", "192.0.2.1"),), 5)]


def test_the_opening_alert_comes_with_the_event_that_crosses_the_threshold(tmp_path: Path) -> None:
    from stackwarden.agent.logs.sigma.engine import RuleEngine

    engine = RuleEngine(ruleset_from(tmp_path, FAIL, COUNT5))
    opened = [engine.process(e) for e in fails([0, 1, 2, 3, 4, 5])]
    assert [len(o) for o in opened] == [0, 0, 0, 0, 1, 0]
    assert opened[4][0].count == 5 and not opened[4][0].closed
    assert engine.expire(1000.0)[0].count == 6  # closed: idle longer than the window


def test_value_count(tmp_path: Path) -> None:
    not_found = simple_rule("sel:\n    sc-status: 404\ncondition: sel", extra="name: nf\n")
    rule = corr("value_count", "[nf]", "    condition:\n        gte: 3\n        field: path\n",
                group="[ip]")
    same = [event({"sc-status": 404, "ip": "a", "path": "/x"}, t=i) for i in range(10)]
    distinct = [event({"sc-status": 404, "ip": "b", "path": f"/{i}"}, t=i) for i in range(3)]
    alerts = run(ruleset_from(tmp_path, not_found, rule), same + distinct)
    assert [(a.group, a.detail["distinct"]) for a in alerts] == [((("ip", "b"),), 3)]


@pytest.mark.parametrize("kind,order,gap,expected", [
    ("temporal", ["ok", "failed"], 10, True),
    ("temporal", ["failed", "ok"], 10, True),
    ("temporal", ["failed", "ok"], 61, False),
    ("temporal_ordered", ["failed", "ok"], 10, True),
    ("temporal_ordered", ["ok", "failed"], 10, False),
    ("temporal_ordered", ["failed", "ok"], 61, False),
])
def test_temporal(tmp_path: Path, kind: str, order: list[str], gap: float,
                  expected: bool) -> None:
    rule = corr(kind, "[fail, ok]", "")
    actions = {"failed": "failed", "ok": "accepted"}
    events = [event({"action": actions[name], "src_ip": "x"}, t=i * gap)
              for i, name in enumerate(order)]
    assert bool(run(ruleset_from(tmp_path, FAIL, OK, rule), events)) is expected


def test_correlation_of_correlations(tmp_path: Path) -> None:
    burst = corr("event_count", "[fail]", "    condition:\n        gte: 3\n", timespan="10m")
    burst = burst.replace("bbbbbbbb-0000-0000-0000-000000000001", "cccccccc-0000-0000-0000-000000000001")
    burst = burst.replace("name: corr", "name: burst")
    after = corr("temporal_ordered", "[burst, ok]", "", timespan="10m")
    rules = ruleset_from(tmp_path, FAIL, OK, burst, after)
    three_then_ok = fails([0, 5, 10], "x") + [event({"action": "accepted", "src_ip": "x"}, t=20)]
    two_then_ok = fails([0, 5], "y") + [event({"action": "accepted", "src_ip": "y"}, t=20)]
    alerts = run(rules, three_then_ok + two_then_ok)
    # the inner correlation is referenced (no `generate`): only the outer one reports
    assert [(a.title, a.group) for a in alerts] == [("correlation", (("src_ip", "x"),))]


def test_aliases_group_different_field_names(tmp_path: Path) -> None:
    web = simple_rule("sel:\n    sc-status: 401\ncondition: sel", extra="name: web401\n",
                      rule_id="aaaaaaaa-0000-0000-0000-000000000003")
    rule = corr("temporal", "[fail, web401]", "", group="[ip]",
                extra="    aliases:\n        ip:\n            fail: src_ip\n"
                      "            web401: c-ip\n")
    events = [event({"action": "failed", "src_ip": "192.0.2.7"}, t=0),
              event({"sc-status": 401, "c-ip": "192.0.2.7"}, t=5)]
    alerts = run(ruleset_from(tmp_path, FAIL, web, rule), events)
    assert [a.group for a in alerts] == [(("ip", "192.0.2.7"),)]


def test_fewer_than_is_judged_when_the_window_ends(tmp_path: Path) -> None:
    rule = corr("event_count", "[fail]", "    condition:\n        lt: 3\n")
    events = fails([0, 10], "quiet") + fails([0, 1, 2, 3], "busy")
    events.sort(key=lambda e: e.time)
    alerts = run(ruleset_from(tmp_path, FAIL, rule), events)
    assert [(a.group, a.count) for a in alerts] == [((("src_ip", "quiet"),), 2)]


def test_value_sum_and_avg(tmp_path: Path) -> None:
    sent = simple_rule("sel:\n    action: sent\ncondition: sel", extra="name: sent\n")
    total = corr("value_sum", "[sent]", "    condition:\n        gte: 1000\n        field: bytes\n",
                 group="[user]")
    events = [event({"action": "sent", "user": "u", "bytes": b}, t=i)
              for i, b in enumerate([400, 300, 350])]
    assert [a.detail["aggregate"] for a in run(ruleset_from(tmp_path, sent, total), events)] \
        == [1050.0]


def test_extended_temporal_condition(tmp_path: Path) -> None:
    rule = corr("temporal", "[fail, ok]", "    condition: fail and not ok\n")
    only_fail = fails([0], "x")
    both = fails([0], "y") + [event({"action": "accepted", "src_ip": "y"}, t=1)]
    alerts = run(ruleset_from(tmp_path, FAIL, OK, rule), only_fail + both)
    assert {a.group for a in alerts} == {(("src_ip", "x"),), (("src_ip", "y"),)}  # y fired first


def test_overrides_change_threshold_and_window(tmp_path: Path) -> None:
    settings = RuleSettings(overrides={"corr": CorrelationOverride(threshold=3, timespan=5)})
    rules = ruleset_from(tmp_path, FAIL, COUNT5, settings=settings)
    assert len(run(rules, fails([0, 1, 2]))) == 1
    assert len(run(rules, fails([0, 3, 6]))) == 0


def test_clock_going_back_restarts_the_window(tmp_path: Path) -> None:
    events = fails([1000, 1001, 1002]) + fails([0, 1])  # a concatenated, older log after
    assert run(ruleset_from(tmp_path, FAIL, COUNT5), events) == []
