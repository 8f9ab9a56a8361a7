"""Loading secret rules: the shipped TOML files, user overrides, and gitleaks configurations.

Rule files are layered. The shipped rules (`rules/*.toml` in this package) come first; each
`--secret-config FILE` then adds rules, overrides fields of existing ones by id, disables
rules, or adds allowlists. A gitleaks configuration (`[[rules]]`, camelCase keys) replaces
the rules in force, as it does in gitleaks, unless it says `[extend] useDefault = true`.
Every problem is reported with the file, the rule id and the field.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from importlib import resources
from pathlib import Path
from typing import Any

from stackwarden.core.findings import Severity
from stackwarden.detect.secrets.model import (
    Allowlist,
    Required,
    Rule,
    RuleSet,
    SecretConfigError,
    Settings,
)
from stackwarden.detect.secrets.patterns import PatternError, UnsafePattern, translate
from stackwarden.detect.secrets.validators import MAGIC, VALIDATORS

RULE_FIELDS = frozenset({
    "id", "title", "description", "severity", "regex", "context", "value", "secret_group",
    "keywords", "entropy", "path", "validate", "magic", "reference", "remediation", "tags",
    "allowlist", "allowlists", "required", "skip_report", "priority"})
ALLOWLIST_FIELDS = frozenset({"description", "condition", "regexes", "regex_target",
                              "stopwords", "paths", "commits", "target_rules"})
TOP_FIELDS = frozenset({"format", "rule", "allowlist", "allowlists", "disable", "settings",
                        "extend"})
SEVERITIES = ("critical", "high", "medium", "low")

# `context` + `value` rules expand to: a name containing the context word, an assignment
# operator (=, :, :=, =>, ?=, or a comma between call arguments), an optional quote, the
# value (group 1) and a character that ends it. Every repeat is bounded.
_ASSIGN = (r"(?i:<CONTEXT>)[\w.\-]{0,24}[\"'\]]{0,2}[ \t]{0,3}(?::=|=>|\?=|::|:|=|,)"
           r"[ \t]{0,3}(?:[\"'\x60]|\\[\"'])?(<VALUE>)(?:[\"'\x60\s;,)<}\]&]|\\[nrt\"']|$)")


@dataclass
class Layers:
    """Raw rule dictionaries being layered, before they are validated and compiled."""

    rules: dict[str, dict[str, Any]] = field(default_factory=dict)
    allowlists: list[dict[str, Any]] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    disabled: set[str] = field(default_factory=set)
    warnings: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)


def load_ruleset(configs: Sequence[str | Path] = (), *, use_default: bool = True) -> RuleSet:
    """The shipped rules (unless `use_default` is false) layered with each config file in order."""
    layers = default_layers() if use_default else Layers()
    for config in configs:
        layers = apply_file(layers, Path(config))
    return build(layers)


def default_layers() -> Layers:
    """The shipped rule files as raw layers."""
    layers = Layers()
    folder = resources.files("stackwarden.detect.secrets") / "rules"
    for item in sorted(folder.iterdir(), key=lambda p: p.name):
        if item.name.endswith(".toml"):
            name = f"stackwarden:rules/{item.name}"
            _apply_ours(layers, _parse_toml(item.read_bytes(), name), name)
    return layers


def read_toml(path: Path) -> dict[str, Any]:
    """Parse one TOML file, turning every failure into a SecretConfigError naming it."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SecretConfigError(f"cannot read the rule file: {exc.strerror}",
                                source=str(path)) from None
    return _parse_toml(data, str(path))


def _parse_toml(data: bytes, name: str) -> dict[str, Any]:
    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise SecretConfigError("not UTF-8 text", source=name) from None
    except tomllib.TOMLDecodeError as exc:
        raise SecretConfigError(f"invalid TOML: {exc}", source=name) from None


def is_gitleaks(doc: dict[str, Any]) -> bool:
    """gitleaks configurations use `[[rules]]`; ours use `[[rule]]`."""
    if doc.get("format") == "stackwarden":
        return False
    return "rule" not in doc and any(k in doc for k in ("rules", "allowlist", "allowlists",
                                                        "extend", "title", "minVersion"))


