"""Read gitleaks configurations (gitleaks.toml) into StackWarden's rule layers.

Supported: `[[rules]]` (id, description, regex, secretGroup, entropy, keywords, path, tags,
`[rules.allowlist]` / `[[rules.allowlists]]`, `[[rules.required]]` composites, skipReport),
global `[allowlist]` / `[[allowlists]]` (with targetRules), and `[extend]` (path, useDefault,
disabledRules) with gitleaks' merge rules: a rule with a known id changes only the fields
it sets, and appends its tags, keywords and allowlists. `useDefault` extends StackWarden's
shipped rules (whose ids follow gitleaks' where the secret type is the same). Patterns are
Go RE2 syntax; they are translated to Python syntax as they are read. Rules whose id starts
with `generic` get a low priority, as gitleaks drops a generic finding that another rule
also made.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stackwarden.detect.secrets.model import SecretConfigError
from stackwarden.detect.secrets.patterns import PatternError, translate
from stackwarden.detect.secrets.rules import Layers, default_layers, read_toml

MAX_EXTEND_DEPTH = 2  # gitleaks follows `[extend] path` this many levels deep

_ALLOWLIST_KEYS = {"description": "description", "condition": "condition",
                   "regexTarget": "regex_target", "regexes": "regexes",
                   "stopwords": "stopwords", "paths": "paths", "commits": "commits",
                   "targetRules": "target_rules"}


def load_gitleaks(doc: dict[str, Any], path: Path, *, base: Layers | None = None,
                  depth: int = 0) -> Layers:
    """Layers equivalent to one gitleaks configuration file (and what it extends)."""
    source = str(path)
    extend = doc.get("extend", {})
    if not isinstance(extend, dict):
        raise SecretConfigError("field 'extend': expected a table", source=source)
    layers = _extended(extend, path, depth)
    if base is not None:
        layers.warnings[:0] = base.warnings
        layers.sources[:0] = base.sources
    disabled = extend.get("disabledRules", [])
    if not isinstance(disabled, list):
        raise SecretConfigError("field 'extend.disabledRules': expected a list", source=source)
    for rule_id in disabled:
        layers.rules.pop(rule_id, None)
    if "allowlist" in doc and "allowlists" in doc:
        raise SecretConfigError("fields 'allowlist' and 'allowlists': use [[allowlists]] only "
                                "(the old [allowlist] table cannot be combined with it)",
                                source=source)
    for raw in _tables(doc, "allowlist", "allowlists", source, "(global)"):
        layers.allowlists.append(_allowlist(raw, source))
    rules = doc.get("rules", [])
    if not isinstance(rules, list):
        raise SecretConfigError("field 'rules': expected an array of tables ([[rules]])",
                                source=source)
    extending = bool(extend.get("path") or extend.get("useDefault"))
    for index, raw in enumerate(rules, 1):
        _merge_rule(layers, raw, index, source, extending)
    layers.sources.append(source)
    return layers


def _extended(extend: dict[str, Any], path: Path, depth: int) -> Layers:
    if extend.get("useDefault"):
        return default_layers()
    target = extend.get("path")
    if not target:
        return Layers()
    if not isinstance(target, str):
        raise SecretConfigError("field 'extend.path': expected a string", source=str(path))
    if depth >= MAX_EXTEND_DEPTH:
        layers = Layers()
        layers.warnings.append(f"{path}: [extend] path {target!r} ignored: gitleaks follows "
                               f"at most {MAX_EXTEND_DEPTH} levels of extension")
        return layers
    base_path = _resolve(target, path)
    return load_gitleaks(read_toml(base_path), base_path, depth=depth + 1)


def _resolve(target: str, config: Path) -> Path:
    """gitleaks resolves `[extend] path` from the working directory; we also try the file's."""
    candidate = Path(target)
    for option in (candidate, config.parent / candidate) if not candidate.is_absolute() \
            else (candidate,):
        if option.is_file():
            return option
    raise SecretConfigError(f"field 'extend.path': {target!r} does not exist (looked in the "
                            f"working directory and in {config.parent})", source=str(config))


