"""npm lockfiles: package-lock v1-v3, yarn classic and berry, pnpm 5.x/6.x/9.x, on files the real
package managers wrote (tests/fixtures/javascript), checked against Syft."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stackwarden.artifact.directory import DirectoryArtifact
from stackwarden.catalog.engine import catalog_artifact
from stackwarden.catalog.javascript import JavaScriptDeclaredCataloger
from stackwarden.catalog.javascript.parse_package_lock import parse_package_lock
from stackwarden.catalog.javascript.parse_pnpm_lock import parse_key, parse_pnpm_lock
from stackwarden.catalog.javascript.parse_yarn_lock import parse_yarn_lock
from stackwarden.core.models import SBOM
from tests.helpers.syft import agreement, syft_json

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "javascript"
CATALOGER = JavaScriptDeclaredCataloger()

PROJECT = {
    ("@sindresorhus/is", "4.6.0"), ("ansi-regex", "5.0.1"), ("ansi-styles", "4.3.0"),
    ("chalk", "4.1.2"), ("color-convert", "2.0.1"), ("color-name", "1.1.4"),
    ("emoji-regex", "8.0.0"), ("has-flag", "3.0.0"), ("has-flag", "4.0.0"),
    ("is-fullwidth-code-point", "3.0.0"), ("js-tokens", "4.0.0"), ("loose-envify", "1.4.0"),
    ("react", "18.2.0"), ("react-dom", "18.2.0"), ("scheduler", "0.23.2"), ("semver", "7.6.3"),
    ("string-width", "4.2.3"),  # installed under the alias string-width-cjs
    ("strip-ansi", "6.0.1"), ("supports-color", "5.5.0"), ("supports-color", "7.2.0"),
}
LOCAL = {("local-lib", "0.1.0")}  # file:./local-lib, where the lockfile records its version
BERRY_EXTRA = {("resolve", "1.22.8"), ("is-core-module", "2.18.0"), ("hasown", "2.0.4"),
               ("function-bind", "1.1.2"), ("path-parse", "1.0.7"),
               ("supports-preserve-symlinks-flag", "1.0.0"), ("ms", "2.1.3")}

EXPECTED = {
    "npm-lock-v1/package-lock.json": PROJECT,  # v1 records file: deps by path only
    "npm-lock-v1-npm11/package-lock.json": PROJECT,
    "npm-lock-v2/package-lock.json": PROJECT | LOCAL,
    "npm-lock-v3/package-lock.json": PROJECT | LOCAL,
    "yarn-classic/yarn.lock": PROJECT | LOCAL,
    "yarn-berry/yarn.lock": PROJECT | LOCAL | BERRY_EXTRA,
    "pnpm-v5/pnpm-lock.yaml": PROJECT | LOCAL,
    "pnpm-v6/pnpm-lock.yaml": PROJECT,  # 6.x records file: deps without a version
    "pnpm-v9/pnpm-lock.yaml": PROJECT,
}


def catalog(root: Path) -> SBOM:
    return catalog_artifact(DirectoryArtifact(root), [CATALOGER])


def by_file(sbom: SBOM) -> dict[str, set[tuple[str, str]]]:
    files: dict[str, set[tuple[str, str]]] = {}
    for p in sbom.packages:
        for loc in p.locations:
            files.setdefault(loc.path.lstrip("/"), set()).add((p.name, p.version))
    return files


@pytest.fixture(scope="module")
def fixtures_sbom() -> SBOM:
    return catalog(FIXTURES)


@pytest.mark.parametrize("fixture", sorted(EXPECTED))
def test_real_lockfiles(fixtures_sbom: SBOM, fixture: str) -> None:
    assert by_file(fixtures_sbom)[fixture] == EXPECTED[fixture]


def test_nothing_skipped_and_purls(fixtures_sbom: SBOM) -> None:
    assert fixtures_sbom.skipped == ()
    purls = {p.name: p.purl for p in fixtures_sbom.packages}
    assert purls["@sindresorhus/is"] == "pkg:npm/%40sindresorhus/is@4.6.0"
    assert purls["chalk"] == "pkg:npm/chalk@4.1.2"


@pytest.mark.parametrize("fixture", [f for f in EXPECTED if "yarn" not in f])
def test_dev_dependencies_are_flagged(fixture: str) -> None:
    """yarn.lock records no dev flag; the others do (pnpm 9 through its importers)."""
    sbom = catalog(FIXTURES / fixture.split("/")[0])
    assert {p.name for p in sbom.packages if p.metadata.get("dev")} == {"semver"}


def test_aliases_and_patches_keep_the_real_name(fixtures_sbom: SBOM) -> None:
    width = next(p for p in fixtures_sbom.packages if p.name == "string-width")
    assert width.metadata["alias"] == "string-width-cjs"
    berry = catalog(FIXTURES / "yarn-berry")
    resolve = [p for p in berry.packages if p.name == "resolve"]
    assert len(resolve) == 1 and resolve[0].metadata["patched"] is True
    assert not {"sw-fixture", "ws-a"} & {p.name for p in berry.packages}  # workspaces


# Syft 1.18.1 (run with SYFT_JAVASCRIPT_INCLUDE_DEV_DEPENDENCIES=true, since we keep dev
# dependencies) against us, file by file: every difference, and why.
SYFT_ONLY = {
    "npm-lock-v1/package-lock.json": {("local-lib", "file:local-lib")},
    "npm-lock-v1-npm11/package-lock.json": {("local-lib", "file:local-lib")},
    "npm-lock-v2/package-lock.json": {("sw-fixture", "1.0.0"), ("local-lib", "UNKNOWN")},
    "npm-lock-v3/package-lock.json": {("sw-fixture", "1.0.0"), ("local-lib", "UNKNOWN")},
    "yarn-berry/yarn.lock": {("string-width-cjs", "4.2.3"), ("sw-fixture", "0.0.0-use.local"),
                             ("ws-a", "0.0.0-use.local")},
    "pnpm-v5/pnpm-lock.yaml": {("local-lib", "file:local-lib"),
                               ("react-dom", "18.2.0_react@18.2.0"),
                               ("string-width-cjs", "/string-width/4.2.3")},
    "pnpm-v6/pnpm-lock.yaml": {("local-lib", "file:local-lib"),
                               ("string-width-cjs", "/string-width@4.2.3")},
    "pnpm-v9/pnpm-lock.yaml": {("local-lib", "file:local-lib")},
}
OURS_ONLY = {
    # Syft reads only the top level of a v1 tree; nested node_modules are real installs.
    "npm-lock-v1/package-lock.json": {("has-flag", "3.0.0"), ("supports-color", "7.2.0")},
    "npm-lock-v1-npm11/package-lock.json": {("has-flag", "4.0.0"), ("supports-color", "7.2.0")},
    # Syft reports berry aliases under the alias; the package is string-width.
    "yarn-berry/yarn.lock": {("string-width", "4.2.3")},
    # Syft keeps 5.x peer suffixes in the version, and takes local-lib's path for a version.
    "pnpm-v5/pnpm-lock.yaml": {("react-dom", "18.2.0"), ("local-lib", "0.1.0")},
}
REASONS = """
local-lib file:/UNKNOWN  a local directory dependency: v1 and pnpm record its path, not a version,
                         and v2/v3's `"link": true` entry points at the real entry we do report
