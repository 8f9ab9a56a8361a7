"""Load Sigma rule files with pySigma; every rule that cannot load is a failure naming its file.

A bad file never stops the others: the YAML error, pySigma's own error, or the evaluator's
"cannot run this" error becomes a `RuleFailure` with the file, the rule and the field involved
(`detection.selection.CommandLine|contians`, `title`, `detection.condition`, …). The CLI turns
failures into one clear error each; the agent reports them and runs the rules that did load.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sigma import exceptions as sigma_errors
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError, SigmaRuleLocation
from sigma.rule import SigmaDetection, SigmaDetectionItem, SigmaRule
from sigma.types import Placeholder, SigmaString

MAX_RULE_FILE_BYTES = 1024 * 1024
RULE_SUFFIXES = (".yml", ".yaml")
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# pySigma names the problem by exception class; we name the rule attribute it concerns.
_FIELD_OF_ERROR: dict[type[SigmaError], str] = {
    sigma_errors.SigmaTitleError: "title",
    sigma_errors.SigmaIdentifierError: "id",
    sigma_errors.SigmaNameError: "name",
    sigma_errors.SigmaLogsourceError: "logsource",
    sigma_errors.SigmaLevelError: "level",
    sigma_errors.SigmaStatusError: "status",
    sigma_errors.SigmaDateError: "date",
    sigma_errors.SigmaModifiedError: "modified",
    sigma_errors.SigmaTagError: "tags",
    sigma_errors.SigmaReferencesError: "references",
    sigma_errors.SigmaRelatedError: "related",
    sigma_errors.SigmaAuthorError: "author",
    sigma_errors.SigmaDescriptionError: "description",
    sigma_errors.SigmaFalsePositivesError: "falsepositives",
    sigma_errors.SigmaFieldsError: "fields",
    sigma_errors.SigmaConditionError: "detection.condition",
    sigma_errors.SigmaTimespanError: "correlation.timespan",
    sigma_errors.SigmaCorrelationConditionError: "correlation.condition",
    sigma_errors.SigmaCorrelationTypeError: "correlation.type",
    sigma_errors.SigmaRuleNotFoundError: "correlation.rules",
    sigma_errors.SigmaCorrelationRuleError: "correlation",
}


@dataclass(frozen=True, slots=True)
class RuleFailure:
    """A rule (or a whole file) that did not load, and why."""

    path: str
    message: str
    field: str | None = None
    rule: str | None = None  # the rule's title or id when it got that far

    def __str__(self) -> str:
        where = f"{self.path}" + (f" [{self.rule}]" if self.rule else "")
        return f"{where}: {self.message}" + (f" (field {self.field!r})" if self.field else "")


@dataclass(frozen=True, slots=True)
class LoadedRules:
    """The rules and correlation rules that parsed, and the failures of those that did not."""

    rules: list[SigmaRule]
    correlations: list[SigmaCorrelationRule]
    failures: list[RuleFailure] = field(default_factory=list)


def rule_files(paths: Iterable[str | Path]) -> list[Path]:
    """Rule files under the given files or directories (recursively), sorted for stable output."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(p for p in path.rglob("*") if p.suffix in RULE_SUFFIXES and p.is_file())
        else:
            found.append(path)
    return sorted(set(found))


def load_rules(paths: Iterable[str | Path],
               placeholders: Mapping[str, Sequence[str]] | None = None) -> LoadedRules:
    """Parse every rule file; resolve correlation references across files and placeholders."""
    collections: list[SigmaCollection] = []
    failures: list[RuleFailure] = []
    for path in rule_files(paths):
        collection = _load_file(path, failures)
        if collection is not None:
            collections.append(collection)
    merged = SigmaCollection.merge(collections, resolve_references=False) if collections else None
    rules: list[SigmaRule] = []
    correlations: list[SigmaCorrelationRule] = []
    for rule in (merged.rules if merged else []):
        if isinstance(rule, SigmaCorrelationRule):
            try:
                rule.resolve_rule_references(merged)  # type: ignore[arg-type]
            except SigmaError as exc:
                failures.append(failure_of(rule, exc))
                continue
            correlations.append(rule)
        else:
            try:
                _resolve_placeholders(rule, placeholders or {})
            except SigmaError as exc:
                failures.append(RuleFailure(_path(rule), _message(exc),
                                            getattr(exc, "field", None), rule.title))
                continue
            rules.append(rule)
    # A correlation referring to a rule that failed later (placeholders) cannot run either.
    good = {id(r) for r in rules} | {id(c) for c in correlations}
    kept = []
    for corr in correlations:
        missing = [ref.reference for ref in corr.referenced_rules if id(ref.rule) not in good]
        if missing:
            failures.append(RuleFailure(_path(corr), "refers to rules that did not load: "
                                        + ", ".join(missing), "correlation.rules", corr.title))
        else:
            kept.append(corr)
    return LoadedRules(rules, kept, failures)


