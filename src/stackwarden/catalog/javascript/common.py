"""What the JavaScript parsers share: npm's package URL, license and author fields in their
several historical shapes, and `name@spec` splitting."""

from __future__ import annotations

from functools import lru_cache
from typing import Any
from urllib.parse import quote

# Versions that point at the project's own files rather than at a published release.
LOCAL_PREFIXES = ("file:", "link:", "portal:", "workspace:")


@lru_cache(maxsize=65536)  # the same package recurs across a tree; build its URL once
def npm_purl(name: str, version: str) -> str:
    """`pkg:npm/%40scope/name@version` (purl-spec: the scope is the namespace, the name is
    lower-cased). Built by hand, same bytes as packageurl-python, because a node_modules
    tree can hold tens of thousands of packages."""
    scope, slash, bare = name.rpartition("/")
    purl = "pkg:npm/"
    if slash and scope:
        purl += quote(scope, safe="/:") + "/"
    purl += quote(bare.lower(), safe="/:")
    return purl + "@" + quote(version, safe="/:") if version else purl


def split_spec(spec: str) -> tuple[str, str]:
    """`@scope/name@range` -> (`@scope/name`, `range`); the `@` of a scope is not a separator."""
    at = spec.find("@", 1)
    return (spec, "") if at == -1 else (spec[:at], spec[at + 1:])


def license_values(value: Any) -> list[str]:
    """A license field in any of its shapes: "MIT", {"type": "MIT"}, ["MIT", {"type": ...}]."""
    if isinstance(value, str):
        return [value.strip()] if value.strip() else []
    if isinstance(value, dict):
        kind = value.get("type") or value.get("name")
        return [kind.strip()] if isinstance(kind, str) and kind.strip() else []
    if isinstance(value, list):
        return [v for item in value[:50] for v in license_values(item)
                if not isinstance(item, list)]
    return []


def declared_licenses(doc: dict[str, Any]) -> tuple[str, ...]:
    """`license` (string or object) and the legacy `licenses` array, duplicates dropped."""
    found = license_values(doc.get("license")) + license_values(doc.get("licenses"))
    return tuple(dict.fromkeys(found))


def person(value: Any) -> str:
    """An author as one string: "Name <email> (url)" from either the string or object form."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, dict):
        parts = [value.get("name"), f"<{value['email']}>" if value.get("email") else None,
                 f"({value['url']})" if value.get("url") else None]
        return " ".join(p for p in parts if isinstance(p, str) and p)
    return ""
