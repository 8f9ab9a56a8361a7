"""Run compiled Sigma rules over a stream of events: routing, matching, correlation, incidents.

Each event is evaluated only against the rules whose log source accepts it (the route is
computed once per distinct log source), and within a route rules that require an exact field
value are indexed on it, so an auditd `PATH` record never calls the fifty `EXECVE` rules.
Matches become incidents: one per (rule, group) that stays open while matches keep coming
within the rule's window, reported when it opens and again, with final counts, when it closes.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from stackwarden.agent.logs.alerts import Alert
from stackwarden.agent.logs.events import LogEvent, LogSource
from stackwarden.agent.logs.sigma.correlate import MET, Correlation, Trigger, make_correlation
from stackwarden.agent.logs.sigma.ruleset import (
    CompiledCorrelation as _Corr,
)
from stackwarden.agent.logs.sigma.ruleset import (
    CompiledRule as _Rule,
)
from stackwarden.agent.logs.sigma.ruleset import (
    RuleSet,
)
from stackwarden.agent.logs.sigma.values import as_text

SAMPLE_CHARS = 1024
_SWEEP_EVERY = 8192


@dataclass(slots=True)
class _Route:
    needs_text: bool
    plain: list[_Rule]
    indexed: list[tuple[str, dict[str, list[_Rule]]]]
    dedupe: bool = False


@dataclass(slots=True)
class _Incident:
    owner: _Rule | _Corr
    group: tuple[tuple[str, Any], ...]
    count: int
    first: float
    last: float
    origin: str
    line: int
    sample: str
    detail: dict[str, Any]


class RuleEngine:
    """Evaluate a RuleSet over events; stateful (windows and incidents), one per stream."""

    def __init__(self, ruleset: RuleSet) -> None:
        self.ruleset = ruleset
        self._states: list[Correlation] = [make_correlation(**c.spec)
                                           for c in ruleset.correlations]
        self._routes: dict[LogSource, _Route] = {}
        self._by_identity: dict[int, tuple[LogSource, _Route]] = {}
        self._open: dict[tuple[str, int, Hashable], _Incident] = {}
        self._closed: list[Alert] = []
        self._clock = 0.0
        self._timed = False  # some event had a time
        self._seen = 0
        self.matches = 0  # rule matches (before incident grouping), for statistics
        self._per_rule = [0] * len(ruleset.rules)

    # ---------------------------------------------------------------------------- public

    def process(self, event: LogEvent) -> list[Alert]:
        """Evaluate one event; returns the alerts of incidents it opened (often none)."""
        t = event.time
        if t is None:
            t = self._clock
        else:
            self._timed = True
            self._clock = max(self._clock, t)
        source = event.source
        cached = self._by_identity.get(id(source))
        if cached is not None and cached[0] is source:
            route = cached[1]
        else:  # decoders reuse a few LogSource objects: hashing one per event is avoidable
            known = self._routes.get(source)
            if known is None:
                known = self._routes[source] = self._route(source)
            route = known
            self._by_identity[id(source)] = (source, route)
        fields = event.fields
        text = event.text.lower() if route.needs_text else ""
        matched: list[_Rule] | None = None
        for rule in route.plain:
            if rule.detection.match(fields, text, event):
                matched = matched or []
                matched.append(rule)
        for name, table in route.indexed:
            value = fields.get(name)
            if value is None:
                continue
            for rule in _candidates(table, value):
                if rule.detection.match(fields, text, event):
                    matched = matched or []
                    matched.append(rule)
        self._seen += 1
        if self._seen % _SWEEP_EVERY == 0:
            self._sweep(self._clock)
        if matched is None:
            return []
        if route.dedupe and len(matched) > 1:
            matched = list({id(rule): rule for rule in matched}.values())
        out: list[Alert] = []
        if len(matched) == 1:  # the common case: consumers are pre-sorted
            rule = matched[0]
            self.matches += 1
            self._per_rule[rule.index] += 1
            if rule.output:
                self._incident(rule, (), t, event, None, out)
            for corr_index, position in rule.consumers:
                self._feed(corr_index, position, fields, t, event, out)
            return out
        feeds: list[tuple[int, int]] = []
        for rule in matched:
            self.matches += 1
            self._per_rule[rule.index] += 1
            if rule.output:
                self._incident(rule, (), t, event, None, out)
            feeds.extend(rule.consumers)
        # Later stages first, so one event never advances an ordered sequence twice.
        for corr_index, position in sorted(feeds, key=lambda cp: -cp[1]):
            self._feed(corr_index, position, fields, t, event, out)
        return out

    def rule_matches(self) -> dict[str, int]:
        """How many events each rule matched so far (rules that matched nothing left out)."""
        return {rule.title: count for rule, count in zip(self.ruleset.rules, self._per_rule,
                                                         strict=True) if count}

    def accepts(self, source: LogSource) -> bool:
        """Whether any rule reads events of this log source (decoders may skip the others)."""
        route = self._routes.get(source)
        if route is None:
            route = self._routes[source] = self._route(source)
        return bool(route.plain or route.indexed)

    def expire(self, now: float) -> list[Alert]:
        """Close incidents idle for longer than their window; returns the final alerts."""
        self._sweep(now)
        closed, self._closed = self._closed, []
        return closed

    def finish(self) -> list[Alert]:
        """End of input: judge every open window, close every incident (final alerts)."""
        for corr, state in zip(self.ruleset.correlations, self._states, strict=True):
            for group, trigger in state.flush(None):
                self._open_from_trigger(corr, group, trigger, None, [])
        for key in list(self._open):
            self._close(key)
        closed, self._closed = self._closed, []
        return closed

    # --------------------------------------------------------------------------- routing

    def _route(self, source: LogSource) -> _Route:
        plain: list[_Rule] = []
        tables: dict[str, dict[str, list[_Rule]]] = {}
        needs_text = False
        for rule in self.ruleset.rules:
            if not source.accepts(*rule.logsource):
                continue
            needs_text = needs_text or rule.detection.needs_text
            keys = rule.detection.discriminator
            if keys is None:
                plain.append(rule)
                continue
            for name, values in keys:
                table = tables.setdefault(name, {})
                for value in values:
                    table.setdefault(value, []).append(rule)
        # A rule indexed under several fields may come up twice for one event: dedupe then.
        multi = any(len(r.detection.discriminator or ()) > 1 for r in self.ruleset.rules)
        return _Route(needs_text, plain, list(tables.items()), multi)

    # ------------------------------------------------------------------------- incidents

    def _incident(self, owner: _Rule | _Corr, group: Hashable, t: float, event: LogEvent | None,
                  trigger: Trigger | None, out: list[Alert]) -> bool:
        """Extend the open incident of (owner, group), or open one; True when opened."""
        kind = "rule" if isinstance(owner, _Rule) else "corr"
        key = (kind, owner.index, group)
        window = self.ruleset.settings.simple_window if kind == "rule" else owner.window  # type: ignore[union-attr]
        incident = self._open.get(key)
        if incident is not None:
            if incident.last - window <= t <= incident.last + window:
                incident.count += 1
                incident.first = min(incident.first, t)
                incident.last = max(incident.last, t)
                return False
            self._close(key)
        if kind == "corr" and trigger is None:
            return False
        names = owner.group_names if isinstance(owner, _Corr) else ()
        values: tuple[Any, ...] = group if isinstance(group, tuple) else ()
        incident = _Incident(
            owner, tuple(zip(names, values, strict=False)) if names else (),
            trigger.count if trigger else 1, trigger.first if trigger else t,
            trigger.last if trigger else t,
            event.origin if event else "", event.line if event else 0,
            event.text[:SAMPLE_CHARS] if event else "", dict(trigger.detail) if trigger else {})
        self._open[key] = incident
        if owner.output:  # correlations feeding others still track incidents, silently
            out.append(self._alert(incident, closed=False))
        return True

    def _feed(self, corr_index: int, position: int, fields: dict[str, Any], t: float,
              event: LogEvent | None, out: list[Alert]) -> None:
        corr = self.ruleset.correlations[corr_index]
        names = corr.group_fields[position]
        if len(names) == 1:
            value = fields.get(names[0])
            group: tuple[Hashable, ...] = (value if value.__class__ is str else _hashable(value),)
        else:
            group = tuple(_hashable(fields.get(name)) for name in names)
        state = self._states[corr_index]
        result = state.feed(position, group, t, fields)
        key = ("corr", corr_index, group)
        incident = self._open.get(key)
        if incident is not None and incident.last - corr.window <= t <= incident.last + corr.window:
            incident.count += 1  # the open incident grows: no new alert
            incident.first = min(incident.first, t)
            incident.last = max(incident.last, t)
            return
        if result is None:
            return
        trigger = state.trigger(group) if result is MET else result
        if self._incident(corr, group, t, event, trigger, out):  # type: ignore[arg-type]
            self._chain(corr, group, t, event, out)

    def _open_from_trigger(self, corr: _Corr, group: Hashable, trigger: Trigger,
                           event: LogEvent | None, out: list[Alert]) -> None:
        if self._incident(corr, group, trigger.last, event, trigger, out):
            self._chain(corr, group, trigger.last, event, out)

    def _chain(self, corr: _Corr, group: Any, t: float, event: LogEvent | None,
               out: list[Alert]) -> None:
        """A correlation that fired is one event for the correlations built on it."""
        synthetic = dict(zip(corr.group_names, group))
        for consumer, position in corr.consumers:
            self._feed(consumer, position, synthetic, t, event, out)

    def _close(self, key: tuple[str, int, Hashable]) -> None:
        incident = self._open.pop(key)
        if incident.owner.output:
            self._closed.append(self._alert(incident, closed=True))

    def _sweep(self, now: float) -> None:
        for key, incident in list(self._open.items()):
            owner = incident.owner
            window = owner.window if isinstance(owner, _Corr) else \
                self.ruleset.settings.simple_window
            if now - incident.last > window:
                self._close(key)
        for corr, state in zip(self.ruleset.correlations, self._states, strict=True):
            for group, trigger in state.flush(now):
                self._open_from_trigger(corr, group, trigger, None, [])

    def _alert(self, incident: _Incident, *, closed: bool) -> Alert:
        owner = incident.owner
        # Without any timed event, times are the zero clock's: nothing to report.
        first = incident.first if self._timed else None
        last = incident.last if self._timed else None
        return Alert(owner.key, owner.title, owner.level,
                     owner.kind if isinstance(owner, _Corr) else "detection",
                     incident.group, incident.count, first, last,
                     incident.origin, incident.line, incident.sample, owner.tags, owner.path,
                     incident.detail, closed, owner.name)


def _candidates(table: dict[str, list[_Rule]], value: Any) -> list[_Rule]:
    if value.__class__ is str:
        return table.get(value.lower(), [])
    if value.__class__ is list:
        seen: dict[int, _Rule] = {}
        for item in value:
            for rule in table.get(as_text(item).lower(), []):
                seen[rule.index] = rule
        return list(seen.values())
    return table.get(as_text(value).lower(), [])


def _hashable(value: Any) -> Hashable:
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    return value
