"""AIDE as the oracle: on generated changes both tools report the same paths, the same way."""

from __future__ import annotations

from pathlib import Path

import pytest

from stackwarden.agent.fim import Baseline, check
from tests.agent.fim.conftest import user_xattrs_supported
from tests.helpers.aide import aide_check, aide_init, require_aide, write_config
from tests.helpers.env import unavailable
from tests.helpers.fimtree import apply_changes

_KIND = {"added": "added", "deleted": "removed", "modified": "changed", "metadata": "changed"}


@pytest.mark.usefixtures("as_root")
@pytest.mark.parametrize("seed", [3, 4])
def test_same_changed_paths_as_aide(tree: Path, tmp_path: Path, seed: int) -> None:
    require_aide()
    if not user_xattrs_supported(tmp_path):
        unavailable("the test filesystem does not take user.* xattrs")
    work = tmp_path / "work"
    work.mkdir()
    config = write_config(work, tree)
    aide_init(config)
    db = work / "fim.db"
    Baseline.build([str(tree)], db)
    applied = apply_changes(tree, 45, seed=seed)
    theirs = aide_check(config)
    ours: dict[str, set[str]] = {"added": set(), "removed": set(), "changed": set()}
    for change in check(str(db)).changes:
        ours[_KIND[str(change.change)]].add(change.path)
    assert ours == theirs
    assert set().union(*ours.values()) == {a.path for a in applied}
