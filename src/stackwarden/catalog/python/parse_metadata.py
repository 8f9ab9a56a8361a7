"""Core metadata (`METADATA`, `PKG-INFO`, a bare `*.egg-info` file): the header fields we need.

The format is RFC 822 headers followed by a blank line and the long description
(https://packaging.python.org/specifications/core-metadata/). Only the headers are
decoded: descriptions can be hundreds of kilobytes and say nothing about identity.
"""

from __future__ import annotations

MULTI_FIELDS = frozenset({"classifier", "license-file", "requires-dist", "provides-extra",
                          "project-url", "platform", "dynamic"})
# `License:` values that say nothing (setuptools writes UNKNOWN when the author left it empty).
NO_LICENSE = frozenset({"", "unknown", "none", "n/a", "na", "license", "other", "todo"})
MAX_LICENSE_FIELD = 200  # longer than this, or multi-line, is the license's text, not its name
LICENSE_CLASSIFIER = "License ::"
GENERIC_CLASSIFIERS = frozenset({"OSI Approved", "DFSG approved"})


def header_block(data: bytes) -> str:
    """The header part of a metadata file, decoded (the description after it is never read)."""
    end = data.find(b"\n\n")
    crlf = data.find(b"\r\n\r\n")
    if crlf != -1 and (end == -1 or crlf < end):
        end = crlf
    head = data if end == -1 else data[:end]
    return head.decode("utf-8", "replace").lstrip("\ufeff")


def parse_headers(text: str) -> dict[str, list[str]]:
    """Header fields by lower-cased name; continuation lines (leading whitespace) are joined
    with a newline, so a `License:` that holds a whole license text stays recognisable."""
    fields: dict[str, list[str]] = {}
    last: list[str] | None = None
    for line in text.splitlines():
        if not line.strip():
            if fields:
                break  # a blank line ends the headers (tolerates leading blank lines)
            continue
        if line[0] in " \t":
            if last:
                last[-1] += "\n" + line.strip()
            continue
        key, sep, value = line.partition(":")
        if not sep or not key or " " in key.strip():
            last = None  # not a header line; Syft also skips these rather than failing
            continue
        last = fields.setdefault(key.strip().lower(), [])
        last.append(value.strip())
    return fields


def first(fields: dict[str, list[str]], key: str) -> str:
    """The first value of a single-valued field ("" when absent)."""
    values = fields.get(key)
    return values[0] if values else ""


def declared_licenses(fields: dict[str, list[str]]) -> tuple[str, ...]:
    """The declared licenses: `License-Expression` (PEP 639) when present, else a usable
    `License:` value, else the `License ::` classifiers' last segments."""
    expression = first(fields, "license-expression").strip()
    if expression:
        return (expression,)
    value = first(fields, "license").strip()
    if "\n" not in value and len(value) <= MAX_LICENSE_FIELD and value.lower() not in NO_LICENSE:
        return (value,)
    names = []
    for classifier in fields.get("classifier", ()):
        if not classifier.startswith(LICENSE_CLASSIFIER):
            continue
        name = classifier.rsplit("::", 1)[-1].strip()
        if name and name not in GENERIC_CLASSIFIERS:
            names.append(name)
    return tuple(dict.fromkeys(names))
