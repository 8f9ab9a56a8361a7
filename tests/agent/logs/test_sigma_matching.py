"""The evaluator against Sigma's matching semantics: modifiers, conditions, keywords, routing.

Each row is (detection, fields or text, expected). Strings compare case-insensitively unless
`cased` or `re`; keywords search the event's text; lists match when any element does.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from stackwarden.agent.logs.events import LogSource
from stackwarden.agent.logs.sigma.ruleset import RuleSettings
from tests.agent.logs.helpers import event, fired, ruleset_from, simple_rule

MODIFIER_CASES = [
    # (detection selection body, event fields, fires)
    ("CommandLine: 'whoami'", {"CommandLine": "WHOAMI"}, True),
    ("CommandLine: 'whoami'", {"CommandLine": "whoami /all"}, False),
    ("CommandLine|contains: 'curl'", {"CommandLine": "/usr/bin/CURL -s x"}, True),
    ("CommandLine|contains: 'curl'", {"CommandLine": "wget x"}, False),
    ("Image|startswith: '/tmp/'", {"Image": "/tmp/x"}, True),
    ("Image|startswith: '/tmp/'", {"Image": "/usr/tmp/x"}, False),
    ("Image|endswith: ['/nc', '/ncat']", {"Image": "/usr/bin/ncat"}, True),
    ("Image|endswith: ['/nc', '/ncat']", {"Image": "/usr/bin/ncatx"}, False),
    ("Image: '/usr/*/python?'", {"Image": "/usr/local/python3"}, True),
    ("Image: '/usr/*/python?'", {"Image": "/usr/local/python"}, False),
    ("CommandLine|contains|all: ['-c', 'import pty']", {"CommandLine": "python -c 'import pty'"},
     True),
    ("CommandLine|contains|all: ['-c', 'import pty']", {"CommandLine": "python -c x"}, False),
    ("CommandLine|re: '^nc -[el]+ '", {"CommandLine": "nc -el 4444"}, True),
    ("CommandLine|re: '^nc -[el]+ '", {"CommandLine": "NC -el 4444"}, False),  # re is cased
    ("CommandLine|re|i: '^nc -[el]+ '", {"CommandLine": "NC -el 4444"}, True),
    ("src_ip|cidr: '10.0.0.0/8'", {"src_ip": "10.1.2.3"}, True),
    ("src_ip|cidr: '10.0.0.0/8'", {"src_ip": "::ffff:10.1.2.3"}, True),
    ("src_ip|cidr: '10.0.0.0/8'", {"src_ip": "192.0.2.1"}, False),
    ("src_ip|cidr: '10.0.0.0/8'", {"src_ip": "not an ip"}, False),
    ("src_ip|cidr: '2001:db8::/32'", {"src_ip": "2001:db8::1"}, True),
    ("User|exists: true", {"User": "root"}, True),
    ("User|exists: true", {"Other": "x"}, False),
    ("User|exists: false", {"Other": "x"}, True),
    ("User: null", {"Other": "x"}, True),
    ("User: null", {"User": "root"}, False),
    ("CommandLine|cased: 'Whoami'", {"CommandLine": "whoami"}, False),
    ("CommandLine|cased: 'Whoami'", {"CommandLine": "Whoami"}, True),
    ("CommandLine|windash|contains: '-enc'", {"CommandLine": "powershell /enc AAA"}, True),
    ("CommandLine|base64|contains: 'whoami'",
     {"CommandLine": "echo " + base64.b64encode(b"whoami").decode()}, True),
    ("CommandLine|base64offset|contains: 'http://'",
     {"CommandLine": "x " + base64.b64encode(b"AAhttp://evil").decode()}, True),
    ("sc-status: 404", {"sc-status": 404}, True),
    ("sc-status: 404", {"sc-status": "404"}, True),
    ("sc-status|gte: 500", {"sc-status": 503}, True),
    ("sc-status|gte: 500", {"sc-status": 404}, False),
    ("sc-status|lt: 300", {"sc-status": "200"}, True),
    ("a1: 777", {"a1": "777"}, True),
    ("flag: true", {"flag": True}, True),
    ("flag: true", {"flag": "false"}, False),
    ("User|neq: 'root'", {"User": "alice"}, True),
    ("User|neq: 'root'", {"User": "root"}, False),
    ("User|fieldref: TargetUser", {"User": "Bob", "TargetUser": "bob"}, True),
    ("User|fieldref: TargetUser", {"User": "bob", "TargetUser": "root"}, False),
    ("sourceIPs: '10.0.0.1'", {"sourceIPs": ["192.0.2.1", "10.0.0.1"]}, True),  # lists: any
    ("sourceIPs|cidr: '10.0.0.0/8'", {"sourceIPs": ["192.0.2.1"]}, False),
]


@pytest.mark.parametrize("selection,fields,expected", MODIFIER_CASES)
def test_modifiers(tmp_path: Path, selection: str, fields: dict, expected: bool) -> None:
    rules = ruleset_from(tmp_path, simple_rule(f"selection:\n    {selection}\ncondition: selection"))
    assert not rules.failures, rules.failures
    assert fired(rules, event(fields)) is expected


CONDITION_CASES = [
    ("sel1 and sel2", {"a": "1", "b": "2"}, True),
    ("sel1 and sel2", {"a": "1"}, False),
    ("sel1 or sel2", {"b": "2"}, True),
    ("sel1 and not filter", {"a": "1", "c": "3"}, False),
    ("sel1 and not filter", {"a": "1"}, True),
    ("1 of sel*", {"b": "2"}, True),
    ("all of sel*", {"b": "2"}, False),
    ("all of sel*", {"a": "1", "b": "2"}, True),
    ("1 of them", {"c": "3"}, True),
    ("all of them", {"a": "1", "b": "2", "c": "3"}, True),
    ("not 1 of sel*", {"c": "3"}, True),
    ("(sel1 or sel2) and not filter", {"b": "2", "c": "3"}, False),
]


@pytest.mark.parametrize("condition,fields,expected", CONDITION_CASES)
def test_conditions(tmp_path: Path, condition: str, fields: dict, expected: bool) -> None:
    detection = f"sel1:\n    a: '1'\nsel2:\n    b: '2'\nfilter:\n    c: '3'\ncondition: {condition}"
    rules = ruleset_from(tmp_path, simple_rule(detection))
    assert fired(rules, event(fields)) is expected


KEYWORD_CASES = [
    ("keywords:\n    - 'Failed password'\ncondition: keywords", "sshd: FAILED PASSWORD for x", True),
    ("keywords:\n    - 'Failed password'\ncondition: keywords", "sshd: Accepted", False),
    ("keywords:\n    - 'Trojan*FOUND'\ncondition: keywords", "clamd: /x: Trojan.Agent FOUND", True),
    ("keywords:\n    '|all':\n        - pkexec\n        - XAUTHORITY\ncondition: keywords",
     "pkexec: bad XAUTHORITY value", True),
    ("keywords:\n    '|all':\n        - pkexec\n        - XAUTHORITY\ncondition: keywords",
     "pkexec: nothing", False),
    ("keywords:\n    - '|re': 'id=\\d{4}'\ncondition: keywords", "x id=1234", True),
    ("sel:\n    - 'new user'\nuid:\n    - 'UID=0,'\ncondition: all of them",
     "useradd: new user: name=x, UID=0, GID=0", True),
]


@pytest.mark.parametrize("detection,text,expected", KEYWORD_CASES)
def test_keywords_search_the_text(tmp_path: Path, detection: str, text: str,
                                  expected: bool) -> None:
    rules = ruleset_from(tmp_path, simple_rule(detection))
    assert not rules.failures, rules.failures
    assert fired(rules, event({"message": text}, text=text)) is expected


def test_logsource_routing(tmp_path: Path) -> None:
    rule = simple_rule("sel:\n    a: '1'\ncondition: sel", logsource="product: linux\n    service: sshd")
    rules = ruleset_from(tmp_path, rule)
    sshd = LogSource("linux", None, frozenset({"sshd", "auth", "syslog"}))
    cron = LogSource("linux", None, frozenset({"cron", "syslog"}))
    web = LogSource(None, "webserver", frozenset())
    assert fired(rules, event({"a": "1"}, source=sshd))
    assert not fired(rules, event({"a": "1"}, source=cron))
    assert not fired(rules, event({"a": "1"}, source=web))


def test_indexed_rules_still_match_every_listed_value(tmp_path: Path) -> None:
    """Rules indexed on an exact value (the fast path) match each value of the list."""
    detection = ("sel_a:\n    type: [EXECVE, syscall]\n    a0: x\nsel_b:\n    action: created\n"
                 "condition: 1 of sel_*")
    rules = ruleset_from(tmp_path, simple_rule(detection))
    assert fired(rules, event({"type": "execve", "a0": "X"}))
    assert fired(rules, event({"type": "SYSCALL", "a0": "x"}))
    assert fired(rules, event({"action": "created"}))
    assert not fired(rules, event({"type": "PATH", "a0": "x"}))


def test_placeholders_expand_from_settings(tmp_path: Path) -> None:
    detection = "sel:\n    USER: root\nfilter:\n    user|expand: '%admins%'\ncondition: sel and not filter"
    rules = ruleset_from(tmp_path, simple_rule(detection),
                         settings=RuleSettings(placeholders={"admins": ["alice", "bob"]}))
    assert not fired(rules, event({"USER": "root", "user": "alice"}))
    assert fired(rules, event({"USER": "root", "user": "mallory"}))
    empty = ruleset_from(tmp_path, simple_rule(detection),
                         settings=RuleSettings(placeholders={"admins": []}))
    assert fired(empty, event({"USER": "root", "user": "alice"}))


MALFORMED = [
    # (rule text, message fragment, field)
    (simple_rule("sel:\n    CommandLine|contians: x\ncondition: sel"), "contians",
     "detection.sel.CommandLine|contians"),
    (("id: 11111111-2222-3333-4444-555555555555\nlogsource:\n    product: linux\n"
     "detection:\n    sel:\n        a: b\n    condition: sel\n"), "title", "title"),
    (simple_rule("sel:\n    a: b\ncondition: sel and missing"), "missing", "detection.condition"),
    (simple_rule("sel:\n    a|re: '(unclosed'\ncondition: sel"), "(unclosed", "detection.sel.a|re"),
    (simple_rule("sel:\n    a|cidr: '10.0.0.0/33'\ncondition: sel"), "10.0.0.0/33",
     "detection.sel.a|cidr"),
    (simple_rule("sel:\n    user|expand: '%nobody_set_this%'\ncondition: sel"), "nobody_set_this",
     "user|expand"),
    (("title: corr\nname: c\ncorrelation:\n    type: event_count\n    rules: [nothing_here]\n"
     "    group-by: [x]\n    timespan: 1m\n    condition: {gte: 2}\n"), "nothing_here",
     "correlation.rules"),
    (("title: corr\nname: c\ncorrelation:\n    type: event_count\n    rules: [r]\n"
     "    timespan: forever\n    condition: {gte: 2}\n"), "forever", "correlation.timespan"),
    ("title: [unclosed\n", "invalid YAML at line", None),
]


@pytest.mark.parametrize("text,fragment,field", MALFORMED)
def test_malformed_rules_name_file_and_field(tmp_path: Path, text: str, fragment: str,
                                             field: str | None) -> None:
    rules = ruleset_from(tmp_path, text, name="broken_rule.yml")
    assert len(rules.failures) >= 1
    failure = rules.failures[0]
    assert failure.path.endswith("broken_rule.yml")
    assert fragment in failure.message
    assert failure.field == field


def test_timestamp_part_modifiers(tmp_path: Path) -> None:
    rules = ruleset_from(tmp_path, simple_rule("sel:\n    '@timestamp|hour': 3\ncondition: sel"))
    assert not rules.failures, rules.failures
    assert fired(rules, event({"x": 1}, t=3 * 3600 + 120))  # 03:02 UTC
    assert not fired(rules, event({"x": 1}, t=4 * 3600))


def test_sigma_filters_apply_to_the_rules_they_name(tmp_path: Path) -> None:
    rule = simple_rule("sel:\n    action: sudo_command\ncondition: sel",
                       rule_id="0a1b2c3d-0000-4000-8000-000000000001")
    sigma_filter = ("title: admins may sudo\nlogsource:\n    product: linux\n"
                    "filter:\n    rules:\n        - 0a1b2c3d-0000-4000-8000-000000000001\n"
                    "    selection:\n        user: alice\n    condition: not selection\n")
    rules = ruleset_from(tmp_path, rule, sigma_filter)
    assert not rules.failures, rules.failures
    assert not fired(rules, event({"action": "sudo_command", "user": "alice"}))
    assert fired(rules, event({"action": "sudo_command", "user": "mallory"}))