def _load_file(path: Path, failures: list[RuleFailure]) -> SigmaCollection | None:
    try:
        size = path.stat().st_size
        if size > MAX_RULE_FILE_BYTES:
            failures.append(RuleFailure(str(path), f"rule file is {size} bytes, over the "
                                        f"{MAX_RULE_FILE_BYTES}-byte limit"))
            return None
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        failures.append(RuleFailure(str(path), f"cannot read the rule file: {exc}"))
        return None
    try:
        documents = [d for d in yaml.load_all(text, Loader=_Loader) if d is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        failures.append(RuleFailure(str(path), f"invalid YAML{where}: "
                                    f"{getattr(exc, 'problem', None) or exc}"))
        return None
    bad = [d for d in documents if not isinstance(d, dict)]
    if bad or not documents:
        failures.append(RuleFailure(str(path), "not a Sigma rule: each YAML document must be "
                                    "a mapping" if bad else "not a Sigma rule: the file is empty"))
        return None
    try:
        collection = SigmaCollection.from_dicts(
            documents, collect_errors=True, source=SigmaRuleLocation(path),
            collect_filters=True, resolve_references=False)
    except SigmaError as exc:  # errors pySigma does not collect (e.g. alias bombs)
        failures.append(RuleFailure(str(path), _message(exc), _FIELD_OF_ERROR.get(type(exc))))
        return None
    except (TypeError, ValueError, AttributeError, KeyError) as exc:  # malformed structure
        failures.append(RuleFailure(str(path), f"malformed rule: {exc}"))
        return None
    for error in collection.errors:
        if not any(error in r.errors for r in collection.rules):
            failures.append(RuleFailure(str(path), _message(error),
                                        _FIELD_OF_ERROR.get(type(error))))
    clean = []
    single = documents[0] if len(documents) == 1 else None
    for rule in collection.rules:
        if rule.errors:
            failures.append(failure_of(rule, rule.errors[0], single))
        else:
            clean.append(rule)
    collection.rules = clean  # filters (collected) apply to every file's rules when merged
    return collection


def failure_of(rule: Any, error: SigmaError,
               document: dict[str, Any] | None = None) -> RuleFailure:
    """A RuleFailure naming the rule's file and the field pySigma's error concerns."""
    name = getattr(rule, "title", None) or (str(rule.id) if getattr(rule, "id", None) else None)
    field_name = _FIELD_OF_ERROR.get(type(error))
    if field_name is None:
        for cls, attr in _FIELD_OF_ERROR.items():
            if isinstance(error, cls):
                field_name = attr
                break
    if field_name is None and document is not None:
        field_name = locate_detection_error(document)
    return RuleFailure(_path(rule), _message(error), field_name, name)


def _path(rule: Any) -> str:
    source = getattr(rule, "source", None)
    return str(source.path) if source is not None else "<rule>"


def _message(error: BaseException) -> str:
    text = error.args[0] if error.args else str(error)
    return str(text)


def locate_detection_error(document: dict[str, Any]) -> str | None:
    """Re-parse detection items one by one to find the one pySigma rejects."""
    detection = document.get("detection")
    if not isinstance(detection, dict):
        return "detection"
    for name, definition in detection.items():
        if name in ("condition", "timeframe"):
            continue
        for key, value in _mapping_items(definition):
            try:
                SigmaDetectionItem.from_mapping(key, value)
            except SigmaError:
                return f"detection.{name}.{key}"
            except Exception:  # noqa: BLE001 - any crash here means this item is the bad one
                return f"detection.{name}.{key}"
        try:
            SigmaDetection.from_definition(definition)
        except Exception:  # noqa: BLE001
            return f"detection.{name}"
    return "detection"


def _mapping_items(definition: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(definition, dict):
        yield from definition.items()
    elif isinstance(definition, list):
        for item in definition:
            if isinstance(item, dict):
                yield from item.items()


_PLACEHOLDER_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


def _resolve_placeholders(rule: SigmaRule, values: Mapping[str, Sequence[str]]) -> None:
    """Replace `%name%` placeholders (the `expand` modifier) with configured value lists."""
    for detection in rule.detection.detections.values():
        for item in _detection_items(detection):
            if not any(isinstance(v, SigmaString) and v.contains_placeholder() for v in item.value):
                continue
            expanded: list[Any] = []
            for value in item.value:
                if isinstance(value, SigmaString) and value.contains_placeholder():
                    expanded.extend(value.replace_placeholders(
                        _expander(values, item)))
                else:
                    expanded.append(value)
            item.value = expanded


def _expander(values: Mapping[str, Sequence[str]],
              item: SigmaDetectionItem) -> Callable[[Placeholder], Iterator[str]]:
    return lambda placeholder: _placeholder_values(placeholder.name, values, item)


def _placeholder_values(name: str, values: Mapping[str, Sequence[str]],
                        item: SigmaDetectionItem) -> Iterator[str]:
    if name not in values:
        error = sigma_errors.SigmaPlaceholderError(
            f"placeholder %{name}% has no value: configure it (e.g. --var {name}=VALUE,...)",
            source=item.source)
        error.field = f"{item.field}|expand"  # type: ignore[attr-defined]
        raise error
    # An empty list must match nothing, not everything: a value no field can hold.
    yield from (values[name] or ["\x00stackwarden: empty placeholder\x00"])


def _detection_items(detection: SigmaDetection) -> Iterator[SigmaDetectionItem]:
    for item in detection.detection_items:
        if isinstance(item, SigmaDetection):
            yield from _detection_items(item)
        else:
            yield item
