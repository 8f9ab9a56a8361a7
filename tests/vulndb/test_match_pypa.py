"""Real packages, real advisories: a virtualenv of old releases against the PyPA database.

The expectation is computed independently of StackWarden's matcher: every PyPA record is read
with PyYAML and its ECOSYSTEM ranges and `versions` list evaluated with `packaging`.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from packaging.version import Version

from stackwarden.catalog.sbom import generate_sbom
from stackwarden.vulndb.build import build_database
from stackwarden.vulndb.match import match_sbom
from stackwarden.vulndb.store import VulnDB
from tests.helpers.env import shared_data
from tests.helpers.installed import pip_target

OLD_RELEASES = ("requests==2.19.0", "urllib3==1.24.1", "django==3.2.0", "pyyaml==5.3",
                "jinja2==2.10", "flask==0.12")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def expected_advisories(vulns: Path, installed: dict[str, str]) -> set[tuple[str, str]]:
    """(package, PYSEC id) for every record whose ranges or versions cover the version."""
    found = set()
    for path in vulns.rglob("*.yaml"):
        doc = yaml.safe_load(path.read_text())
        if doc.get("withdrawn"):
            continue
        for affected in doc.get("affected") or []:
            name = _norm(affected["package"]["name"])
            if name not in installed:
                continue
            version = Version(installed[name])
            hit = installed[name] in (affected.get("versions") or [])
            for rng in affected.get("ranges") or []:
                if rng["type"] != "ECOSYSTEM":
                    continue
                state = False
                events = sorted(((Version(v) if not (k == "introduced" and v == "0")
                                  else Version("0")), k) for e in rng["events"]
                                for k, v in e.items())
                for bound, kind in events:
                    if kind == "introduced" and version >= bound:
                        state = True
                    elif kind == "fixed" and version >= bound:
                        state = False
                    elif kind == "last_affected" and version > bound:
                        state = False
                hit = hit or state
            if hit:
                found.add((name, doc["id"]))
    return found


@pytest.mark.slow
def test_old_releases_match_exactly_the_covering_advisories(tmp_path: Path) -> None:
    vulns = Path(shared_data("osv-pypa-advisory-database", "vulns"))
    site = pip_target(OLD_RELEASES)
    sbom = generate_sbom(f"dir:{site}")
    installed = {_norm(p.name): p.version for p in sbom.packages if str(p.type) == "python"}
    for spec in OLD_RELEASES:  # Django 3.2.0 calls itself "3.2" in its METADATA
        name, _, version = spec.partition("==")
        assert Version(installed[_norm(name)]) == Version(version)
    expected = expected_advisories(vulns, installed)
    assert len(expected) > 30
    db_path = tmp_path / "pypa.sqlite"
    build_database([str(vulns)], db_path)
    with VulnDB(db_path) as db:
        result = match_sbom(sbom, db)
    got = set()
    for finding in result.findings:
        ids = {finding.id, *finding.aliases}
        pysec = {i for i in ids if i.startswith("PYSEC-")}
        assert pysec, f"{finding.id} matched without a PyPA record"
        got |= {(_norm(finding.package.name), i) for i in pysec}
    assert got == expected
