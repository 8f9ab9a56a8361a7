"""Run compiled Sigma rules over a stream of events: routing, matching, correlation, incidents.

Each event is evaluated only against the rules whose log source accepts it (the route is
computed once per distinct log source), and within a route rules that require an exact field
value are indexed on it, so an auditd `PATH` record never calls the fifty `EXECVE` rules.
Matches become incidents: one per (rule, group) that stays open while matches keep coming
within the rule's window, reported when it opens and again, with final counts, when it closes.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sigma.correlations import SigmaCorrelationRule, SigmaExtendedCorrelationCondition
from sigma.exceptions import SigmaError
from sigma.rule import SigmaRule

from stackwarden.agent.logs.alerts import Alert
from stackwarden.agent.logs.events import LogEvent, LogSource
from stackwarden.agent.logs.sigma.compiler import CompiledDetection, CompileError, compile_rule
from stackwarden.agent.logs.sigma.correlate import MET, Correlation, Trigger, make_correlation
from stackwarden.agent.logs.sigma.loader import LoadedRules, RuleFailure, failure_of, load_rules
from stackwarden.agent.logs.sigma.values import as_text

SAMPLE_CHARS = 1024
_SWEEP_EVERY = 8192


@dataclass(frozen=True, slots=True)
class CorrelationOverride:
    """Change a correlation's threshold and/or window without editing its file."""

    threshold: float | None = None
    timespan: float | None = None  # seconds


@dataclass(frozen=True, slots=True)
class RuleSettings:
    """How rules are instantiated: placeholder values, correlation overrides, dedup window."""

    placeholders: Mapping[str, Sequence[str]] = field(default_factory=dict)
    overrides: Mapping[str, CorrelationOverride] = field(default_factory=dict)
    # Matches of a plain rule within this many seconds of the previous one join its incident.
    simple_window: float = 300.0


@dataclass(slots=True)
class _Rule:
    index: int
    key: str
    name: str
    title: str
    level: str
    tags: tuple[str, ...]
    path: str
    logsource: tuple[str | None, str | None, str | None]
    detection: CompiledDetection
    output: bool = True
    consumers: list[tuple[int, int]] = field(default_factory=list)  # (correlation, position)


@dataclass(slots=True)
class _Corr:
    index: int
    key: str
    name: str
    title: str
    level: str
    tags: tuple[str, ...]
    path: str
    kind: str
    window: float
    group_names: tuple[str, ...]
    group_fields: list[tuple[str, ...]]  # per referenced rule, after aliases
    spec: dict[str, Any]  # Correlation(...) arguments: each engine gets its own state
    output: bool = True
    consumers: list[tuple[int, int]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class RuleSet:
    """Compiled rules and correlations, ready for any number of engines."""

    rules: list[_Rule]
    correlations: list[_Corr]
    failures: list[RuleFailure]
    settings: RuleSettings

    @classmethod
    def load(cls, paths: Iterable[Any], settings: RuleSettings | None = None) -> RuleSet:
        """Load and compile rule files (failures are kept, with file and field, not raised)."""
        settings = settings or RuleSettings()
        return compile_ruleset(load_rules(paths, settings.placeholders), settings)

    def __len__(self) -> int:
        return len(self.rules) + len(self.correlations)


def _key(rule: SigmaRule | SigmaCorrelationRule) -> str:
    return str(rule.id) if rule.id else (rule.name or rule.title)


def _meta(rule: SigmaRule | SigmaCorrelationRule) -> dict[str, Any]:
    return {"key": _key(rule), "name": rule.name or "", "title": rule.title,
            "level": str(rule.level.name).lower() if rule.level else "medium",
            "tags": tuple(str(t) for t in rule.tags),
            "path": str(rule.source.path) if rule.source else ""}


def compile_ruleset(loaded: LoadedRules, settings: RuleSettings) -> RuleSet:
    """Compile parsed rules into matchers and correlation specs."""
    failures = list(loaded.failures)
    rules: list[_Rule] = []
    by_object: dict[int, tuple[str, int]] = {}
    for rule in loaded.rules:
        try:
            detection = compile_rule(rule)
        except CompileError as exc:
            failures.append(RuleFailure(_meta(rule)["path"], str(exc), exc.field, rule.title))
            continue
        except SigmaError as exc:  # conditions are parsed lazily, here
            failures.append(failure_of(rule, exc))
            continue
        ls = rule.logsource
        compiled = _Rule(len(rules), **_meta(rule),
                         logsource=(ls.product, ls.category, ls.service), detection=detection)
        by_object[id(rule)] = ("rule", compiled.index)
        rules.append(compiled)
    correlations: list[_Corr] = []
    for corr in loaded.correlations:  # pySigma orders referenced rules first
        refs = [by_object.get(id(ref.rule)) for ref in corr.referenced_rules]
        if any(r is None for r in refs):
            failures.append(RuleFailure(_meta(corr)["path"], "refers to a rule that did not "
                                        "compile", "correlation.rules", corr.title))
            continue
        compiled_corr = _compile_correlation(corr, len(correlations), settings)
        for position, (kind, index) in enumerate(refs):  # type: ignore[misc]
            owner: _Rule | _Corr = rules[index] if kind == "rule" else correlations[index]
            owner.consumers.append((compiled_corr.index, position))
            if not corr.generate:
                owner.output = False
        by_object[id(corr)] = ("corr", compiled_corr.index)
        correlations.append(compiled_corr)
    for consumers in [r.consumers for r in rules] + [c.consumers for c in correlations]:
        consumers.sort(key=lambda cp: -cp[1])  # later stages first (see RuleEngine.process)
    return RuleSet(rules, correlations, failures, settings)


def _compile_correlation(corr: SigmaCorrelationRule, index: int,
                         settings: RuleSettings) -> _Corr:
    meta = _meta(corr)
    override = settings.overrides.get(meta["key"]) or settings.overrides.get(corr.name or "")
    timespan = float(corr.timespan.seconds)
    condition = corr.condition
    extended = condition if isinstance(condition, SigmaExtendedCorrelationCondition) else None
    op = None if extended is not None else getattr(condition, "op", None)
    threshold = float(getattr(condition, "count", 0) or 0)
    if override is not None:
        timespan = override.timespan if override.timespan is not None else timespan
        threshold = override.threshold if override.threshold is not None else threshold
    group_names = tuple(corr.group_by or ())
    group_fields, value_fields = [], []
    fieldref = getattr(condition, "fieldref", None)
    value_names = (fieldref,) if isinstance(fieldref, str) else tuple(fieldref or ())
    for ref in corr.referenced_rules:
        group_fields.append(tuple(_alias(corr, name, ref.reference, ref.rule)
                                  for name in group_names))
        value_fields.append(tuple(_alias(corr, name, ref.reference, ref.rule)
                                  for name in value_names))
    spec = {"kind": corr.type, "timespan": timespan, "op": op, "threshold": threshold,
            "value_fields": value_fields, "references": len(corr.referenced_rules),
            "extended": extended, "percentile": getattr(condition, "percentile", None),
            "reference_names": [ref.reference for ref in corr.referenced_rules]}
    return _Corr(index, **meta, kind=corr.type.name.lower(), window=timespan,
                 group_names=group_names, group_fields=group_fields, spec=spec)


def _alias(corr: SigmaCorrelationRule, name: str, reference: str, rule: Any) -> str:
    alias = corr.aliases.aliases.get(name)
    if alias is None:
        return name
    for ref, field_name in alias.mapping.items():
        if ref.reference == reference or getattr(ref, "rule", None) is rule:
            return field_name
    return name


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
