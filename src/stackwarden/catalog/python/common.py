"""What the Python parsers share: name rules, the PyPI package URL, TOML table accessors."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any
from urllib.parse import quote

from stackwarden.core.errors import CatalogError

_PEP503_RUNS = re.compile(r"[-_.]+")


def canonical_name(name: str) -> str:
    """PEP 503's normal form (`Foo.Bar_baz` -> `foo-bar-baz`): how pip and PyPI compare names."""
    return _PEP503_RUNS.sub("-", name).lower()


@lru_cache(maxsize=65536)  # the same package recurs across a tree; build its URL once
def pypi_purl(name: str, version: str) -> str:
    """`pkg:pypi/<name>@<version>` with purl-spec's PyPI rules: lowercase, `_` becomes `-`.

    Built by hand (same bytes as packageurl-python's `to_string()`, checked in the tests)
    because a site-packages tree can hold thousands of distributions.
    """
    purl = "pkg:pypi/" + quote(name.strip().lower().replace("_", "-"), safe="/:")
    return purl + "@" + quote(version.strip(), safe="/:") if version else purl


def tables(doc: dict[str, Any], key: str, path: str) -> list[dict[str, Any]]:
    """An array of tables (`[[package]]`), each a dict; missing means empty."""
    value = doc.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise CatalogError(f"`{key}` is not an array of tables", source=path)
    return value


def text_field(table: dict[str, Any], key: str) -> str:
    """A string field, or "" when missing or of another type."""
    value = table.get(key)
    return value.strip() if isinstance(value, str) else ""