def _tables(raw: dict[str, Any], single: str, many: str, source: str,
            rule_id: str) -> list[dict[str, Any]]:
    value = raw.get(single, raw.get(many, []))
    tables = [value] if isinstance(value, dict) else value
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise SecretConfigError(f"rule {rule_id!r}: field {many!r}: expected tables",
                                source=source)
    return tables


def _python(pattern: Any, source: str, rule_id: str, name: str) -> Any:
    """A Go pattern in Python syntax (non-strings pass through for the type check later)."""
    if not isinstance(pattern, str) or not pattern:
        return pattern
    try:  # the safety check runs when the rule is built (a refusal there is a warning)
        return translate(pattern, dialect="go", check_safety=False).python
    except PatternError as exc:
        raise SecretConfigError(f"rule {rule_id!r}: field {name!r}: {exc} in {pattern!r}",
                                source=source) from None


def _allowlist(raw: dict[str, Any], source: str, rule_id: str = "(global)") -> dict[str, Any]:
    out: dict[str, Any] = {"_source": source}
    for key, value in raw.items():
        if key in ("regexes", "paths") and isinstance(value, list):
            value = [_python(v, source, rule_id, f"allowlist.{key}") for v in value]
        if key in _ALLOWLIST_KEYS:
            out[_ALLOWLIST_KEYS[key]] = value
    return out


def _merge_rule(layers: Layers, raw: Any, index: int, source: str, extending: bool) -> None:
    if not isinstance(raw, dict):
        raise SecretConfigError(f"rule #{index}: expected a table", source=source)
    rule_id = raw.get("id")
    if not isinstance(rule_id, str) or not rule_id:
        raise SecretConfigError(f"rule #{index}: field 'id': missing (every rule needs an id)",
                                source=source)
    if "allowlist" in raw and "allowlists" in raw:
        raise SecretConfigError(f"rule {rule_id!r}: fields 'allowlist' and 'allowlists': use "
                                "[[rules.allowlists]] only", source=source)
    allowlists = [_allowlist(a, source, rule_id)
                  for a in _tables(raw, "allowlist", "allowlists", source, rule_id)]
    new: dict[str, Any] = {"id": rule_id, "_source": source}
    if raw.get("description"):
        new["title"] = new["description"] = raw["description"]
    for key, ours in (("regex", "regex"), ("path", "path"), ("secretGroup", "secret_group"),
                      ("entropy", "entropy"), ("skipReport", "skip_report")):
        if raw.get(key) not in (None, "", 0):
            new[ours] = _python(raw[key], source, rule_id, key) if ours in ("regex", "path") \
                else raw[key]
    required = raw.get("required", [])
    if required:
        if not isinstance(required, list):
            raise SecretConfigError(f"rule {rule_id!r}: field 'required': expected tables",
                                    source=source)
        new["required"] = [{"id": r.get("id"), "within_lines": r.get("withinLines"),
                            "within_columns": r.get("withinColumns")}
                           if isinstance(r, dict) else r for r in required]
    current = layers.rules.get(rule_id)
    if current is None:
        if "regex" not in new and "path" not in new:
            if extending:
                layers.warnings.append(f"{source}: rule {rule_id!r} has no regex or path and "
                                       "extends no known rule: ignored")
                return
            raise SecretConfigError(f"rule {rule_id!r}: field 'regex': a rule needs a regex or "
                                    "a path", source=source)
        new.update(keywords=list(raw.get("keywords", [])), tags=list(raw.get("tags", [])),
                   allowlists=allowlists)
        if rule_id.startswith("generic"):
            new["priority"] = -10  # gitleaks drops a generic finding another rule also made
        layers.rules[rule_id] = new
        return
    # gitleaks' extension: set fields replace, lists grow.
    if "regex" in new:
        current.pop("context", None)
        current.pop("value", None)
    current.update(new)
    current["keywords"] = list(current.get("keywords", [])) + list(raw.get("keywords", []))
    current["tags"] = list(current.get("tags", [])) + list(raw.get("tags", []))
    current["allowlists"] = list(current.get("allowlists", [])) + allowlists