sw-fixture, ws-a         the project itself and its workspaces: not dependencies
string-width-cjs         Syft names npm aliases by their alias (and pnpm's by a path)
"""


@pytest.fixture(scope="module")
def syft_by_file() -> dict[str, set[tuple[str, str]]]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SYFT_JAVASCRIPT_INCLUDE_DEV_DEPENDENCIES", "true")
        doc = syft_json(str(FIXTURES), catalogers="directory")
    files: dict[str, set[tuple[str, str]]] = {}
    for art in doc["artifacts"]:
        for loc in art["locations"]:
            files.setdefault(loc["path"].lstrip("/"), set()).add((art["name"], art["version"]))
    return files


@pytest.mark.parametrize("fixture", sorted(EXPECTED))
def test_agreement_with_syft(fixtures_sbom: SBOM, syft_by_file: dict[str, set[tuple[str, str]]],
                             fixture: str) -> None:
    ours, theirs = by_file(fixtures_sbom)[fixture], syft_by_file[fixture]
    assert theirs - ours == SYFT_ONLY.get(fixture, set()), REASONS
    assert ours - theirs == OURS_ONLY.get(fixture, set()), REASONS


def test_overall_agreement(fixtures_sbom: SBOM,
                           syft_by_file: dict[str, set[tuple[str, str]]]) -> None:
    ours = {(f, *p) for f, pkgs in by_file(fixtures_sbom).items() for p in pkgs}
    theirs = {(f, *p) for f, pkgs in syft_by_file.items() for p in pkgs}
    # 185 of 207: every difference is listed above; none is a package Syft found and we missed
    assert agreement(ours, theirs) >= 0.89


@pytest.mark.parametrize(
    ("key", "version5", "expected"),
    [
        ("/@babel/core/7.24.0", True, ("@babel/core", "7.24.0")),
        ("/react-dom/18.2.0_react@18.2.0", True, ("react-dom", "18.2.0")),
        ("/@emotion/react/11.11.1_cfa3wyctbukwrflvpdbyrz4sfa", True, ("@emotion/react", "11.11.1")),
        ("/@mui/base/5.0.0-beta.4_@types+react@18.2.0_react@18.2.0", True,
         ("@mui/base", "5.0.0-beta.4")),
        ("/is-glob@4.0.3", False, ("is-glob", "4.0.3")),
        ("/@babel/helper-plugin-utils@7.24.7(@babel/core@7.24.7)", False,
         ("@babel/helper-plugin-utils", "7.24.7")),
        ("react-dom@18.2.0(react@18.2.0)", False, ("react-dom", "18.2.0")),
        ("@types/node@20.11.5", False, ("@types/node", "20.11.5")),
        ("tslib@2.6.2(patch_hash=abc)", False, ("tslib", "2.6.2")),
    ],
)
def test_pnpm_keys(key: str, version5: bool, expected: tuple[str, str]) -> None:
    assert parse_key(key, version5) == expected


PNPM9_DEV = b"""lockfileVersion: '9.0'
importers:
  .:
    dependencies:
      a: {specifier: ^1.0.0, version: 1.0.0}
    devDependencies:
      b: {specifier: ^1.0.0, version: 1.0.0(a@1.0.0)}
      w: {specifier: workspace:*, version: link:packages/w}
packages:
  a@1.0.0: {resolution: {integrity: sha512-a}}
  b@1.0.0: {resolution: {integrity: sha512-b}}
  shared@1.0.0: {resolution: {integrity: sha512-s}}
  devonly@2.0.0: {resolution: {integrity: sha512-d}}
  gitdep@https://codeload.github.com/x/gitdep/tar.gz/abc:
    resolution: {tarball: https://codeload.github.com/x/gitdep/tar.gz/abc}
    version: 0.3.0
snapshots:
  a@1.0.0:
    dependencies: {shared: 1.0.0, gitdep: https://codeload.github.com/x/gitdep/tar.gz/abc}
  b@1.0.0(a@1.0.0):
    dependencies: {shared: 1.0.0, devonly: 2.0.0}
  shared@1.0.0: {}
  devonly@2.0.0: {}
  gitdep@https://codeload.github.com/x/gitdep/tar.gz/abc: {}
"""


def test_pnpm9_dev_reachability_and_non_registry_versions() -> None:
    found = {(f.name, f.version): bool(f.metadata.get("dev"))
             for f in parse_pnpm_lock(PNPM9_DEV, "/pnpm-lock.yaml")}
    assert found == {("a", "1.0.0"): False, ("b", "1.0.0"): True, ("shared", "1.0.0"): False,
                     ("devonly", "2.0.0"): True, ("gitdep", "0.3.0"): False}


YARN_CLASSIC = b"""# THIS IS AN AUTOGENERATED FILE. DO NOT EDIT THIS FILE DIRECTLY.
# yarn lockfile v1


"@babel/code-frame@^7.0.0", "@babel/code-frame@^7.22.13":
  version "7.22.13"
  resolved "https://registry.yarnpkg.com/@babel/code-frame/-/code-frame-7.22.13.tgz#e3c1c0"
  integrity sha512-x
  dependencies:
    "@babel/highlight" "^7.22.13"
    version "not-this-one"

lodash@4.17.21, lodash@^4.17.0:
  version "4.17.21"

"wrap-ansi-cjs@npm:wrap-ansi@^7.0.0":
  version "7.0.0"
  resolved "https://registry.yarnpkg.com/wrap-ansi/-/wrap-ansi-7.0.0.tgz"

"left-pad@git+https://github.com/x/left-pad.git#abc":
  version "1.3.0"
  resolved "git+https://github.com/x/left-pad.git#abc"

"mylib@file:../mylib":
  version "0.0.1"
"""


def test_yarn_classic_headers() -> None:
    found = {(f.name, f.version): f.metadata.get("alias")
             for f in parse_yarn_lock(YARN_CLASSIC, "/yarn.lock")}
    assert found == {("@babel/code-frame", "7.22.13"): None, ("lodash", "4.17.21"): None,
                     ("wrap-ansi", "7.0.0"): "wrap-ansi-cjs", ("left-pad", "1.3.0"): None,
                     ("mylib", "0.0.1"): None}


YARN_BERRY = b"""__metadata:
  version: 8
  cacheKey: 10

"app@workspace:.":
  version: 0.0.0-use.local
  resolution: "app@workspace:."
  languageName: unknown
  linkType: soft

"linked@link:../linked::locator=app%40workspace%3A.":
  version: 0.0.0-use.local
  resolution: "linked@link:../linked::locator=app%40workspace%3A."
  languageName: node
  linkType: soft

"typescript@patch:typescript@npm%3A5.3.3#optional!builtin<compat/typescript>":
  version: 5.3.3
  resolution: "typescript@patch:typescript@npm%3A5.3.3#optional!builtin<compat/typescript>\
::version=5.3.3&hash=e012d7"
  languageName: node
  linkType: hard

"typescript@npm:5.3.3":
  version: 5.3.3
  resolution: "typescript@npm:5.3.3"
  languageName: node
  linkType: hard

"@scope/pkg@npm:^1.0.0, @scope/pkg@npm:^1.1.0":
  version: 1.1.0
  resolution: "@scope/pkg@npm:1.1.0"
  checksum: abc
  languageName: node
  linkType: hard
"""


def test_yarn_berry_protocols() -> None:
    found = {(f.name, f.version): f.metadata for f in parse_yarn_lock(YARN_BERRY, "/yarn.lock")}
    assert set(found) == {("typescript", "5.3.3"), ("@scope/pkg", "1.1.0")}
    assert found[("typescript", "5.3.3")]["patched"] is True
    assert found[("typescript", "5.3.3")]["resolution"] == "typescript@npm:5.3.3"
    assert found[("@scope/pkg", "1.1.0")]["checksum"] == "abc"


NPM_WORKSPACES = {
    "name": "root", "version": "1.0.0", "lockfileVersion": 3,
    "packages": {
        "": {"name": "root", "version": "1.0.0", "workspaces": ["packages/*"]},
        "packages/a": {"name": "a", "version": "1.0.0", "dependencies": {"lodash": "^4"}},
        "node_modules/a": {"resolved": "packages/a", "link": True},
        "node_modules/lodash": {"version": "4.17.21", "license": "MIT",
                                "resolved": "https://registry.npmjs.org/lodash/-/lodash-4.17.21.tgz"},
        "node_modules/gitdep": {"version": "0.3.0", "resolved": "git+ssh://git@github.com/x/g.git#abc"},
        "node_modules/@types/node": {"version": "20.1.0", "dev": True, "license": ["MIT"]},
        "node_modules/fsevents": {"version": "2.3.3", "optional": True},
        "node_modules/broken": {"license": "MIT"},
        "vendor/tool": {"version": "2.0.0"},
        "node_modules/tool": {"resolved": "vendor/tool", "link": True},
    },
}
NPM_V1 = {
    "lockfileVersion": 1,
    "dependencies": {
        "a": {"version": "1.0.0", "dependencies": {
            "b": {"version": "2.0.0", "dev": True, "dependencies": {"c": {"version": "3.0.0"}}}}},
        "gitdep": {"version": "git+https://github.com/x/g.git#abc"},
        "aliased": {"version": "npm:real-name@1.2.3"},
        "local": {"version": "file:../local"},
    },
}


def test_package_lock_shapes() -> None:
    v3 = {(f.name, f.version): (f.licenses, f.metadata)
          for f in parse_package_lock(json.dumps(NPM_WORKSPACES).encode(), "/x")}
    assert set(v3) == {("lodash", "4.17.21"), ("gitdep", "0.3.0"), ("@types/node", "20.1.0"),
                       ("fsevents", "2.3.3"), ("tool", "2.0.0")}
    assert v3[("@types/node", "20.1.0")] == (("MIT",), {"dev": True})
    assert v3[("fsevents", "2.3.3")][1] == {"optional": True}
    assert v3[("tool", "2.0.0")][1]["local_path"] == "vendor/tool"  # named by its link
    v1 = {(f.name, f.version): f.metadata
          for f in parse_package_lock(json.dumps(NPM_V1).encode(), "/x")}
    assert set(v1) == {("a", "1.0.0"), ("b", "2.0.0"), ("c", "3.0.0"), ("real-name", "1.2.3"),
                       ("gitdep", "git+https://github.com/x/g.git#abc")}
    assert v1[("b", "2.0.0")] == {"dev": True} and v1[("real-name", "1.2.3")]["alias"] == "aliased"


def _deep_v1(depth: int) -> bytes:
    tree: dict[str, object] = {"version": "1.0.0"}
    for _ in range(depth):
        tree = {"version": "1.0.0", "dependencies": {"x": tree}}
    return json.dumps({"lockfileVersion": 1, "dependencies": {"x": tree}}).encode()


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("package-lock.json", b'{"lockfileVersion": 3, "packages": {', "not valid JSON"),
        ("package-lock.json", b"[]", "expected a JSON object"),
        ("package-lock.json", b'{"packages": [1]}', "neither `packages` nor `dependencies`"),
        ("package-lock.json", bytes(range(256)) * 40, "not valid JSON"),
        ("package-lock.json", b"{\"a\": \"\xff\xfe\"}", "not JSON text"),
        ("package-lock.json", _deep_v1(200), "deeper than 128 levels"),
        ("package-lock.json", b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        ("pnpm-lock.yaml", b"packages: " + b"[" * 100_000 + b"]" * 100_000, "not valid YAML"),
        ("pnpm-lock.yaml", b"lockfileVersion: '6.0'\npackages: [unclosed\n", "not valid YAML"),
        ("pnpm-lock.yaml", b"lockfileVersion: six\n", "unknown lockfileVersion"),
        ("pnpm-lock.yaml", b"- a\n- b\n", "expected a YAML mapping"),
        ("pnpm-lock.yaml", b"lockfileVersion: '9.0'\npackages: [1, 2]\n", "is not a mapping"),
        ("yarn.lock", b"__metadata:\n  version: 8\n\"a@npm:1\": [\n", "not valid YAML"),
        ("yarn.lock", b"\x00\x01\x02garbage" * 100, "binary data"),
    ],
)
def test_malformed_lockfiles_are_skipped_with_a_reason(tmp_path: Path, name: str, content: bytes,
                                                       reason: str) -> None:
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / name).write_bytes(content)
    (tmp_path / "good").mkdir()
    (tmp_path / "good" / "yarn.lock").write_bytes(YARN_CLASSIC)
    sbom = catalog(tmp_path)
    assert len(sbom.packages) == 5
    assert [(s.path, s.by) for s in sbom.skipped] == [(f"/bad/{name}", CATALOGER.name)]
    assert reason in sbom.skipped[0].reason


def test_huge_lockfile_is_skipped_not_read(tmp_path: Path) -> None:
    with open(tmp_path / "package-lock.json", "wb") as handle:
        handle.truncate(80 * 1024 * 1024)  # sparse
    sbom = catalog(tmp_path)
    assert sbom.packages == () and "over the 67108864-byte limit" in sbom.skipped[0].reason


def test_lockfiles_inside_node_modules_are_not_the_project_s(tmp_path: Path) -> None:
    (tmp_path / "node_modules" / "dep").mkdir(parents=True)
    (tmp_path / "node_modules" / "dep" / "yarn.lock").write_bytes(YARN_CLASSIC)
    assert catalog(tmp_path).packages == ()
