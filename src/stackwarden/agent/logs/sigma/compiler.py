"""Compile a pySigma rule's parsed condition tree into one Python closure per rule.

A matcher is called as `match(fields, text, event)`: `fields` is the event's field dict,
`text` its lower-cased text (only computed when some rule on the route needs keywords).
The tree is simplified while compiling: values tested against the same field under an OR
become one merged test, keywords under an OR become one tuple of needles, and the operands of
an AND are reordered cheapest first so the common case (no match) returns early.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.rule import SigmaRule
from sigma.types import (
    SigmaBool,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaExpansion,
    SigmaFieldReference,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaString,
    SigmaTimestampPart,
    TimestampPart,
)

from stackwarden.agent.logs.events import LogEvent
from stackwarden.agent.logs.sigma import values as V

Matcher = Callable[[dict[str, Any], str, LogEvent], bool]
Keys = tuple[tuple[str, frozenset[str]], ...]


class CompileError(ValueError):
    """A rule uses something the evaluator cannot run; names the field when there is one."""

    def __init__(self, message: str, field: str | None = None) -> None:
        self.field = field
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class CompiledDetection:
    """A rule's detection as a closure, plus what the engine needs to route events to it."""

    match: Matcher
    needs_text: bool  # uses keywords: the engine must pass the lower-cased text
    # ((field, values), …): the rule can only match events where one of these fields has
    # one of its (lower-cased) values; the engine indexes rules on them, so most rules are
    # never called for most events. None: no such requirement was found.
    discriminator: Keys | None


@dataclass(frozen=True, slots=True)
class _Node:
    match: Matcher
    cost: int
    needs_text: bool
    keys: Keys | None = None  # true only when one of these fields has one of these values


def compile_rule(rule: SigmaRule) -> CompiledDetection:
    """Compile every condition of a rule (several conditions are OR-ed, as Sigma says)."""
    nodes = []
    for condition in rule.detection.parsed_condition:
        nodes.append(_compile(condition.parsed))
    node = nodes[0] if len(nodes) == 1 else _or(nodes)
    return CompiledDetection(node.match, node.needs_text, node.keys)


def _any_keys(nodes: list[_Node]) -> Keys | None:
    """Keys of an OR: every operand needs keys, and the union is the requirement."""
    if not nodes or any(n.keys is None for n in nodes):
        return None
    merged: dict[str, frozenset[str]] = {}
    for node in nodes:
        for name, values in node.keys:  # type: ignore[union-attr]
            merged[name] = merged.get(name, frozenset()) | values
    return tuple(merged.items())


def _best_keys(nodes: list[_Node]) -> Keys | None:
    """Keys of an AND: any operand's requirement holds; the one on fewest fields is best."""
    options = [n.keys for n in nodes if n.keys is not None]
    return min(options, key=len) if options else None


def _compile(item: Any) -> _Node:
    if isinstance(item, ConditionAND):
        return _and([_compile(arg) for arg in item.args])
    if isinstance(item, ConditionOR):
        return _compile_or(item.args)
    if isinstance(item, ConditionNOT):
        inner = _compile(item.args[0])
        match = inner.match
        return _Node(lambda f, t, e: not match(f, t, e), inner.cost, inner.needs_text)
    if isinstance(item, ConditionFieldEqualsValueExpression):
        return _field_node(item.field, [item.value])
    if isinstance(item, ConditionValueExpression):
        return _keyword_node([item.value])
    raise CompileError(f"unsupported condition element {type(item).__name__}")


def _compile_or(args: Sequence[Any]) -> _Node:
    by_field: dict[str, list[Any]] = {}
    keywords: list[Any] = []
    others: list[_Node] = []
    for arg in args:
        if isinstance(arg, ConditionFieldEqualsValueExpression) and _mergeable(arg.value):
            by_field.setdefault(arg.field, []).append(arg.value)
        elif isinstance(arg, ConditionValueExpression) and _mergeable(arg.value):
            keywords.append(arg.value)
        else:
            others.append(_compile(arg))
    nodes = [_field_node(name, vals) for name, vals in by_field.items()]
    if keywords:
        nodes.append(_keyword_node(keywords))
    return _or(nodes + others)


