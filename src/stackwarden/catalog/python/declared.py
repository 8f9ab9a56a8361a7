"""Declared Python dependencies: pinned requirements files and the lockfiles of Poetry,
Pipenv, uv and PDM."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from stackwarden.artifact.base import FileEntry
from stackwarden.catalog.base import CatalogContext, Cataloger, FilePatterns
from stackwarden.catalog.parsing import Found
from stackwarden.catalog.python.common import canonical_name, pypi_purl
from stackwarden.catalog.python.parse_pdm_lock import parse_pdm_lock
from stackwarden.catalog.python.parse_pipfile_lock import parse_pipfile_lock
from stackwarden.catalog.python.parse_poetry_lock import parse_poetry_lock
from stackwarden.catalog.python.parse_requirements import parse_requirements
from stackwarden.catalog.python.parse_uv_lock import parse_uv_lock
from stackwarden.core.models import Package, PackageType

LOCKFILE_LIMIT = 64 * 1024 * 1024  # the largest real lockfiles are a few megabytes
REQUIREMENTS_LIMIT = 16 * 1024 * 1024

LOCKFILES: dict[str, Callable[[bytes, str], list[Found]]] = {
    "poetry.lock": parse_poetry_lock,
    "Pipfile.lock": parse_pipfile_lock,
    "uv.lock": parse_uv_lock,
    "pdm.lock": parse_pdm_lock,
}


def is_requirements_file(path: str) -> bool:
    """`*requirements*.txt` anywhere (Syft's glob), and any `*.txt` in a `requirements/` dir."""
    parent, _, base = path.rpartition("/")
    if not base.endswith(".txt"):
        return False
    return "requirements" in base or parent.rpartition("/")[2] == "requirements"


def wanted(path: str) -> bool:
    """The cheap refinement of the `.txt` suffix match (lockfiles match by name)."""
    return not path.endswith(".txt") or is_requirements_file(path)


class PythonDeclaredCataloger(Cataloger):
    """Python packages a project pins: requirements files and lockfiles (dev groups included,
    flagged `dev` in metadata)."""

    name = "python-package-cataloger"
    tags = frozenset({"declared", "language", "python"})
    package_type = PackageType.PYTHON
    patterns = FilePatterns(names=frozenset(LOCKFILES), suffixes=(".txt",), accept=wanted)

    def parse(self, entry: FileEntry, ctx: CatalogContext) -> Iterable[Package]:
        base = entry.path.rpartition("/")[2]
        parser = LOCKFILES.get(base)
        if parser is not None:
            limit = min(LOCKFILE_LIMIT, ctx.limits.max_package_file_bytes)
            found = parser(ctx.read(entry, limit), entry.path)
            kind = base
        else:
            limit = min(REQUIREMENTS_LIMIT, ctx.limits.max_package_file_bytes)
            found = parse_requirements(ctx.text(entry, limit))
            kind = "requirements.txt"
        return [self.package(ctx, entry, f.name, f.version, pypi_purl(f.name, f.version),
                             licenses=f.licenses,
                             metadata={"canonical_name": canonical_name(f.name),
                                       "declared_in": kind, **f.metadata})
                for f in found]
