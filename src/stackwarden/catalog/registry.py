"""The one list of catalogers, and how a user's `--catalogers` expression selects from it."""

from __future__ import annotations

from collections.abc import Sequence

from stackwarden.catalog.apk import ApkCataloger
from stackwarden.catalog.base import Cataloger
from stackwarden.catalog.binary import BinaryClassifierCataloger
from stackwarden.catalog.dotnet import DotnetDepsCataloger, DotnetPackagesLockCataloger
from stackwarden.catalog.dpkg import DpkgCataloger
from stackwarden.catalog.golang import GoModFileCataloger, GoModuleBinaryCataloger
from stackwarden.catalog.java import JavaArchiveCataloger
from stackwarden.catalog.javascript import (
    JavaScriptDeclaredCataloger,
    JavaScriptInstalledCataloger,
)
from stackwarden.catalog.php import ComposerInstalledCataloger, ComposerLockCataloger
from stackwarden.catalog.python import PythonDeclaredCataloger, PythonInstalledCataloger
from stackwarden.catalog.rpm import RpmDBCataloger
from stackwarden.catalog.ruby import GemfileLockCataloger, GemspecCataloger
from stackwarden.catalog.rust import CargoAuditableBinaryCataloger, RustCargoLockCataloger
from stackwarden.core.errors import UsageError

# Adding an ecosystem: one module, plus one line here.
CATALOGERS: tuple[type[Cataloger], ...] = (
    DpkgCataloger,
    ApkCataloger,
    RpmDBCataloger,
    PythonInstalledCataloger,
    PythonDeclaredCataloger,
    JavaScriptInstalledCataloger,
    JavaScriptDeclaredCataloger,
    GoModFileCataloger,
    GoModuleBinaryCataloger,
    RustCargoLockCataloger,
    CargoAuditableBinaryCataloger,
    JavaArchiveCataloger,
    GemspecCataloger,
    GemfileLockCataloger,
    ComposerInstalledCataloger,
    ComposerLockCataloger,
    DotnetDepsCataloger,
    DotnetPackagesLockCataloger,
    BinaryClassifierCataloger,
)

IMAGE_KINDS = frozenset({"oci-dir", "oci-archive", "docker-archive", "registry", "rootfs"})
# "files" (several paths, e.g. from pre-commit) and "dir" use installed and declared catalogers.


def default_catalogers(target_kind: str) -> list[Cataloger]:
    """Images and root filesystems: what is installed. Directories: installed and declared."""
    wanted = "installed" if target_kind in IMAGE_KINDS else None
    return [cls() for cls in CATALOGERS if wanted is None or wanted in cls.tags]


def _matches(cls: type[Cataloger], term: str) -> bool:
    return term == cls.name or term in cls.tags or cls.name.startswith(term + "-")


def select_catalogers(target_kind: str, expressions: Sequence[str] = ()) -> list[Cataloger]:
    """Apply `--catalogers` terms to the default set for a target kind.

    A plain term (a cataloger name or a tag such as `python` or `os`) replaces the defaults
    with what it names; `+term` adds to the set; `-term` removes from it.
    """
    terms = [t.strip() for expr in expressions for t in expr.split(",") if t.strip()]
    plain = [t for t in terms if t[0] not in "+-"]
    if plain:
        chosen = [cls for cls in CATALOGERS if any(_matches(cls, t) for t in plain)]
    else:
        chosen = [type(c) for c in default_catalogers(target_kind)]
    for term in terms:
        if term[0] not in "+-":
            continue
        hits = [cls for cls in CATALOGERS if _matches(cls, term[1:])]
        if not hits:
            raise UsageError(f"no cataloger or tag named {term[1:]!r}", source="--catalogers")
        if term[0] == "+":
            chosen += [cls for cls in hits if cls not in chosen]
        else:
            chosen = [cls for cls in chosen if cls not in hits]
    unknown = [t for t in plain if not any(_matches(cls, t) for cls in CATALOGERS)]
    if unknown:
        raise UsageError(f"no cataloger or tag named {', '.join(map(repr, unknown))}",
                         source="--catalogers")
    return [cls() for cls in chosen]


def all_tags() -> list[str]:
    """Every tag some cataloger carries (for `--help` and error messages)."""
    return sorted({tag for cls in CATALOGERS for tag in cls.tags})