def _mergeable(value: Any) -> bool:
    return isinstance(value, (SigmaString, SigmaNumber)) and not isinstance(
        value, SigmaTimestampPart)


def _and(nodes: list[_Node]) -> _Node:
    nodes = sorted(nodes, key=lambda n: n.cost)
    needs_text = any(n.needs_text for n in nodes)
    cost = sum(n.cost for n in nodes)
    keys = _best_keys(nodes)
    if len(nodes) == 1:
        return nodes[0]
    if len(nodes) == 2:
        a, b = nodes[0].match, nodes[1].match
        return _Node(lambda f, t, e: a(f, t, e) and b(f, t, e), cost, needs_text, keys)
    matches = tuple(n.match for n in nodes)

    def match(f: dict[str, Any], t: str, e: LogEvent) -> bool:
        for m in matches:
            if not m(f, t, e):
                return False
        return True

    return _Node(match, cost, needs_text, keys)


def _or(nodes: list[_Node]) -> _Node:
    nodes = sorted(nodes, key=lambda n: n.cost)
    needs_text = any(n.needs_text for n in nodes)
    cost = sum(n.cost for n in nodes)
    keys = _any_keys(nodes)
    if len(nodes) == 1:
        return nodes[0]
    if len(nodes) == 2:
        a, b = nodes[0].match, nodes[1].match
        return _Node(lambda f, t, e: a(f, t, e) or b(f, t, e), cost, needs_text, keys)
    matches = tuple(n.match for n in nodes)

    def match(f: dict[str, Any], t: str, e: LogEvent) -> bool:
        for m in matches:
            if m(f, t, e):
                return True
        return False

    return _Node(match, cost, needs_text, keys)


# ----------------------------------------------------------------------------------- fields


def _field_node(name: str | None, values: list[Any]) -> _Node:
    """A test of one field against values linked by OR (merging strings into one test)."""
    if name is None:
        return _keyword_node(values)
    strings: list[V.StringPattern] = []
    others: list[_Node] = []
    for value in values:
        if isinstance(value, SigmaString):
            strings.append(_pattern(value, name))
        elif isinstance(value, SigmaExpansion):
            others.append(_field_node(name, list(value.values)))
        else:
            others.append(_special_field_node(name, value))
    if strings:
        test = V.merge_string_tests(strings)
        cost = 1 if all(p.kind == "eq" for p in strings) else 2 + len(strings) // 8
        keys = None
        if all(p.kind == "eq" and not p.cased for p in strings):
            keys = ((name, frozenset(p.text for p in strings)),)
        others.append(_Node(_field_matcher(name, test), cost, False, keys))
    return others[0] if len(others) == 1 else _or(others)


def _pattern(value: SigmaString, name: str | None) -> V.StringPattern:
    try:
        return V.string_pattern(value, keyword=name is None)
    except V.UnsupportedValue as exc:
        raise CompileError(str(exc), name) from exc


def _field_matcher(name: str, test: V.ValueTest) -> Matcher:
    def match(f: dict[str, Any], t: str, e: LogEvent) -> bool:
        v = f.get(name)
        if v is None:
            return False
        if v.__class__ is list:
            for item in v:
                if item is not None and test(item):
                    return True
            return False
        return test(v)

    return match


def _special_field_node(name: str, value: Any) -> _Node:
    if isinstance(value, SigmaNull):
        return _Node(lambda f, t, e: f.get(name) is None, 1, False)
    if isinstance(value, SigmaExists):
        if value.exists:
            return _Node(lambda f, t, e: f.get(name) is not None, 1, False)
        return _Node(lambda f, t, e: f.get(name) is None, 1, False)
    if isinstance(value, SigmaFieldReference):
        return _Node(_fieldref_matcher(name, value), 2, False)
    if isinstance(value, SigmaTimestampPart):
        return _Node(_timestamp_matcher(value), 2, False)
    try:
        test, cost = _value_test(value)
    except V.UnsupportedValue as exc:
        raise CompileError(str(exc), name) from exc
    return _Node(_field_matcher(name, test), cost, False)


