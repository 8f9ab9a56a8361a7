"""Installed npm packages (node_modules/**/package.json), checked against npm ls and Syft."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from packageurl import PackageURL

from stackwarden.artifact.directory import DirectoryArtifact
from stackwarden.catalog.engine import catalog_artifact
from stackwarden.catalog.javascript import JavaScriptInstalledCataloger
from stackwarden.catalog.javascript.common import declared_licenses, npm_purl, person
from stackwarden.catalog.javascript.installed import in_node_modules
from stackwarden.core.models import SBOM
from tests.helpers.installed import npm_ls_packages, npm_tree
from tests.helpers.syft import agreement, syft_json

CATALOGER = JavaScriptInstalledCataloger()


def catalog(root: Path) -> SBOM:
    return catalog_artifact(DirectoryArtifact(root, kind="rootfs"), [CATALOGER])


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/app/node_modules/chalk/package.json", True),
        ("/app/node_modules/@babel/core/package.json", True),
        ("/app/node_modules/chalk/node_modules/supports-color/package.json", True),
        ("/usr/lib/node_modules/npm/package.json", True),
        ("/app/node_modules/.pnpm/react@18.2.0/node_modules/react/package.json", True),
        ("/app/package.json", False),  # the project, not an installed package
        ("/app/node_modules/resolve/test/resolver/baz/package.json", False),  # a test fixture
        ("/app/node_modules/es-module/lib/package.json", False),  # {"type": "module"} marker
        ("/app/node_modules/@babel/package.json", False),
        ("/app/node_modules/.cache/package.json", False),
        ("/app/node_modules/.bin/package.json", False),
        ("/node_modules/@/x/package.json", False),
        ("/package.json", False),
    ],
)
def test_which_package_json_files_are_read(path: str, expected: bool) -> None:
    assert in_node_modules(path) is expected


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        ({"license": "MIT"}, ("MIT",)),
        ({"license": "(MIT OR Apache-2.0)"}, ("(MIT OR Apache-2.0)",)),
        ({"license": {"type": "ISC", "url": "https://opensource.org/licenses/ISC"}}, ("ISC",)),
        ({"licenses": [{"type": "MIT"}, {"type": "Apache-2.0"}]}, ("MIT", "Apache-2.0")),
        ({"licenses": ["BSD-3-Clause"], "license": "BSD-3-Clause"}, ("BSD-3-Clause",)),
        ({"license": ["MIT", {"type": "GPL-2.0"}]}, ("MIT", "GPL-2.0")),
        ({"license": "SEE LICENSE IN LICENSE.md"}, ("SEE LICENSE IN LICENSE.md",)),
        ({"license": 42, "licenses": {"nope": 1}}, ()),
        ({"license": ""}, ()),
        ({}, ()),
    ],
)
def test_license_shapes(doc: dict[str, Any], expected: tuple[str, ...]) -> None:
    assert declared_licenses(doc) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Sindre Sorhus <sindresorhus@gmail.com> (https://sindresorhus.com)",
         "Sindre Sorhus <sindresorhus@gmail.com> (https://sindresorhus.com)"),
        ({"name": "TJ", "email": "tj@example.com", "url": "https://tj.example"},
         "TJ <tj@example.com> (https://tj.example)"),
        ({"name": "only"}, "only"),
        (["not", "a", "person"], ""),
    ],
)
def test_author_shapes(value: Any, expected: str) -> None:
    assert person(value) == expected


@given(st.from_regex(r"(@[a-z0-9][a-z0-9._-]{0,10}/)?[A-Za-z0-9][A-Za-z0-9._-]{0,15}",
                     fullmatch=True),
       st.from_regex(r"[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}(-[a-z0-9.]{1,8})?(\+[a-z0-9.]{1,8})?",
                     fullmatch=True))
def test_npm_purl_matches_packageurl_python(name: str, version: str) -> None:
    namespace, _, bare = name.rpartition("/")
    reference = PackageURL(type="npm", namespace=namespace or None, name=bare,
                           version=version).to_string()
    assert npm_purl(name, version) == reference


def _write(root: Path, files: dict[str, Any]) -> Path:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content if isinstance(content, str) else json.dumps(content))
    return root


def test_handmade_node_modules(tmp_path: Path) -> None:
    root = _write(tmp_path, {
        "package.json": {"name": "app", "version": "1.0.0"},
        "node_modules/a/package.json": {"name": "a", "version": "1.0.0", "license": "MIT",
                                        "author": "Ann <ann@example.com>"},
        "node_modules/a/test/fixtures/package.json": {"name": "fixture", "version": "0.0.0"},
        "node_modules/a/lib/package.json": {"type": "module"},
        "node_modules/a/node_modules/d/package.json": {"name": "d", "version": "4.0.0"},
        "node_modules/@s/b/package.json": {"name": "@s/b", "version": "2.0.0",
                                           "license": {"type": "ISC"},
                                           "author": {"name": "Bo", "email": "bo@example.com"}},
        "node_modules/c/package.json": {"name": "c", "version": "3.0.0", "private": True,
                                        "licenses": [{"type": "MIT"}, {"type": "GPL-2.0"}]},
        "node_modules/alias/package.json": {"name": "real", "version": "5.0.0"},
        "node_modules/.pnpm/e@1.0.0/node_modules/e/package.json":
            {"name": "e", "version": "1.0.0"},
        "node_modules/bom/package.json":
            b"\xef\xbb\xbf" + json.dumps({"name": "bom", "version": "1.0.1"}).encode(),
        "node_modules/garbage/package.json": bytes(range(256)) * 16,
        "node_modules/noversion/package.json": {"name": "noversion"},
        "node_modules/array/package.json": "[1, 2, 3]",
    })
    sbom = catalog(root)
    got = {p.name: p for p in sbom.packages}
    assert {(p.name, p.version) for p in sbom.packages} == {
        ("a", "1.0.0"), ("d", "4.0.0"), ("@s/b", "2.0.0"), ("c", "3.0.0"), ("real", "5.0.0"),
        ("e", "1.0.0"), ("bom", "1.0.1")}
    assert got["a"].licenses == ("MIT",) and got["a"].metadata["author"] == "Ann <ann@example.com>"
    assert got["@s/b"].purl == "pkg:npm/%40s/b@2.0.0"
    assert got["@s/b"].licenses == ("ISC",)
    assert got["@s/b"].metadata["author"] == "Bo <bo@example.com>"
    assert got["c"].licenses == ("MIT", "GPL-2.0") and got["c"].metadata["private"] is True
    nested = "/node_modules/a/node_modules/d/package.json"
    assert [loc.path for loc in got["d"].locations] == [nested]
    reasons = {s.path: s.reason for s in sbom.skipped}
    assert set(reasons) == {"/node_modules/garbage/package.json",
                            "/node_modules/noversion/package.json",
                            "/node_modules/array/package.json"}
    assert reasons["/node_modules/garbage/package.json"].startswith("not")
    assert "without a version" in reasons["/node_modules/noversion/package.json"]
    assert "expected a JSON object" in reasons["/node_modules/array/package.json"]


DEPENDENCIES = {
    "express": "4.21.2",  # ~65 packages, some nested twice
    "@sindresorhus/is": "4.6.0",  # scoped
    "chalk": "4.1.2", "supports-color": "5.5.0",  # two versions: one nested under chalk
    "string-width-cjs": "npm:string-width@4.2.3",  # an alias
    "resolve": "1.22.8",  # ships package.json test fixtures that are not packages
}


@pytest.mark.network
@pytest.mark.slow
def test_real_npm_tree_matches_npm_ls_and_syft() -> None:
    root = npm_tree(DEPENDENCIES)
    sbom = catalog(root)
    ours = {(loc.path, p.name, p.version) for p in sbom.packages for loc in p.locations}
    assert ours == npm_ls_packages(root)
    assert len({(n, v) for _, n, v in ours}) > 60
    assert sbom.skipped == ()
    doc = syft_json(str(root), catalogers="javascript-package-cataloger")
    theirs = {(loc["path"], a["name"], a["version"]) for a in doc["artifacts"]
              for loc in a["locations"]}
    # Syft reads every package.json; what it finds beyond ours is the project's own manifest
    # and packages' test fixtures (resolve/test/resolver/...), never a node_modules package.
    assert ours <= theirs
    extra = theirs - ours
    assert extra and all(not in_node_modules(path) for path, _, _ in extra)
    assert ("/package.json", "sw-installed-tree", "1.0.0") in extra
    assert agreement({(n, v) for _, n, v in ours}, {(n, v) for _, n, v in theirs}) > 0.85
