"""Shared fixtures: the built rpm databases (skipping visibly when rpm's tools are absent)."""

from __future__ import annotations

import shutil

import pytest

from tests.catalog.rpm.builders import BuiltDatabases, built_databases
from tests.helpers.env import unavailable

TOOLS = ("rpm", "rpmbuild", "rpmkeys", "db_load", "gpg")


@pytest.fixture(scope="session")
def rpm_dbs() -> BuiltDatabases:
    """RPMs built by rpmbuild and installed by rpm into every database format (cached)."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        unavailable(f"{', '.join(missing)} missing: run scripts/install-system-deps")
    return built_databases()
