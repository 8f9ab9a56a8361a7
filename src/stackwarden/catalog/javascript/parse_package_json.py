"""package.json of an installed package: name, version, licenses, author, private flag."""

from __future__ import annotations

from typing import Any

from stackwarden.catalog.javascript.common import declared_licenses, person
from stackwarden.catalog.parsing import Found, load_json_object
from stackwarden.core.errors import CatalogError


def parse_package_json(data: bytes, path: str, *, identity_only: bool = False) -> Found:
    """The package one package.json describes; CatalogError when it names none."""
    doc = load_json_object(data, path)
    name, version = doc.get("name"), doc.get("version")
    if not isinstance(name, str) or not name.strip():
        raise CatalogError("package.json without a name", source=path)
    if not isinstance(version, str) or not version.strip():
        raise CatalogError(f"package.json of {name!r} without a version", source=path)
    if identity_only:
        return Found(name.strip(), version.strip())
    metadata: dict[str, Any] = {}
    author = person(doc.get("author"))
    if author:
        metadata["author"] = author
    if doc.get("private") is True:
        metadata["private"] = True
    homepage = doc.get("homepage")
    if isinstance(homepage, str) and homepage:
        metadata["homepage"] = homepage
    return Found(name.strip(), version.strip(), declared_licenses(doc), metadata)
