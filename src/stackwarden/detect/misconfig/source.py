"""One configuration file's bytes with its text, YAML and JSON decoded once and shared."""

from __future__ import annotations

import json
from typing import Any

from stackwarden.detect.misconfig.model import ConfigParseError
from stackwarden.detect.misconfig.yamlnodes import iter_documents

MAX_FILE_BYTES = 16 * 1024 * 1024
_JSON_MAX_DEPTH = 128


def intrinsic_tag(tag: str, value: Any) -> Any:
    """CloudFormation short forms (`!Ref x`, `!GetAtt a.b`, `!Sub ...`) as their long JSON
    forms; GitLab's `!reference [...]` as {"!reference": [...]}; other tags keep the value."""
    name = tag[1:]
    if name == "Ref":
        return {"Ref": value}
    if name == "Condition":
        return {"Condition": value}
    if name == "GetAtt" and isinstance(value, str):
        return {"Fn::GetAtt": value.split(".", 1)}
    if name == "reference":
        return {"!reference": value}
    if name[:1].isupper() and name.isalnum():
        return {f"Fn::{name}": value}
    return value


class SourceFile:
    """A file being scanned: path, bytes, and lazily decoded text / YAML / JSON."""

    def __init__(self, path: str, data: bytes) -> None:
        self.path = path
        self.data = data
        self._text: str | None = None
        self._yaml: list[tuple[Any, int, int]] | None = None
        self._json: Any = None
        self._json_done = False

    @property
    def name(self) -> str:
        """The file's base name."""
        return self.path.rsplit("/", 1)[-1]

    @property
    def text(self) -> str:
        """The content as text (UTF-8, BOM removed); ConfigParseError when not UTF-8."""
        if self._text is None:
            if len(self.data) > MAX_FILE_BYTES:
                raise ConfigParseError(f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB, not "
                                       "parsed", source=self.path)
            try:
                self._text = self.data.decode("utf-8-sig")
            except UnicodeDecodeError as exc:
                raise ConfigParseError(f"not UTF-8 text (byte {exc.start})",
                                       source=self.path) from None
            if "\x00" in self._text:
                raise ConfigParseError("binary content (NUL bytes)", source=self.path)
        return self._text

    def yaml(self) -> list[tuple[Any, int, int]]:
        """Every YAML document as (value, first line, last line); parsed once."""
        if self._yaml is None:
            self._yaml = list(iter_documents(self.text, source=self.path, tags=intrinsic_tag))
        return self._yaml

    def json(self) -> Any:
        """The content as JSON (no line numbers; for machine-written files like plans)."""
        if not self._json_done:
            try:
                self._json = json.loads(self.text)
            except (ValueError, RecursionError) as exc:
                raise ConfigParseError(f"invalid JSON: {exc}", source=self.path) from None
            if _depth_exceeds(self._json, _JSON_MAX_DEPTH):
                raise ConfigParseError(f"JSON nested deeper than {_JSON_MAX_DEPTH} levels",
                                       source=self.path)
            self._json_done = True
        return self._json

    def head(self, size: int = 4096) -> bytes:
        """The first bytes, for content sniffing."""
        return self.data[:size]


def _depth_exceeds(value: Any, limit: int) -> bool:
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        current, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(current, dict):
            stack.extend((v, depth + 1) for v in current.values() if isinstance(v, (dict, list)))
        elif isinstance(current, list):
            stack.extend((v, depth + 1) for v in current if isinstance(v, (dict, list)))
    return False
