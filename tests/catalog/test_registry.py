"""The cataloger registry lists every cataloger, and `--catalogers` selects from it."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import stackwarden.catalog as catalog_pkg
from stackwarden.catalog.base import Cataloger
from stackwarden.catalog.registry import CATALOGERS, select_catalogers
from stackwarden.core.errors import UsageError


def _all_cataloger_classes() -> set[type[Cataloger]]:
    found: set[type[Cataloger]] = set()
    for module in pkgutil.walk_packages(catalog_pkg.__path__, catalog_pkg.__name__ + "."):
        mod = importlib.import_module(module.name)
        for _, obj in inspect.getmembers(mod, inspect.isclass):
            if issubclass(obj, Cataloger) and not inspect.isabstract(obj) \
                    and obj.__module__ == mod.__name__:
                found.add(obj)
    return found


def test_every_cataloger_is_registered() -> None:
    missing = _all_cataloger_classes() - set(CATALOGERS)
    assert not missing, f"catalogers missing from catalog/registry.py: {missing}"


def test_names_are_unique_and_tagged() -> None:
    names = [cls.name for cls in CATALOGERS]
    assert len(names) == len(set(names))
    for cls in CATALOGERS:
        assert ("installed" in cls.tags) != ("declared" in cls.tags), cls.name
        assert cls.patterns.names or cls.patterns.suffixes or cls.patterns.prefixes \
            or cls.patterns.parents or cls.patterns.executables, cls.name


def _names(kind: str, *expr: str) -> set[str]:
    return {c.name for c in select_catalogers(kind, expr)}


def test_defaults_by_target_kind() -> None:
    image = _names("oci-dir")
    directory = _names("dir")
    assert all("installed" in c.tags for c in CATALOGERS if c.name in image)
    assert image <= directory
    assert directory == {c.name for c in CATALOGERS}


def test_selection_expressions() -> None:
    assert _names("dir", "os") == {c.name for c in CATALOGERS if "os" in c.tags}
    assert _names("dir", "dpkg-db-cataloger") == {"dpkg-db-cataloger"}
    assert "dpkg-db-cataloger" not in _names("dir", "-dpkg-db-cataloger")
    chosen = _names("rootfs", "-os", "+dpkg-db-cataloger")
    assert "dpkg-db-cataloger" in chosen and "apk-db-cataloger" not in chosen
    with pytest.raises(UsageError, match="no cataloger or tag"):
        select_catalogers("dir", ["nonsense"])
    with pytest.raises(UsageError, match="no cataloger or tag"):
        select_catalogers("dir", ["+nonsense"])
