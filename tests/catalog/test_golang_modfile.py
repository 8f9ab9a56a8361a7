"""go.mod parsing against the Go toolchain's own parser (`go mod edit -json`), the cataloger's
replace/exclude rules against Syft, and malformed files."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from stackwarden.artifact.directory import DirectoryArtifact
from stackwarden.catalog.engine import catalog_artifact
from stackwarden.catalog.golang import GoModFileCataloger
from stackwarden.catalog.golang.modfile import parse_go_mod
from stackwarden.catalog.golang.package import canonical_version
from stackwarden.core.errors import CatalogError
from tests.helpers.gobuild import go_binaries, go_tool, goroot
from tests.helpers.syft import agreement, syft_packages

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "golang" / "gomod"


def go_mod_edit_json(text: str, tmp: Path) -> dict | None:
    """What the Go toolchain parses from a go.mod (None when it rejects the file)."""
    (tmp / "go.mod").write_text(text)
    done = subprocess.run([go_tool(), "mod", "edit", "-json"], cwd=tmp, capture_output=True,
                          text=True, env={"GOTOOLCHAIN": "local", "HOME": str(tmp),
                                          "PATH": "/usr/bin:/bin", "GOFLAGS": ""}, check=False)
    return json.loads(done.stdout) if done.returncode == 0 else None


def corpus() -> list[Path]:
    """Hand-written go.mod files plus every go.mod in the Go toolchain's source tree."""
    found = sorted(FIXTURES.glob("*.mod"))
    found += sorted((goroot() / "src").rglob("go.mod"))
    found += sorted(Path("/usr/share/gocode/src").rglob("go.mod"))
    return found


def test_parse_agrees_with_go_mod_edit(tmp_path: Path) -> None:
    files = corpus()
    assert len(files) >= 8
    for path in files:
        text = path.read_text()
        want = go_mod_edit_json(text, tmp_path)
        if want is None:
            with pytest.raises(CatalogError):
                parse_go_mod(text)
            continue
        got = parse_go_mod(text)
        assert got.module == want["Module"]["Path"], path
        assert got.requires == tuple((r["Path"], r["Version"], bool(r.get("Indirect")))
                                     for r in want["Require"] or ()), path
        assert got.excludes == tuple((e["Path"], e["Version"]) for e in want["Exclude"] or ()), path
        assert got.replaces == tuple((r["Old"]["Path"], r["Old"].get("Version", ""),
                                      r["New"]["Path"], r["New"].get("Version", ""))
                                     for r in want["Replace"] or ()), path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("module x\nrequire a.com/b\n", "usage: require"),
        ("module x\nrequire a.com/b latest\n", "version must be of the form"),
        ("module x\nrequire (\n a.com/b v1.0.0\n", "unterminated require block"),
        ("module x\nreplace a.com/b => c.com/d\n", "must be directory path"),
        ("module x\nreplace a.com/b => ../d v1.0.0\n", "must not have a version"),
        ("module x\nreplace a.com/b v1.0.0\n", "usage: replace"),
        ("module x\nrequire `a.com/b` v1.0.0\n", "unquoted string cannot contain quote"),
        ('module x\nrequire "a.com/b v1.0.0\n', "newline in quoted string"),
        ("module x\n/* old style */\n", "must use // comments"),
        ("module x\nexclude a.com/b\n", "usage: exclude"),
        ("module x\nrequire a.com/b v1.02.0\n", "version must be of the form"),
    ],
)
def test_malformed_go_mod_fails_with_the_line(text: str, message: str, tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match=message):
        parse_go_mod(text)
    assert go_mod_edit_json(text, tmp_path) is None  # the Go toolchain refuses it too


def test_newer_directives_are_ignored_not_fatal() -> None:
    mod = parse_go_mod("module x\n\ngo 1.24\n\ntoolchain go1.24.1\n\ngodebug default=go1.21\n\n"
                       "tool golang.org/x/tools/cmd/stringer\n\nignore ./node_modules\n\n"
                       "require golang.org/x/tools v0.30.0\n")
    assert mod.requires == (("golang.org/x/tools", "v0.30.0", False),)


