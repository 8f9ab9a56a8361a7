"""SigmaHQ's Linux and web rules: every one loads; every one whose log source we decode fires
on a log line written from its own detection (decoded, then evaluated); Cisco's regression
sample matches as SigmaHQ's regression test says."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import yaml

from stackwarden.agent.logs.decoders import make_decoder
from stackwarden.agent.logs.events import LogSource
from stackwarden.agent.logs.sigma.engine import RuleEngine
from stackwarden.agent.logs.sigma.loader import LoadedRules, load_rules
from stackwarden.agent.logs.sigma.ruleset import RuleSettings, compile_ruleset
from tests.agent.logs.sigma_samples import Unsupported, samples, writer_for
from tests.helpers.env import shared_data

RULE_DIRS = ("rules/linux", "rules/web", "rules-emerging-threats", "rules-threat-hunting")


@pytest.fixture(scope="module")
def sigmahq() -> LoadedRules:
    root = Path(shared_data("sigma"))
    return load_rules([root / d for d in RULE_DIRS])


def test_every_linux_and_web_rule_loads(sigmahq: LoadedRules) -> None:
    files = [p for d in RULE_DIRS for p in (Path(shared_data("sigma")) / d).rglob("*.yml")]
    assert [str(f) for f in sigmahq.failures] == []
    assert len(sigmahq.rules) == len(files) == 393  # 210 linux + 45 web + 138 ET/hunting
    ruleset = compile_ruleset(sigmahq, RuleSettings())
    assert [str(f) for f in ruleset.failures] == []
    assert len(ruleset.rules) == 393


def _fires(rule, sample) -> bool:  # type: ignore[no-untyped-def]
    ruleset = compile_ruleset(LoadedRules([rule], []), RuleSettings())
    engine = RuleEngine(ruleset)
    decoder = make_decoder(sample.log_format)
    for line in sample.lines:
        event = decoder.decode(line)
        events = ([event] if event else []) + decoder.pending
        decoder.pending.clear()
        for e in events:
            engine.process(e)
    for e in decoder.flush():
        engine.process(e)
    return bool(engine.finish())


def test_decoded_rules_fire_on_lines_written_from_their_detection(sigmahq: LoadedRules) -> None:
    not_decoded: Counter[str] = Counter()
    unwritable: dict[str, str] = {}
    missed: dict[str, list[str]] = {}
    fired = 0
    for rule in sigmahq.rules:
        try:
            writer_for(rule)
        except Unsupported as exc:
            not_decoded[str(exc)] += 1
            continue
        tried: list[str] = []
        try:
            for sample in samples(rule):
                tried.extend(sample.lines)
                if _fires(rule, sample):
                    fired += 1
                    break
            else:
                missed[f"{rule.source.path.name}: {rule.title}"] = tried[:4]
        except Unsupported as exc:
            unwritable[f"{rule.source.path.name}: {rule.title}"] = str(exc)
    report = (f"fired {fired}; not decoded {sum(not_decoded.values())} {dict(not_decoded)}; "
              f"cannot write a line for {len(unwritable)}: {unwritable}")
    assert not missed, f"{report}\nmissed: {missed}"
    # Log sources we decode but cannot express every rule of (fields Linux never logs).
    assert fired >= 320, report
    assert len(unwritable) <= 10, report
    assert sum(not_decoded.values()) == 56  # the proxy rules: no proxy log decoder


def test_cisco_regression_sample() -> None:
    root = Path(shared_data("sigma"))
    case = root / "regression_data/rules/cisco/aaa/cisco_cli_dot1x_disabled"
    info = yaml.safe_load((case / "info.yml").read_text())
    rule_id = info["rule_metadata"][0]["id"]
    loaded = load_rules([root / "rules/network/cisco"])
    ruleset = compile_ruleset(loaded, RuleSettings())
    engine = RuleEngine(ruleset)
    decoder = make_decoder("raw", source=LogSource("cisco", None, frozenset({"aaa"})))
    raw = case / f"{rule_id}.raw"
    for number, line in enumerate(raw.read_text().splitlines(), 1):
        engine.process(decoder.decode(line, str(raw), number))  # type: ignore[arg-type]
    alerts = engine.finish()
    # info.yml's (commented) regression test: type raw, match_count 1
    assert [(a.rule_id, a.count) for a in alerts] == [(rule_id, 1)]