def apply_file(layers: Layers, path: Path) -> Layers:
    """Layer one user file (our format or gitleaks') on top of `layers`."""
    doc = read_toml(path)
    if is_gitleaks(doc):
        from stackwarden.detect.secrets.gitleaks import load_gitleaks

        return load_gitleaks(doc, path, base=layers)
    _apply_ours(layers, doc, str(path))
    return layers


def _apply_ours(layers: Layers, doc: dict[str, Any], source: str) -> None:
    unknown = sorted(set(doc) - TOP_FIELDS)
    if unknown:
        raise SecretConfigError(f"unknown top-level field {unknown[0]!r} (expected "
                                f"{', '.join(sorted(TOP_FIELDS))})", source=source)
    layers.sources.append(source)
    extend = doc.get("extend", {})
    if not isinstance(extend, dict) or set(extend) - {"use_default"}:
        raise SecretConfigError("field 'extend': expected a table with 'use_default'",
                                source=source)
    if extend.get("use_default", True) is False:
        layers.rules.clear()
        layers.allowlists.clear()
    for key, value in _table(doc.get("settings", {}), source, "settings").items():
        if key not in {f.name for f in fields(Settings)} or not isinstance(value, int):
            raise SecretConfigError(f"settings: field {key!r}: unknown, or not an integer",
                                    source=source)
        layers.settings[key] = value
    for disabled in _strings(doc.get("disable", []), source, "disable"):
        if disabled not in layers.rules:
            layers.warnings.append(f"{source}: disable: no rule {disabled!r} to disable")
        layers.disabled.add(disabled)
    for raw in _allowlist_tables(doc, "allowlist", "allowlists", source, "(global)"):
        layers.allowlists.append({**raw, "_source": source})
    rules = doc.get("rule", [])
    if not isinstance(rules, list):
        raise SecretConfigError("field 'rule': expected an array of tables ([[rule]])",
                                source=source)
    for index, raw in enumerate(rules, 1):
        if not isinstance(raw, dict):
            raise SecretConfigError(f"rule #{index}: expected a table", source=source)
        rule_id = raw.get("id")
        if not isinstance(rule_id, str) or not rule_id:
            raise SecretConfigError(f"rule #{index}: field 'id': missing or not a string",
                                    source=source)
        extra = sorted(set(raw) - RULE_FIELDS)
        if extra:
            raise SecretConfigError(f"rule {rule_id!r}: field {extra[0]!r}: unknown field",
                                    source=source)
        own_lists = _allowlist_tables(raw, "allowlist", "allowlists", source, rule_id)
        update = {k: v for k, v in raw.items() if k not in ("allowlist", "allowlists")}
        update["_source"] = source
        current = layers.rules.get(rule_id)
        if current is None:
            layers.rules[rule_id] = {**update, "allowlists": own_lists}
            continue
        if "regex" in update:  # a new regex replaces a context/value pair and vice versa
            current.pop("context", None)
            current.pop("value", None)
        elif "context" in update or "value" in update:
            current.pop("regex", None)
        current.update(update)
        current["allowlists"] = list(current.get("allowlists", [])) + own_lists
        layers.disabled.discard(rule_id)


def _allowlist_tables(raw: dict[str, Any], single: str, many: str, source: str,
                      rule_id: str) -> list[dict[str, Any]]:
    if single in raw and many in raw:
        raise SecretConfigError(f"rule {rule_id!r}: fields {single!r} and {many!r}: use one "
                                "of them, not both", source=source)
    value = raw.get(single, raw.get(many, []))
    tables = [value] if isinstance(value, dict) else value
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise SecretConfigError(f"rule {rule_id!r}: field {many!r}: expected tables",
                                source=source)
    return list(tables)


