"""Python: installed distributions (dist-info, egg-info) and declared dependencies
(requirements files, poetry.lock, Pipfile.lock, uv.lock, pdm.lock)."""

from stackwarden.catalog.python.declared import PythonDeclaredCataloger
from stackwarden.catalog.python.installed import PythonInstalledCataloger

__all__ = ["PythonDeclaredCataloger", "PythonInstalledCataloger"]
