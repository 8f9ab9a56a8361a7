"""`scan sbom:FILE`: SBOMs Syft wrote (CycloneDX, SPDX, Syft JSON) match like the target itself."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from stackwarden.scan import scan
from stackwarden.vulndb.build import build_database
from tests.helpers.env import shared_data
from tests.helpers.installed import pip_target
from tests.helpers.syft import syft_binary

OLD = ("requests==2.19.0", "urllib3==1.24.1", "jinja2==2.10")


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    work = tmp_path_factory.mktemp("sbom-inputs")
    vulns = Path(shared_data("osv-pypa-advisory-database", "vulns"))
    db = work / "pypa.sqlite"
    build_database([str(vulns / name) for name in ("requests", "urllib3", "jinja2")], db)
    return pip_target(OLD), db, work


def _ids(result: object) -> set[tuple[str, str]]:
    return {(f.package.name.lower(), f.id) for f in result.findings}  # type: ignore[attr-defined]


@pytest.mark.parametrize("fmt", ["cyclonedx-json", "spdx-json", "syft-json"])
def test_syft_sboms_match_like_the_directory(setup: tuple[Path, Path, Path], fmt: str) -> None:
    site, db, work = setup
    direct = scan(f"dir:{site}", db_path=db)
    assert len(direct.findings) >= 5
    out = work / f"sbom.{fmt}.json"
    env = {**os.environ, "SYFT_CHECK_FOR_APP_UPDATE": "false"}
    subprocess.run([syft_binary(), "scan", f"dir:{site}", "-q", "-o", f"{fmt}={out}"],
                   check=True, env=env, timeout=300)
    via_sbom = scan(f"sbom:{out}", db_path=db)
    assert _ids(via_sbom) == _ids(direct)


def test_our_own_reports_round_trip(setup: tuple[Path, Path, Path]) -> None:
    site, db, work = setup
    from stackwarden.report import render_scan

    direct = scan(f"dir:{site}", db_path=db)
    report = work / "report.json"
    report.write_bytes(render_scan(direct, "json"))
    again = scan(f"sbom:{report}", db_path=db)
    assert _ids(again) == _ids(direct)
    doc = json.loads(report.read_bytes())
    assert {f["kind"] for f in doc["findings"]} == {"vulnerability"}
    first = doc["findings"][0]
    assert {"id", "aliases", "severity", "package", "fixed_versions", "location"} <= set(first)
    assert {"name", "version", "purl"} <= set(first["package"])
    assert {"path", "layer"} <= set(first["location"])


@pytest.mark.parametrize("content", ['{"bomFormat": "CycloneDX", "components": 3}', "[1]",
                                     "{not json", '{"hello": "world"}'])
def test_malformed_sbom_files(setup: tuple[Path, Path, Path], tmp_path: Path,
                              content: str) -> None:
    from stackwarden.core.errors import UsageError

    _, db, _ = setup
    path = tmp_path / "bad.json"
    path.write_text(content)
    try:
        result = scan(f"sbom:{path}", db_path=db)
    except UsageError as exc:
        assert str(path) in str(exc)
    else:
        assert result.findings == []
