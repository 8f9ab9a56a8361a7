"""Sigma correlation rules as streaming state machines, one state per group-by value.

`>`/`>=` conditions are evaluated on a sliding window (they fire as soon as the window holds
enough), the others (`<`, `<=`, `==`, `!=`) on tumbling windows that start at a group's first
event and are judged when they end, because "fewer than N" is only known once the time is up.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from sigma.correlations import (
    CorrelationConditionAND,
    CorrelationConditionNOT,
    CorrelationConditionOR,
    SigmaExtendedCorrelationCondition,
    SigmaRuleReference,
)
from sigma.correlations import (
    SigmaCorrelationConditionOperator as Op,
)
from sigma.correlations import (
    SigmaCorrelationType as Kind,
)

from stackwarden.agent.logs.sigma.values import number

_OPS: dict[Op, Callable[[float, float], bool]] = {
    Op.LT: lambda a, b: a < b, Op.LTE: lambda a, b: a <= b, Op.GT: lambda a, b: a > b,
    Op.GTE: lambda a, b: a >= b, Op.EQ: lambda a, b: a == b, Op.NEQ: lambda a, b: a != b,
}
_SLIDING = {Op.GT, Op.GTE}
MET = object()  # feed(): the condition holds now


@dataclass(frozen=True, slots=True)
class Trigger:
    """A correlation whose condition became true for one group."""

    count: int  # events (or correlated alerts) in the window
    first: float
    last: float
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class _Window:
    events: deque[tuple[float, Any]] = field(default_factory=deque)
    counter: Counter[Any] = field(default_factory=Counter)
    start: float = 0.0  # tumbling windows: when the current one began
    last: float = 0.0
    seen: dict[int, float] = field(default_factory=dict)  # temporal: rule position -> last time
    chain: list[float | None] = field(default_factory=list)  # temporal_ordered: stage -> start


class Correlation:
    """The state of one correlation rule: windows per group, fed matches of its rules."""

    def __init__(self, kind: Kind, timespan: float, op: Op | None, threshold: float,
                 value_fields: list[tuple[str, ...]], references: int,
                 extended: SigmaExtendedCorrelationCondition | None = None,
                 reference_names: list[str] | None = None, percentile: int | None = None) -> None:
        self.kind = kind
        self.timespan = timespan
        self.op = op
        self.threshold = threshold
        self.compare = _OPS[op] if op is not None else None
        self.value_fields = value_fields  # per referenced rule: the field(s) to aggregate
        self.references = references
        self.extended = extended
        self.reference_names = reference_names or []
        self.percentile = percentile
        self.sliding = kind in (Kind.TEMPORAL, Kind.TEMPORAL_ORDERED) or op in _SLIDING
        self.groups: dict[Hashable, _Window] = {}

    def feed(self, position: int, group: Hashable, t: float,
             fields: dict[str, Any]) -> Trigger | object | None:
        """Record one match of referenced rule `position`.

        Returns MET when the condition holds now (`trigger(group)` gives the details), a
        Trigger for a tumbling window that just ended with its condition true, or None.
        """
        window = self.groups.get(group)
        if window is None:
            window = self.groups[group] = _Window(start=t)
            if self.kind is Kind.TEMPORAL_ORDERED:
                window.chain = [None] * self.references
        ended = None
        if window.events and t < window.last - self.timespan:
            # The clock went back by more than a window (files merged out of order, a
            # concatenated log): what came before cannot correlate with this; start over.
            window.events.clear()
            window.counter.clear()
            window.seen.clear()
            window.chain = [None] * self.references if window.chain else []
            window.start = t
        if not self.sliding and t - window.start > self.timespan:
            ended = self._judge_bucket(window)
            window.events.clear()
            window.counter.clear()
            window.start = t
        window.last = max(window.last, t) if window.events else t
        value: Any = None
        if self.kind in (Kind.VALUE_COUNT, Kind.VALUE_SUM, Kind.VALUE_AVG,
                         Kind.VALUE_PERCENTILE, Kind.VALUE_MEDIAN):
            value = _value(fields, self.value_fields[position])
            if value is None:
                return ended
            if self.kind is not Kind.VALUE_COUNT:
                value = number(value)
                if value is None:
                    return ended
        window.events.append((t, value))
        if self.kind is Kind.VALUE_COUNT:
            window.counter[value] += 1
        if self.sliding:
            self._evict(window, t - self.timespan)
        if self.kind is Kind.TEMPORAL:
            window.seen[position] = t
            return self._temporal(window, t) or ended
        if self.kind is Kind.TEMPORAL_ORDERED:
            return self._ordered(window, position, t) or ended
        if self.sliding:
            aggregate = self._aggregate(window)
            if aggregate is not None and self.compare(aggregate, self.threshold):  # type: ignore[misc]
                return MET
        return ended

    def trigger(self, group: Hashable) -> Trigger:
        """What a MET condition amounts to for a group (computed only when an incident opens)."""
        window = self.groups[group]
        return Trigger(len(window.events), _earliest(window), window.last, self._detail(window))

    def flush(self, now: float | None = None) -> list[tuple[Hashable, Trigger]]:
        """Judge tumbling windows that ended (all of them when `now` is None); drop idle groups."""
        fired: list[tuple[Hashable, Trigger]] = []
        for group, window in list(self.groups.items()):
            if now is not None and now - window.last <= self.timespan:
                continue
            if not self.sliding:
                trigger = self._judge_bucket(window)
                if trigger is not None:
                    fired.append((group, trigger))
            del self.groups[group]
        return fired

    # ------------------------------------------------------------------------------ helpers

    def _evict(self, window: _Window, oldest: float) -> None:
        events = window.events
        while events and events[0][0] < oldest:
            _, value = events.popleft()
            if self.kind is Kind.VALUE_COUNT:
                window.counter[value] -= 1
                if not window.counter[value]:
                    del window.counter[value]

    def _aggregate(self, window: _Window) -> float | None:
        if self.kind is Kind.EVENT_COUNT:
            return len(window.events)
        if self.kind is Kind.VALUE_COUNT:
            return len(window.counter)
        values = [v for _, v in window.events]
        if not values:
            return None
        if self.kind is Kind.VALUE_SUM:
            return sum(values)
        if self.kind is Kind.VALUE_AVG:
            return sum(values) / len(values)
        values.sort()
        if self.kind is Kind.VALUE_MEDIAN:
            middle = len(values) // 2
            return values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2
        rank = max(0, math.ceil((self.percentile or 50) / 100 * len(values)) - 1)
        return values[rank]

    def _detail(self, window: _Window) -> dict[str, Any]:
        if self.kind is Kind.VALUE_COUNT:
            return {"distinct": len(window.counter),
                    "values": sorted(map(str, window.counter))[:20]}
        if self.kind in (Kind.EVENT_COUNT, Kind.TEMPORAL, Kind.TEMPORAL_ORDERED):
            return {}
        return {"aggregate": self._aggregate(window)}

    def _judge_bucket(self, window: _Window) -> Trigger | None:
        if not window.events:
            return None
        aggregate = self._aggregate(window)
        if aggregate is None or not self.compare(aggregate, self.threshold):  # type: ignore[misc]
            return None
        return Trigger(len(window.events), _earliest(window), window.last, self._detail(window))

    def _temporal(self, window: _Window, t: float) -> Trigger | None:
        oldest = t - self.timespan
        present = {pos for pos, seen in window.seen.items() if seen >= oldest}
        if self.extended is not None:
            names = {self.reference_names[pos] for pos in present}
            met = _evaluate(self.extended.parsed, names)
        else:
            met = len(present) == self.references
        if not met:
            return None
        return Trigger(len(window.events), _earliest(window), t)

    def _ordered(self, window: _Window, position: int, t: float) -> Trigger | None:
        # chain[i]: the latest start of a sequence that has reached stage i (later starts
        # leave more time for the stages still to come).
        chain, oldest = window.chain, t - self.timespan
        if position == 0:
            chain[0] = t
        else:
            previous = chain[position - 1]
            if previous is not None and previous >= oldest:
                chain[position] = max(chain[position] or previous, previous)
        done = chain[-1]
        if done is None or done < oldest:
            return None
        chain[:] = [None] * self.references  # a completed sequence starts over
        return Trigger(len(window.events), max(done, _earliest(window)), t)


def _earliest(window: _Window) -> float:
    return min(t for t, _ in window.events) if window.events else window.start


def _value(fields: dict[str, Any], names: tuple[str, ...]) -> Any:
    if len(names) == 1:
        value = fields.get(names[0])
        return tuple(value) if isinstance(value, list) else value
    values = tuple(fields.get(name) for name in names)
    return None if all(v is None for v in values) else values


def _evaluate(node: Any, present: set[str]) -> bool:
    if isinstance(node, SigmaRuleReference):
        return node.reference in present
    if isinstance(node, CorrelationConditionAND):
        return all(_evaluate(arg, present) for arg in node.args)
    if isinstance(node, CorrelationConditionOR):
        return any(_evaluate(arg, present) for arg in node.args)
    if isinstance(node, CorrelationConditionNOT):
        return not _evaluate(node.args[0], present)
    raise ValueError(f"unsupported correlation condition element {type(node).__name__}")


class CountCorrelation(Correlation):
    """event_count with >= / >: only the times of each group's window are kept (hot path)."""

    def __init__(self, **spec: Any) -> None:
        super().__init__(**spec)
        self.times: dict[Hashable, deque[float]] = {}
        self.strict = spec["op"] is Op.GT

    def feed(self, position: int, group: Hashable, t: float,
             fields: dict[str, Any]) -> Trigger | object | None:
        """Record one event; MET when the window holds enough."""
        times = self.times.get(group)
        if times is None:
            times = self.times[group] = deque()
        elif times and t < times[-1] - self.timespan:
            times.clear()  # the clock went back by more than a window: start over
        times.append(t)
        oldest = t - self.timespan
        while times[0] < oldest:
            times.popleft()
        count = len(times)
        return MET if (count > self.threshold if self.strict else count >= self.threshold) \
            else None

    def trigger(self, group: Hashable) -> Trigger:
        """Count, first and last time of the group's window."""
        times = self.times[group]
        return Trigger(len(times), min(times), max(times))

    def flush(self, now: float | None = None) -> list[tuple[Hashable, Trigger]]:
        """Drop idle groups (sliding windows have nothing to judge at their end)."""
        if now is None:
            self.times.clear()
        else:
            for group in [g for g, times in self.times.items()
                          if not times or now - times[-1] > self.timespan]:
                del self.times[group]
        return []


def make_correlation(**spec: Any) -> Correlation:
    """The state machine for a correlation spec (a specialised one for plain counting)."""
    if spec["kind"] is Kind.EVENT_COUNT and spec["op"] in _SLIDING:
        return CountCorrelation(**spec)
    return Correlation(**spec)
