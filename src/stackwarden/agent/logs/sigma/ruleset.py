"""Parsed Sigma rules compiled into a RuleSet: matchers, correlation specs, who feeds whom.

A RuleSet is immutable configuration; every RuleEngine built on it keeps its own state.
Rules referred to by a correlation feed it (and alert themselves only with `generate`);
correlations may feed other correlations.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sigma.correlations import SigmaCorrelationRule, SigmaExtendedCorrelationCondition
from sigma.exceptions import SigmaError
from sigma.rule import SigmaRule

from stackwarden.agent.logs.sigma.compiler import CompiledDetection, CompileError, compile_rule
from stackwarden.agent.logs.sigma.loader import LoadedRules, RuleFailure, failure_of, load_rules


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
class CompiledRule:
    """One plain rule, compiled."""

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
class CompiledCorrelation:
    """One correlation rule: how to build its state, and what it groups by."""

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

    rules: list[CompiledRule]
    correlations: list[CompiledCorrelation]
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
    rules: list[CompiledRule] = []
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
        compiled = CompiledRule(len(rules), **_meta(rule),
                         logsource=(ls.product, ls.category, ls.service), detection=detection)
        by_object[id(rule)] = ("rule", compiled.index)
        rules.append(compiled)
    correlations: list[CompiledCorrelation] = []
    for corr in loaded.correlations:  # pySigma orders referenced rules first
        refs = [by_object.get(id(ref.rule)) for ref in corr.referenced_rules]
        if any(r is None for r in refs):
            failures.append(RuleFailure(_meta(corr)["path"], "refers to a rule that did not "
                                        "compile", "correlation.rules", corr.title))
            continue
        compiled_corr = _compile_correlation(corr, len(correlations), settings)
        for position, (kind, index) in enumerate(refs):  # type: ignore[misc]
            owner: CompiledRule | CompiledCorrelation = (
                rules[index] if kind == "rule" else correlations[index])
            owner.consumers.append((compiled_corr.index, position))
            if not corr.generate:
                owner.output = False
        by_object[id(corr)] = ("corr", compiled_corr.index)
        correlations.append(compiled_corr)
    for consumers in [r.consumers for r in rules] + [c.consumers for c in correlations]:
        consumers.sort(key=lambda cp: -cp[1])  # later stages first (see RuleEngine.process)
    return RuleSet(rules, correlations, failures, settings)


def _compile_correlation(corr: SigmaCorrelationRule, index: int,
                         settings: RuleSettings) -> CompiledCorrelation:
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
    return CompiledCorrelation(index, **meta, kind=corr.type.name.lower(), window=timespan,
                 group_names=group_names, group_fields=group_fields, spec=spec)


def _alias(corr: SigmaCorrelationRule, name: str, reference: str, rule: Any) -> str:
    alias = corr.aliases.aliases.get(name)
    if alias is None:
        return name
    for ref, field_name in alias.mapping.items():
        if ref.reference == reference or getattr(ref, "rule", None) is rule:
            return field_name
    return name
