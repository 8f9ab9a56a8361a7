""".NET: deps.json of published applications and NuGet packages.lock.json.

The fixtures follow the runtime's deps.json format (dotnet/runtime
docs/design/features/host-runtime-information / runtime-configuration-file.md) and NuGet's
lock file format, with real package names, versions and dependency graphs; the sha512 and
contentHash values are stand-ins.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from stackwarden.artifact.directory import DirectoryArtifact
from stackwarden.catalog.dotnet import DotnetDepsCataloger, DotnetPackagesLockCataloger
from stackwarden.catalog.engine import catalog_artifact
from stackwarden.core.models import SBOM
from tests.helpers.syft import agreement, syft_packages

FIXTURES = Path(__file__).parent.parent / "fixtures" / "dotnet"
CATALOGERS = [DotnetDepsCataloger(), DotnetPackagesLockCataloger()]


def identities(sbom: SBOM) -> set[tuple[str, str, str]]:
    """(type, name, version) of every package."""
    return {(str(p.type), p.name, p.version) for p in sbom.packages}


@pytest.mark.parametrize(("app", "count", "sdk_only"), [
    ("webapi/bin", 35, set()),
    # a self-contained app lists the runtime pack, part of the SDK rather than the app
    ("worker", 6, {("dotnet", "runtimepack.Microsoft.NETCore.App.Runtime.linux-x64", "8.0.1")}),
])
def test_deps_json_agrees_with_syft(app: str, count: int,
                                    sdk_only: set[tuple[str, str, str]]) -> None:
    root = FIXTURES / app
    sbom = catalog_artifact(DirectoryArtifact(root), [DotnetDepsCataloger()])
    ours = identities(sbom)
    theirs = syft_packages(f"dir:{root}", catalogers="directory", types={"dotnet"})
    assert len(ours) == count
    assert theirs - ours == sdk_only
    assert agreement(ours, theirs - sdk_only) == 1.0, sorted(ours ^ theirs)


def test_deps_json_packages_and_projects() -> None:
    sbom = catalog_artifact(DirectoryArtifact(FIXTURES / "webapi/bin"), [DotnetDepsCataloger()])
    by_name = {p.name: p for p in sbom.packages}
    assert by_name["WebApi"].metadata == {"library_type": "project"}
    assert by_name["WebApi.Core"].metadata["library_type"] == "project"
    dapper = by_name["Dapper"]
    assert dapper.purl == "pkg:nuget/Dapper@2.1.28"
    assert dapper.metadata["path"] == "dapper/2.1.28"
    assert dapper.metadata["hash_path"] == "dapper.2.1.28.nupkg.sha512"
    assert dapper.metadata["sha512"].startswith("sha512-")


def test_packages_lock_json() -> None:
    sbom = catalog_artifact(DirectoryArtifact(FIXTURES / "webapi"), [DotnetPackagesLockCataloger()])
    found = {p.name: p for p in sbom.packages}
    # 33 packages for net8.0 (the SNI runtime again for linux-x64), one RID-only package;
    # the project reference (no resolved version) is not a NuGet package
    assert len(found) == 34
    assert "webapi.core" not in found
    assert found["Newtonsoft.Json"].metadata["dependency_type"] == "Direct"
    assert found["Azure.Core"].metadata["dependency_type"] == "Transitive"
    assert found["runtime.linux-x64.Microsoft.DotNet.ILCompiler"].metadata["target"] == \
        "net8.0/linux-x64"
    assert found["Serilog"].purl == "pkg:nuget/Serilog@3.1.1"
    assert {str(p.type) for p in sbom.packages} == {"dotnet"}


@pytest.mark.parametrize(
    ("path", "content", "reason"),
    [
        ("app/App.deps.json", '{"libraries": {', "invalid JSON"),
        ("app/App.deps.json", '{"libraries": ["Newtonsoft.Json/13.0.3"]}', "`libraries` is not"),
        ("app/App.deps.json", "[]", "the document is not an object"),
        ("src/packages.lock.json", "{,}", "invalid JSON at line 1 column 2"),
        ("src/packages.lock.json", '{"version": 1, "dependencies": {"net8.0": []}}',
         "target 'net8.0' is not an object"),
    ],
)
def test_bad_dotnet_files_are_skipped_with_a_reason(tmp_path: Path, path: str, content: str,
                                                    reason: str) -> None:
    (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / path).write_text(content)
    (tmp_path / "ok.deps.json").write_text(
        '{"libraries": {"Polly/8.2.1": {"type": "package"}, "NoVersion": {"type": "package"},'
        ' "Ref/8.0.0": {"type": "referenceassembly"}, "Bad/1.0": []}}')
    sbom = catalog_artifact(DirectoryArtifact(tmp_path), CATALOGERS)
    assert identities(sbom) == {("dotnet", "Polly", "8.2.1")}
    assert len(sbom.skipped) == 1 and reason in sbom.skipped[0].reason, sbom.skipped