@pytest.mark.parametrize(
    ("version", "canonical"),
    [("v1.2.3", "v1.2.3"), ("v1.2", "v1.2.0"), ("v1", "v1.0.0"),
     ("v2.0.0+incompatible", "v2.0.0+incompatible"), ("v1.2.3+meta", "v1.2.3"),
     ("v1.0.0-rc.1", "v1.0.0-rc.1"), ("v0.0.0-20240305060708-abcdefabcdef",
                                       "v0.0.0-20240305060708-abcdefabcdef"),
     ("1.2.3", None), ("v1.2-pre", None), ("v01.2.3", None), ("v1.2.3-01", None),
     ("latest", None), ("", None)],
)
def test_canonical_version(version: str, canonical: str | None) -> None:
    assert canonical_version(version) == canonical


def catalog(root: Path) -> dict[tuple[str, str], dict]:
    sbom = catalog_artifact(DirectoryArtifact(root), [GoModFileCataloger()])
    assert not sbom.skipped, sbom.skipped
    return {(p.name, p.version): p.metadata for p in sbom.packages}


def test_replace_and_exclude_follow_syft(tmp_path: Path) -> None:
    shutil.copy(FIXTURES / "full.mod", tmp_path / "go.mod")
    found = catalog(tmp_path)
    assert set(found) == {
        ("github.com/single/line", "v1.0.0"), ("golang.org/x/text", "v0.14.0"),
        ("github.com/new/thing", "v1.2.0"), ("github.com/fork/replaced", "v0.2.0"),
        ("github.com/also/fork", "v9.9.9"),  # Syft adds a replacement nothing requires
        ("github.com/quoted/mod", "v2.0.0+incompatible"), ("gopkg.in/yaml.v3", "v3.0.1"),
        ("github.com/short/ver", "v1.2.0"),
        ("github.com/pseudo/ver", "v0.0.0-20240305060708-abcdefabcdef"),
        ("github.com/pre/release", "v1.0.0-rc.1"), ("../local/dep", ""),
    }
    assert found[("golang.org/x/text", "v0.14.0")]["indirect"] is True
    assert found[("github.com/short/ver", "v1.2.0")]["indirect"] is True
    assert found[("github.com/new/thing", "v1.2.0")]["replaces"] == "github.com/old/thing@v1.1.0"
    assert found[("../local/dep", "")]["local_directory"] is True


def test_go_sum_digests_from_a_real_build() -> None:
    app = go_binaries() / "src" / "app"
    found = catalog(app)
    assert set(found) == {("example.com/ansi", "v1.0.0"), ("../libs/greet", ""),
                          ("github.com/acme/color", "v0.4.1")}
    lines = (app / "go.sum").read_text().splitlines()
    want = next(line.split(" ")[2] for line in lines
                if line.startswith("github.com/acme/color v0.4.1 "))
    assert found[("github.com/acme/color", "v0.4.1")]["h1_digest"] == want
    assert found[("github.com/acme/color", "v0.4.1")]["replaces"] == \
        "github.com/acme/color@v0.4.0"
    # the linker recorded the same sum in the binary's build info
    assert f"github.com/acme/color\tv0.4.1\t{want}" in \
        (go_binaries() / "oracle" / "app.txt").read_text()


def syft_view(pkgs: set[tuple[str, str, str]]) -> set[tuple[str, str, str]]:
    """Syft stubs an empty version as UNKNOWN (its compliance setting); we keep it empty."""
    return {(t, n, "" if v == "UNKNOWN" else v) for t, n, v in pkgs}


def test_agrees_with_syft_on_real_go_mod_files(tmp_path: Path) -> None:
    for i, path in enumerate(corpus()):
        target = tmp_path / f"m{i:03d}"
        target.mkdir()
        shutil.copy(path, target / "go.mod")
        if (path.parent / "go.sum").exists():
            shutil.copy(path.parent / "go.sum", target / "go.sum")
    shutil.copytree(go_binaries() / "src", tmp_path / "built")
    sbom = catalog_artifact(DirectoryArtifact(tmp_path), [GoModFileCataloger()])
    ours = {(p.type.value, p.name, p.version) for p in sbom.packages}
    theirs = syft_view(syft_packages(str(tmp_path), catalogers="go-module-file-cataloger",
                                     types={"go-module"}))
    assert len(ours) > 20
    assert agreement(ours, theirs) >= 0.99, (sorted(ours - theirs), sorted(theirs - ours))
