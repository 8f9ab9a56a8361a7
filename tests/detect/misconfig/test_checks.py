"""Every built-in check: one true positive and one near miss, plus registry invariants."""

from __future__ import annotations

import importlib
import pkgutil
import re

import pytest

from stackwarden.detect.misconfig import checks as checks_package
from stackwarden.detect.misconfig.controls import FRAMEWORKS, NSA_SECTIONS
from stackwarden.detect.misconfig.model import Check
from stackwarden.detect.misconfig.registry import CHECK_MODULES, FILE_TYPES, builtin_checks
from stackwarden.detect.misconfig.scanner import MisconfigScanner
from tests.helpers.misconfig import Plant, all_plants, file_kinds, single

PLANTS = all_plants()
SCANNER = MisconfigScanner()
HELPERS = {"util", "k8s_common", "tf_common"}


def _ids(path: str, data: bytes) -> set[str]:
    outcome = SCANNER.scan_bytes(path, data)
    assert not outcome.skipped, outcome.skipped
    return {f.id for f in outcome.findings}


@pytest.mark.parametrize("plant", PLANTS, ids=[p.check_id for p in PLANTS])
def test_true_positive(plant: Plant) -> None:
    planted = single(plant, bad=True)
    found = _ids(planted.path, planted.data)
    assert plant.check_id in found, planted.data.decode()
    assert found <= {plant.check_id, *plant.also}, f"unexpected {found}"


@pytest.mark.parametrize("plant", PLANTS, ids=[p.check_id for p in PLANTS])
def test_near_miss(plant: Plant) -> None:
    near = single(plant, bad=False)
    assert plant.check_id not in _ids(near.path, near.data), near.data.decode()


@pytest.mark.parametrize("file_type", sorted(file_kinds()))
def test_clean_base_has_no_finding(file_type: str) -> None:
    kind = file_kinds()[file_type]
    assert _ids(kind.filename(0), kind.render(kind.new())) == set()


def test_every_check_has_a_plant_and_at_least_150_checks() -> None:
    ids = [c.id for c in builtin_checks()]
    assert len(ids) >= 150
    assert len(set(ids)) == len(ids)
    assert sorted({p.check_id for p in PLANTS}) == sorted(ids)


def test_every_check_module_is_registered() -> None:
    found = {name for _, name, _ in pkgutil.iter_modules(checks_package.__path__)} - HELPERS
    registered = {m.__name__.rsplit(".", 1)[-1] for m in CHECK_MODULES}
    assert found == registered
    file_type_modules = {"cloudformation", "compose", "dockerfile", "github_actions",
                         "gitlab_ci", "image_config", "kubernetes", "terraform"}
    assert {t.parse.__module__.rsplit(".", 1)[-1] for t in FILE_TYPES} == file_type_modules
    for name in file_type_modules:
        importlib.import_module(f"stackwarden.detect.misconfig.{name}")


@pytest.mark.parametrize("check", builtin_checks(), ids=[c.id for c in builtin_checks()])
def test_check_metadata(check: Check) -> None:
    assert re.fullmatch(r"SW-[A-Z0-9]+-\d{3}", check.id)
    assert check.title and check.description.endswith((".", ")"))
    assert check.remediation
    assert check.file_type in {t.name for t in FILE_TYPES}
    for control in check.controls:
        framework, _, item = control.partition(":")
        assert framework in FRAMEWORKS and item
        if framework.startswith("nsa-cisa"):
            assert item in NSA_SECTIONS
    for reference in check.references:
        assert reference.startswith("https://")


def test_kubernetes_checks_map_to_benchmarks() -> None:
    k8s = [c for c in builtin_checks() if c.file_type == "kubernetes"]
    assert sum(1 for c in k8s if any(x.startswith("cis-k8s") for x in c.controls)) >= 30
    assert sum(1 for c in k8s if any(x.startswith("nsa-cisa") for x in c.controls)) >= 40
