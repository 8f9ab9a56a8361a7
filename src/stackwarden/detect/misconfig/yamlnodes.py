"""YAML (and JSON) to plain Python whose dicts and lists know their line ranges.

libyaml (PyYAML's C parser) composes the node graph; this module turns nodes into `YamlMap`
and `YamlSeq` (dict and list subclasses carrying 1-based `line`/`end_line`, plus the lines of
each key or item), so a finding can point at the exact lines for SARIF regions.

Bombs are refused, not expanded: an alias shares the already-built value, and every node
counts its *expanded* size, so a billion-laughs document is rejected after building each
level once. Nesting is capped (libyaml itself stops at 1000 levels).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import yaml
from yaml.constructor import SafeConstructor

from stackwarden.detect.misconfig.model import ConfigParseError

MAX_NODES = 2_000_000  # expanded values per file (aliases count every time they are used)
MAX_DEPTH = 128
Span = tuple[int | None, int | None]
TagHandler = Callable[[str, Any], Any]

_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_FLOAT = "tag:yaml.org,2002:float"
_MERGE = "tag:yaml.org,2002:merge"
_PLAIN_INT = re.compile(r"[-+]?(?:0|[1-9][0-9]*)\Z")
_CONSTRUCTOR = SafeConstructor()


class YamlMap(dict[str, Any]):
    """A mapping with its line range and each key's line range (key line to value end)."""

    __slots__ = ("end_line", "key_lines", "line")

    def __init__(self, line: int | None = None, end_line: int | None = None) -> None:
        super().__init__()
        self.line = line
        self.end_line = end_line
        self.key_lines: dict[str, tuple[int, int]] = {}


class YamlSeq(list[Any]):
    """A sequence with its line range and each item's line range."""

    __slots__ = ("end_line", "item_lines", "line")

    def __init__(self, line: int | None = None, end_line: int | None = None) -> None:
        super().__init__()
        self.line = line
        self.end_line = end_line
        self.item_lines: list[tuple[int, int]] = []


def span(obj: Any, key: str | int | None = None) -> Span:
    """The 1-based line range of a container, or of one of its keys/items (None, None if
    unknown, e.g. for objects that did not come from a file)."""
    if key is not None:
        lines = getattr(obj, "key_lines", None)
        if lines is not None and key in lines:
            start, end = lines[key]
            return start, end
        items = getattr(obj, "item_lines", None)
        if items is not None and isinstance(key, int) and 0 <= key < len(items):
            start, end = items[key]
            return start, end
    return getattr(obj, "line", None), getattr(obj, "end_line", None)


def _scalar(node: yaml.ScalarNode, tags: TagHandler | None) -> Any:
    tag, value = node.tag, node.value
    if tag == _STR:
        return value
    if tag == _NULL:
        return None
    if tag == _BOOL:
        return value.lower() in ("true", "yes", "on", "y")
    if tag == _INT:
        if _PLAIN_INT.match(value) and not (len(value) > 1 and value.lstrip("+-")[0] == "0"):
            return int(value)
        return _CONSTRUCTOR.construct_yaml_int(node)
    if tag == _FLOAT:
        return _CONSTRUCTOR.construct_yaml_float(node)
    if tag.startswith("!") and tags is not None:
        return tags(tag, value)
    return value  # timestamps, binary, unknown global tags: keep the text


def _end_line(node: yaml.Node) -> int:
    end = node.end_mark
    # A block scalar ends at column 0 of the next line: the content ended on the one before.
    if end.column == 0 and end.line > node.start_mark.line:
        return int(end.line)
    return int(end.line) + 1


