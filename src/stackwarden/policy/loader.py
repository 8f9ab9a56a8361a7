"""Reading policy files: YAML/JSON with line numbers kept, and field checks that name the line.

Every problem is a PolicyError whose source is `file:line`, so the CLI prints one line a user can
jump to and exits 2. Files are small by nature; anything over MAX_BYTES is refused.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import yaml

from stackwarden.core.findings import Severity
from stackwarden.policy.model import PolicyError

MAX_BYTES = 4 * 1024 * 1024


class Node(dict[Any, Any]):
    """A YAML mapping that remembers its line and each key's line."""

    line: int = 0
    key_lines: dict[str, int]


class _Loader(yaml.SafeLoader):
    """A safe loader whose mappings are `Node`s and which refuses duplicate keys."""


def _mapping(loader: _Loader, node: yaml.MappingNode) -> Node:
    loader.flatten_mapping(node)
    result = Node()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, (str, int, float, bool)) and key is not None:
            raise yaml.constructor.ConstructorError(None, None, "a key must be a plain value",
                                                    key_node.start_mark)
        if key in result:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}",
                                                    key_node.start_mark)
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[str(key)] = key_node.start_mark.line + 1
    return result


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def read_text(path: Path, what: str) -> str:
    """A policy file's text, or a PolicyError naming it."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise PolicyError(f"cannot read the {what}: {exc.strerror or exc}",
                          source=str(path)) from None
    if len(data) > MAX_BYTES:
        raise PolicyError(f"the {what} is larger than {MAX_BYTES // (1024 * 1024)} MiB",
                          source=str(path))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PolicyError(f"the {what} is not UTF-8 text (byte {exc.start})",
                          source=str(path)) from None


def load_yaml(path: Path, what: str) -> Any:
    """Parse YAML (or JSON, a subset) keeping line numbers; errors name `file:line`."""
    text = read_text(path, what)
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark else ""
        problem = exc.problem or exc.context or "invalid YAML"
        raise PolicyError(f"invalid {what}: {problem}", source=f"{path}{line}") from None
    except yaml.YAMLError as exc:
        raise PolicyError(f"invalid {what}: {exc}", source=str(path)) from None


def load_json(path: Path, what: str) -> Any:
    """Parse JSON strictly; keep line numbers when the YAML reader can also read it."""
    text = read_text(path, what)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PolicyError(f"invalid {what}: {exc.msg}", source=f"{path}:{exc.lineno}") from None
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.YAMLError:
        return doc  # valid JSON YAML cannot read (tabs): no line numbers, same content


class Fields:
    """Typed access to one mapping of a policy file; every error names the file and line."""

    def __init__(self, path: Path, node: Any, what: str, parent_line: int = 0) -> None:
        self.path = path
        self.what = what
        self.line = getattr(node, "line", parent_line)
        if not isinstance(node, dict):
            self.fail(f"{what} must be a mapping, not {_type(node)}")
        self.node: dict[Any, Any] = node

    def where(self, key: str | None = None) -> str:
        """`file:line` of the mapping (or of one of its keys)."""
        lines = getattr(self.node, "key_lines", {}) if hasattr(self, "node") else {}
        line = lines.get(key, self.line) if key else self.line
        return f"{self.path}:{line}" if line else str(self.path)

    def fail(self, message: str, key: str | None = None) -> None:
        """Raise the PolicyError for this mapping (or key)."""
        raise PolicyError(message, source=self.where(key))

    def only(self, allowed: Iterable[str]) -> None:
        """Refuse keys outside `allowed` (a typo must not silently disable a rule)."""
        allowed = set(allowed)
        for key in self.node:
            if key not in allowed:
                self.fail(f"unknown key {key!r} in {self.what} (allowed: "
                          f"{', '.join(sorted(allowed))})", str(key))

    def text(self, key: str, *, required: bool = False, default: str = "") -> str:
        """A non-empty string value."""
        value = self.node.get(key)
        if value is None:
            if required:
                self.fail(f"{self.what} needs {key!r}")
            return default
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            self.fail(f"{key!r} must be text, not {_type(value)}", key)
        value = str(value).strip()
        if required and not value:
            self.fail(f"{key!r} must not be empty", key)
        return value

    def texts(self, key: str) -> tuple[str, ...]:
        """A string or a list of strings, as a tuple."""
        value = self.node.get(key)
        if value is None:
            return ()
        items = value if isinstance(value, list) else [value]
        out = []
        for item in items:
            if isinstance(item, bool) or not isinstance(item, (str, int, float)) or \
                    not str(item).strip():
                self.fail(f"{key!r} must be text or a list of text", key)
            out.append(str(item).strip())
        return tuple(out)

    def flag(self, key: str) -> bool | None:
        """A yes/no value (None when absent)."""
        value = self.node.get(key)
        if value is None:
            return None
        if not isinstance(value, bool):
            self.fail(f"{key!r} must be true or false", key)
        return bool(value)

    def number(self, key: str, *, minimum: float = 0.0, maximum: float | None = None,
               integer: bool = False) -> float | None:
        """A number within bounds (None when absent)."""
        value = self.node.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                (integer and not isinstance(value, int)):
            self.fail(f"{key!r} must be {'an integer' if integer else 'a number'}", key)
        if value < minimum or (maximum is not None and value > maximum):
            bound = f"between {minimum:g} and {maximum:g}" if maximum is not None \
                else f"at least {minimum:g}"
            self.fail(f"{key!r} must be {bound}", key)
        return float(value)

    def severity(self, key: str) -> Severity | None:
        """A severity word (critical, high, medium, low, negligible, unknown)."""
        text = self.text(key)
        return parse_severity(text, self.where(key)) if text else None

    def severities(self, key: str) -> tuple[Severity, ...]:
        """One or several severity words."""
        return tuple(parse_severity(t, self.where(key)) for t in self.texts(key))

    def expiry(self, key: str) -> datetime | None:
        """A date (the entry holds through that whole day, UTC) or a date-time."""
        value = self.node.get(key)
        if value is None:
            return None
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=UTC)
        if isinstance(value, date):
            return datetime(value.year, value.month, value.day, 23, 59, 59, tzinfo=UTC)
        if isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
            except ValueError:
                parsed = None
            if parsed is not None:
                if len(value.strip()) == 10:
                    parsed = parsed.replace(hour=23, minute=59, second=59)
                return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        self.fail(f"{key!r} must be a date (YYYY-MM-DD) or an RFC 3339 date-time", key)
        return None

    def items(self, key: str) -> list[tuple[Any, int]]:
        """A list value with each item's line (items that are mappings carry their own)."""
        value = self.node.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(f"{key!r} must be a list", key)
        line = getattr(self.node, "key_lines", {}).get(key, self.line)
        return [(item, getattr(item, "line", line)) for item in value]


def parse_severity(text: str, where: str) -> Severity:
    """A severity word, strictly (a typo must not mean `unknown`)."""
    word = text.strip().lower()
    try:
        return Severity(word)
    except ValueError:
        raise PolicyError(f"unknown severity {text!r} (choose from "
                          f"{', '.join(s.value for s in Severity)})", source=where) from None


def _type(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "text", bool: "true/false",
            int: "a number", float: "a number", type(None): "nothing"}.get(
        type(value) if not isinstance(value, dict) else dict, type(value).__name__)