def _table(value: Any, source: str, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SecretConfigError(f"field {name!r}: expected a table", source=source)
    return value


def _strings(value: Any, source: str, name: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SecretConfigError(f"field {name!r}: expected a list of strings", source=source)
    return value


def build(layers: Layers) -> RuleSet:
    """Validate and compile the layered rules into a RuleSet (SecretConfigError on any problem)."""
    warnings = list(layers.warnings)
    built = []
    for rule_id, raw in layers.rules.items():
        if rule_id in layers.disabled:
            continue
        try:
            built.append(_build_rule(rule_id, raw, warnings))
        except _Refused as exc:
            warnings.append(str(exc))
    rules = tuple(built)
    known = {r.id for r in rules}
    defined = set(layers.rules)  # a disabled rule may still be named by an allowlist
    for rule in rules:
        for need in rule.required:
            if need.rule_id not in known:
                raise SecretConfigError(f"rule {rule.id!r}: field 'required': no rule "
                                        f"{need.rule_id!r}", source=rule.source)
    allowlists = []
    for raw in layers.allowlists:
        allow = _build_allowlist(raw, raw["_source"], "(global)", warnings, global_=True)
        for target in allow.target_rules:
            if target not in defined:
                raise SecretConfigError(f"global allowlist: field 'target_rules': no rule "
                                        f"{target!r}", source=raw["_source"])
        allowlists.append(allow)
    settings = replace(Settings(), **layers.settings)
    return RuleSet(rules, tuple(allowlists), settings, tuple(warnings), tuple(layers.sources))


class _Refused(Exception):
    """A rule left out (with a warning) because its pattern could backtrack badly."""


class _Fields:
    """Typed access to one raw table, with errors naming the file, rule and field."""

    def __init__(self, raw: dict[str, Any], source: str, rule_id: str) -> None:
        self.raw, self.source, self.rule_id = raw, source, rule_id

    def fail(self, name: str, problem: str) -> SecretConfigError:
        return SecretConfigError(f"rule {self.rule_id!r}: field {name!r}: {problem}",
                                 source=self.source)

    def text(self, name: str, default: str = "") -> str:
        value = self.raw.get(name, default)
        if not isinstance(value, str):
            raise self.fail(name, f"expected a string, got {type(value).__name__}")
        return value

    def texts(self, name: str) -> tuple[str, ...]:
        value = self.raw.get(name, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(name, "expected a list of strings")
        return tuple(value)

    def number(self, name: str, default: float = 0, *, integer: bool = False) -> float:
        value = self.raw.get(name, default)
        kinds = (int,) if integer else (int, float)
        if isinstance(value, bool) or not isinstance(value, kinds) or value < 0:
            raise self.fail(name, f"expected a non-negative {'integer' if integer else 'number'}"
                            f", got {value!r}")
        return value

    def flag(self, name: str) -> bool:
        value = self.raw.get(name, False)
        if not isinstance(value, bool):
            raise self.fail(name, f"expected true or false, got {value!r}")
        return value

    def regex(self, name: str, value: str, *, as_text: bool = False
              ) -> re.Pattern[bytes] | re.Pattern[str]:
        try:
            pattern = translate(value)
        except UnsafePattern:
            raise
        except PatternError as exc:
            raise self.fail(name, f"{exc} in {value!r}") from None
        return re.compile(pattern.python) if as_text else re.compile(pattern.python.encode())


def _build_rule(rule_id: str, raw: dict[str, Any], warnings: list[str]) -> Rule:
    source = str(raw.get("_source", ""))
    f = _Fields(raw, source, rule_id)
    regex_text = f.text("regex")
    if raw.get("context") is not None or raw.get("value") is not None:
        if regex_text:
            raise f.fail("regex", "give either 'regex' or 'context' + 'value', not both")
        if not f.text("context") or not f.text("value"):
            raise f.fail("context" if not f.text("context") else "value",
                         "'context' and 'value' go together")
        regex_text = _ASSIGN.replace("<CONTEXT>", f.text("context")).replace(
            "<VALUE>", f.text("value"))
    path_text, magic = f.text("path"), f.text("magic") or None
    if not regex_text and not path_text and not magic:
        raise f.fail("regex", "a rule needs a 'regex' (or 'context' + 'value'), a 'path' or "
                     "a 'magic'")
    pattern = None
    compiled = None
    if regex_text:
        try:
            pattern = translate(regex_text)
        except UnsafePattern as exc:
            raise _Refused(f"{source}: rule {rule_id!r} refused: field 'regex': {exc}") from None
        except PatternError as exc:
            raise f.fail("regex", str(exc)) from None
        compiled = re.compile(pattern.python.encode())
    secret_group = int(f.number("secret_group", integer=True))
    if pattern is not None and secret_group > pattern.groups:
        raise f.fail("secret_group", f"is {secret_group} but the regex has only "
                     f"{pattern.groups} group(s)")
    severity = f.text("severity", "high").lower()
    if severity not in SEVERITIES:
        raise f.fail("severity", f"{severity!r} is not one of {', '.join(SEVERITIES)}")
    validate = f.text("validate") or None
    if validate is not None and validate not in VALIDATORS:
        raise f.fail("validate", f"unknown validator {validate!r} (known: "
                     f"{', '.join(sorted(VALIDATORS))})")
    if magic is not None and magic not in MAGIC:
        raise f.fail("magic", f"unknown file type {magic!r} (known: {', '.join(sorted(MAGIC))})")
    required = []
    for index, need in enumerate(raw.get("required", []) or [], 1):
        if not isinstance(need, dict) or not isinstance(need.get("id"), str):
            raise f.fail("required", f"entry #{index} needs an 'id'")
        lines, columns = need.get("within_lines"), need.get("within_columns")
        for name, value in (("within_lines", lines), ("within_columns", columns)):
            if value is not None and (not isinstance(value, int) or value < 0):
                raise f.fail("required", f"entry #{index}: {name} must be a non-negative "
                             "integer")
        required.append(Required(need["id"], lines, columns))
    return Rule(
        id=rule_id,
        title=f.text("title") or f.text("description") or rule_id,
        severity=Severity(severity),
        pattern=pattern,
        regex=compiled,
        secret_group=secret_group,
        keywords=tuple(k.lower().encode() for k in f.texts("keywords")),
        entropy=float(f.number("entropy")),
        path=_path_regex(f, path_text, source, rule_id),
        validate=validate,
        magic=magic,
        reference=f.text("reference"),
        description=f.text("description"),
        remediation=f.text("remediation"),
        tags=f.texts("tags"),
        allowlists=tuple(_build_allowlist(a, str(a.get("_source", source)), rule_id, warnings)
                         for a in raw.get("allowlists", [])),
        required=tuple(required),
        skip_report=f.flag("skip_report"),
        priority=int(raw.get("priority", 0)),
        source=source,
    )


def _path_regex(f: _Fields, text: str, source: str, rule_id: str) -> re.Pattern[str] | None:
    if not text:
        return None
    try:
        return f.regex("path", text, as_text=True)  # type: ignore[return-value]
    except UnsafePattern as exc:
        raise _Refused(f"{source}: rule {rule_id!r} refused: field 'path': {exc}") from None


def _safe(f: _Fields, name: str, values: tuple[str, ...], warnings: list[str], *,
          as_text: bool = False) -> tuple[re.Pattern[Any], ...]:
    """Compiled allowlist patterns; one that could backtrack badly is left out, with a warning."""
    out = []
    for value in values:
        try:
            out.append(f.regex(name, value, as_text=as_text))
        except UnsafePattern as exc:
            warnings.append(f"{f.source}: rule {f.rule_id!r}: field {name!r}: pattern "
                            f"{value!r} left out: {exc}")
    return tuple(out)


def _build_allowlist(raw: dict[str, Any], source: str, rule_id: str, warnings: list[str], *,
                     global_: bool = False) -> Allowlist:
    f = _Fields(raw, source, rule_id)
    extra = sorted(set(raw) - ALLOWLIST_FIELDS - {"_source"})
    if extra:
        raise f.fail(f"allowlist.{extra[0]}", "unknown field")
    if not global_ and "target_rules" in raw:
        raise f.fail("allowlist.target_rules", "only global allowlists name target rules")
    condition = f.text("condition", "or").lower()
    if condition not in ("or", "and"):
        raise f.fail("allowlist.condition", f"{condition!r} is not 'or' or 'and'")
    target = f.text("regex_target", "secret")
    if target not in ("secret", "match", "line"):
        raise f.fail("allowlist.regex_target", f"{target!r} is not secret, match or line")
    allow = Allowlist(
        description=f.text("description"),
        match_all=condition == "and",
        regexes=_safe(f, "allowlist.regexes", f.texts("regexes"), warnings),
        regex_target=target,
        stopwords=tuple(w.lower().encode() for w in f.texts("stopwords")),
        paths=_safe(f, "allowlist.paths", f.texts("paths"), warnings, as_text=True),
        commits=f.texts("commits"),
        target_rules=f.texts("target_rules"),
    )
    if not (allow.regexes or allow.stopwords or allow.paths or allow.commits):
        raise f.fail("allowlist", "an allowlist needs at least one of regexes, stopwords, "
                     "paths or commits")
    return allow