class _Builder:
    """Builds one document; counts expanded nodes against the budget."""

    def __init__(self, tags: TagHandler | None, max_nodes: int, max_depth: int) -> None:
        self.tags = tags
        self.max_nodes = max_nodes
        self.max_depth = max_depth
        self.total = 0
        self.memo: dict[int, tuple[Any, int, int]] = {}

    def charge(self, count: int, node: yaml.Node) -> None:
        self.total += count
        if self.total > self.max_nodes:
            raise ConfigParseError(
                f"YAML expands to more than {self.max_nodes} values (alias bomb or huge "
                f"document) near line {node.start_mark.line + 1}")

    def build(self, node: yaml.Node, depth: int) -> tuple[Any, int, int]:
        """(value, end line, expanded node count) of one node."""
        if isinstance(node, yaml.ScalarNode):
            self.charge(1, node)
            return _scalar(node, self.tags), _end_line(node), 1
        key = id(node)
        seen = self.memo.get(key)
        if seen is not None:  # an alias: share the value, but pay its expanded size again
            self.charge(seen[2], node)
            return seen
        if depth > self.max_depth:
            raise ConfigParseError(f"YAML nested deeper than {self.max_depth} levels near line "
                                   f"{node.start_mark.line + 1}")
        if isinstance(node, yaml.SequenceNode):
            built = self._sequence(node, depth)
        elif isinstance(node, yaml.MappingNode):
            built = self._mapping(node, depth)
        else:
            raise ConfigParseError(f"unexpected YAML node {type(node).__name__}")
        if node.tag.startswith("!") and self.tags is not None:
            built = (self.tags(node.tag, built[0]), built[1], built[2])
        self.memo[key] = built
        return built

    def _sequence(self, node: yaml.SequenceNode, depth: int) -> tuple[Any, int, int]:
        start = node.start_mark.line + 1
        seq = YamlSeq(start, start)
        count = 1
        self.charge(1, node)
        for item in node.value:
            value, end, size = self.build(item, depth + 1)
            count += size
            seq.append(value)
            seq.item_lines.append((item.start_mark.line + 1, end))
        seq.end_line = max(seq.item_lines[-1][1] if seq.item_lines else start, start)
        if node.flow_style:
            seq.end_line = max(seq.end_line, _end_line(node))
        return seq, seq.end_line, count

    def _mapping(self, node: yaml.MappingNode, depth: int) -> tuple[Any, int, int]:
        start = node.start_mark.line + 1
        mapping = YamlMap(start, start)
        count = 1
        self.charge(1, node)
        end = start
        merges: list[Any] = []
        for key_node, value_node in node.value:
            value, value_end, size = self.build(value_node, depth + 1)
            count += size
            end = max(end, value_end)
            if key_node.tag == _MERGE:
                merges.extend(value if isinstance(value, list) else [value])
                continue
            if isinstance(key_node, yaml.ScalarNode):
                key = key_node.value  # keys stay text: `on:` is the string "on", not True
            else:
                key = repr(self.build(key_node, depth + 1)[0])  # complex keys: rare, opaque
            mapping[key] = value
            mapping.key_lines[key] = (key_node.start_mark.line + 1, value_end)
        for merged in merges:  # `<<: *defaults`: explicit keys win, earlier merges win
            if isinstance(merged, dict):
                for k, v in merged.items():
                    if k not in mapping:
                        mapping[k] = v
                        lines = getattr(merged, "key_lines", {}).get(k)
                        if lines:
                            mapping.key_lines[k] = lines
        mapping.end_line = end
        if node.flow_style:
            mapping.end_line = max(end, _end_line(node))
        return mapping, mapping.end_line, count


def iter_documents(text: str, *, source: str = "", tags: TagHandler | None = None,
                   max_nodes: int = MAX_NODES,
                   max_depth: int = MAX_DEPTH) -> Iterator[tuple[Any, int, int]]:
    """Each document of a (multi-document) YAML stream as (value, first line, last line).

    Raises ConfigParseError (naming the line) for invalid YAML, bombs and deep nesting.
    """
    loader = yaml.CSafeLoader(text)
    builder = _Builder(tags, max_nodes, max_depth)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            value, end, _ = builder.build(node, 0)
            builder.memo.clear()  # anchors do not cross documents
            yield value, node.start_mark.line + 1, end
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}" if mark is not None else "unknown line"
        problem = exc.problem or exc.context or "invalid YAML"
        raise ConfigParseError(f"invalid YAML at {where}: {problem}", source=source) from None
    except yaml.YAMLError as exc:
        raise ConfigParseError(f"invalid YAML: {exc}", source=source) from None
    except ConfigParseError as exc:
        raise ConfigParseError(exc.message, source=source) from None
    except RecursionError:
        raise ConfigParseError("YAML nested too deeply", source=source) from None
    finally:
        loader.dispose()


def load_documents(text: str, **kwargs: Any) -> list[tuple[Any, int, int]]:
    """All documents of a YAML stream (see `iter_documents`)."""
    return list(iter_documents(text, **kwargs))