def _value_test(value: Any) -> tuple[V.ValueTest, int]:
    if isinstance(value, SigmaRegularExpression):
        return V.regex_test(value), 5
    if isinstance(value, SigmaNumber):
        return V.number_test(value), 1
    if isinstance(value, SigmaCompareExpression):
        return V.compare_test(value), 2
    if isinstance(value, SigmaCIDRExpression):
        return V.cidr_test(value), 4
    if isinstance(value, SigmaBool):
        return V.bool_test(value), 1
    raise V.UnsupportedValue(f"values of type {type(value).__name__} are not supported")


def _fieldref_matcher(name: str, ref: SigmaFieldReference) -> Matcher:
    other = ref.field

    def match(f: dict[str, Any], t: str, e: LogEvent) -> bool:
        a, b = f.get(name), f.get(other)
        if a is None or b is None:
            return False
        a_text, b_text = V.as_text(a).lower(), V.as_text(b).lower()
        if ref.starts_with:
            return a_text.startswith(b_text)
        if ref.ends_with:
            return a_text.endswith(b_text)
        return a_text == b_text

    return match


_TIME_PARTS: dict[TimestampPart, Callable[[time.struct_time], int]] = {
    TimestampPart.MINUTE: lambda s: s.tm_min,
    TimestampPart.HOUR: lambda s: s.tm_hour,
    TimestampPart.DAY: lambda s: s.tm_mday,
    TimestampPart.WEEK: lambda s: int(time.strftime("%V", s)),
    TimestampPart.MONTH: lambda s: s.tm_mon,
    TimestampPart.YEAR: lambda s: s.tm_year,
}


def _timestamp_matcher(value: SigmaTimestampPart) -> Matcher:
    part, wanted = _TIME_PARTS[value.timestamp_part], value.number

    def match(f: dict[str, Any], t: str, e: LogEvent) -> bool:
        return e.time is not None and part(time.gmtime(e.time)) == wanted

    return match


# --------------------------------------------------------------------------------- keywords


def _keyword_node(values: list[Any]) -> _Node:
    """Field-less values: searched in the event's text (the line as logged)."""
    patterns: list[V.StringPattern] = []
    others: list[_Node] = []
    for value in values:
        if isinstance(value, SigmaString):
            patterns.append(_pattern(value, None))
        elif isinstance(value, SigmaNumber):
            patterns.append(V.StringPattern("contains", str(value.number), False))
        elif isinstance(value, SigmaExpansion):
            others.append(_keyword_node(list(value.values)))
        elif isinstance(value, SigmaRegularExpression):
            others.append(_Node(_raw_text_matcher(V.regex_test(value)), 5, True))
        else:
            raise CompileError(f"keyword values of type {type(value).__name__} are not supported")
    if patterns:
        lowered = [p for p in patterns if not p.cased]
        cased = [p for p in patterns if p.cased]
        if lowered:
            others.append(_Node(_text_matcher(lowered, cased=False), 3, True))
        if cased:
            others.append(_Node(_text_matcher(cased, cased=True), 3, True))
    return others[0] if len(others) == 1 else _or(others)


def _raw_text_matcher(test: V.ValueTest) -> Matcher:
    return lambda f, t, e: test(e.text)


def _text_matcher(patterns: list[V.StringPattern], *, cased: bool) -> Matcher:
    needles = tuple(p.text for p in patterns if p.kind == "contains")
    if len(needles) == len(patterns):
        if cased:
            return lambda f, t, e: any(n in e.text for n in needles)
        if len(needles) == 1:
            needle = needles[0]
            return lambda f, t, e: needle in t
        return lambda f, t, e: any(n in t for n in needles)
    test = V.merge_string_tests(patterns)
    if cased:
        return lambda f, t, e: test(e.text)
    # merge_string_tests lower-cases again: feed it the already lower-cased text
    return lambda f, t, e: test(t)
