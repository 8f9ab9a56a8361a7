"""Installed Python distributions: dist-info, egg-info, checked against pip and Syft."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from packageurl import PackageURL

from stackwarden.artifact.directory import DirectoryArtifact
from stackwarden.catalog.engine import catalog_artifact
from stackwarden.catalog.python import PythonInstalledCataloger
from stackwarden.catalog.python.common import canonical_name, pypi_purl
from stackwarden.catalog.python.installed import wanted
from stackwarden.catalog.python.parse_metadata import declared_licenses, header_block, parse_headers
from stackwarden.core.models import SBOM
from tests.helpers.installed import python_venv, site_packages
from tests.helpers.syft import agreement, syft_packages

CATALOGER = PythonInstalledCataloger()


def catalog(root: Path) -> SBOM:
    return catalog_artifact(DirectoryArtifact(root, kind="rootfs"), [CATALOGER])


def canonical(triples: set[tuple[str, str, str]]) -> set[tuple[str, str, str]]:
    """Python names compared in PEP 503 form: Syft reports `PyYAML` as `pyyaml`."""
    return {(t, canonical_name(n) if t == "python" else n, v) for t, n, v in triples}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA", True),
        ("/venv/lib/python3.11/site-packages/PyYAML-6.0.2.dist-info/METADATA", True),
        ("/usr/lib/python3/dist-packages/six-1.16.0.egg-info/PKG-INFO", True),
        ("/usr/lib/python3/dist-packages/python_apt-2.6.0.egg-info", True),
        ("/site/foo-1.0.egg/EGG-INFO/PKG-INFO", True),
        ("/site/UPPER-1.0.DIST-INFO/METADATA", True),
        ("/src/project/PKG-INFO", False),  # an sdist's PKG-INFO: not installed
        ("/site/foo-1.0.dist-info/RECORD", False),
        ("/srv/METADATA", False),
    ],
)
def test_which_files_are_read(path: str, expected: bool) -> None:
    assert wanted(path) is expected


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ("License-Expression: MIT OR Apache-2.0\nLicense: MIT\n", ("MIT OR Apache-2.0",)),
        ("License: BSD-3-Clause\nClassifier: License :: OSI Approved :: BSD License\n",
         ("BSD-3-Clause",)),
        # setuptools writes UNKNOWN for an empty license: fall back to the classifiers
        ("License: UNKNOWN\nClassifier: License :: OSI Approved :: MIT License\n",
         ("MIT License",)),
        # a whole license text in the field is not a name: classifiers instead
        (("License: Copyright (c) 2020 Someone\n        Permission is hereby granted\n"
          "Classifier: License :: OSI Approved :: Apache Software License\n"),
         ("Apache Software License",)),
        ("Classifier: License :: OSI Approved\nClassifier: Programming Language :: Python\n", ()),
        (("Classifier: License :: OSI Approved :: MIT License\n"
          "Classifier: License :: OSI Approved :: Apache Software License\n"),
         ("MIT License", "Apache Software License")),
        ("Name: x\n", ()),
    ],
)
def test_declared_licenses(headers: str, expected: tuple[str, ...]) -> None:
    assert declared_licenses(parse_headers(headers)) == expected


def test_headers_stop_at_the_description() -> None:
    data = (b"Metadata-Version: 2.1\r\nName: demo\r\nVersion: 1.0\r\n\r\n"
            b"Name: not-a-header\r\nVersion: 9.9\r\n")
    fields = parse_headers(header_block(data))
    assert fields["name"] == ["demo"] and fields["version"] == ["1.0"]


@given(st.from_regex(r"[A-Za-z][A-Za-z0-9._-]{0,20}", fullmatch=True),
       st.from_regex(r"[0-9]{1,3}(\.[0-9]{1,3}){0,3}((a|b|rc|\.post|\.dev)[0-9]{1,2})?"
                     r"(\+[a-z0-9]{1,5}(\.[a-z0-9]{1,3})?)?|[0-9]{1,2}![0-9]{1,2}",
                     fullmatch=True))
def test_pypi_purl_matches_packageurl_python(name: str, version: str) -> None:
    reference = PackageURL(type="pypi", name=name, version=version).to_string()
    assert pypi_purl(name, version) == reference


def _write(root: Path, files: dict[str, str | bytes]) -> Path:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return root


SITE = "usr/lib/python3.11/site-packages"


def test_handmade_site_packages(tmp_path: Path) -> None:
    root = _write(tmp_path, {
        # a wheel install: RECORD paths are relative to site-packages, scripts climb out
        f"{SITE}/Demo_Pkg-1.2.3.dist-info/METADATA":
            "Metadata-Version: 2.4\nName: Demo_Pkg\nVersion: 1.2.3\nLicense-Expression: MIT\n"
            "Author: Ann Example\nRequires-Dist: requests>=2\nLicense-File: LICENSE\n\nlong text\n",
        f"{SITE}/Demo_Pkg-1.2.3.dist-info/RECORD":
            "demo_pkg/__init__.py,sha256=abc,10\n"
            '"demo_pkg/odd,name.py",sha256=def,5\n'
            "../../../bin/demo,sha256=ghi,99\n"
            "Demo_Pkg-1.2.3.dist-info/RECORD,,\n",
        f"{SITE}/Demo_Pkg-1.2.3.dist-info/top_level.txt": "demo_pkg\n",
        f"{SITE}/Demo_Pkg-1.2.3.dist-info/INSTALLER": "pip\n",
        f"{SITE}/Demo_Pkg-1.2.3.dist-info/direct_url.json":
            '{"url": "file:///src/demo", "dir_info": {"editable": true}}',
        # a setuptools egg-info directory: installed-files.txt is relative to the egg-info dir
        f"{SITE}/zope.event-5.0.egg-info/PKG-INFO":
            "Metadata-Version: 2.1\nName: zope.event\nVersion: 5.0\nLicense: ZPL 2.1\n",
        f"{SITE}/zope.event-5.0.egg-info/installed-files.txt":
            "../zope/event/__init__.py\n../zope/event/classhandler.py\nPKG-INFO\n",
        # a distutils-era bare egg-info file
        f"{SITE}/python_apt-2.6.0.egg-info":
            "Metadata-Version: 1.1\nName: python-apt\nVersion: 2.6.0\nLicense: GNU GPL\n",
        # Python 2's own runtime metadata: not a distribution
        "usr/lib/python2.7/lib-dynload/Python-2.7.18-py2.7.egg-info":
            "Metadata-Version: 1.0\nName: Python\nVersion: 2.7.18\n",
    })
    sbom = catalog(root)
    got = {p.name: p for p in sbom.packages}
    assert set(got) == {"Demo_Pkg", "zope.event", "python-apt"}
    demo = got["Demo_Pkg"]
    assert demo.purl == "pkg:pypi/demo-pkg@1.2.3"  # name as written; the PURL is normalised
    assert demo.licenses == ("MIT",)
    assert demo.files == ()  # owned files go to metadata: Package.files is for OS packages
    site = "/" + SITE
    assert demo.metadata["files"] == [f"{site}/demo_pkg/__init__.py",
                                      f"{site}/demo_pkg/odd,name.py", "/usr/bin/demo",
                                      f"{site}/Demo_Pkg-1.2.3.dist-info/RECORD"]
    assert demo.metadata["site_packages"] == site
    assert demo.metadata["top_level"] == ["demo_pkg"]
    assert demo.metadata["installer"] == "pip"
    assert demo.metadata["editable"] is True
    assert demo.metadata["requires_dist"] == ["requests>=2"]
    event = got["zope.event"]
    assert event.purl == "pkg:pypi/zope.event@5.0"
    assert event.metadata["files"][:2] == [f"{site}/zope/event/__init__.py",
                                           f"{site}/zope/event/classhandler.py"]
    assert got["python-apt"].licenses == ("GNU GPL",)
    assert got["python-apt"].metadata["site_packages"] == site
    assert sbom.skipped == ()


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("Metadata-Version: 2.1\nName: noversion\nSummary: x\n", "has no Version field"),
        ("Metadata-Version: 2.1\nVersion: 1.0\n", "without a Name field"),
        (bytes(range(256)) * 64, "without a Name field"),
        ("", "without a Name field"),
    ],
)
def test_broken_metadata_is_skipped_with_a_reason(tmp_path: Path, content: str | bytes,
                                                  reason: str) -> None:
    root = _write(tmp_path, {f"{SITE}/broken-1.0.dist-info/METADATA": content,
                             f"{SITE}/fine-2.0.dist-info/METADATA":
                                 "Name: fine\nVersion: 2.0\n"})
    sbom = catalog(root)
    assert [(p.name, p.version) for p in sbom.packages] == [("fine", "2.0")]
    assert len(sbom.skipped) == 1
    assert sbom.skipped[0].path.endswith("broken-1.0.dist-info/METADATA")
    assert reason in sbom.skipped[0].reason
    assert sbom.skipped[0].by == "python-installed-package-cataloger"


def test_unreadable_side_file_keeps_the_package(tmp_path: Path) -> None:
    root = _write(tmp_path, {f"{SITE}/ok-1.0.dist-info/METADATA": "Name: ok\nVersion: 1.0\n",
                             f"{SITE}/ok-1.0.dist-info/direct_url.json": "{not json"})
    sbom = catalog(root)
    assert [(p.name, p.version) for p in sbom.packages] == [("ok", "1.0")]
    assert "side file unreadable" in sbom.skipped[0].reason


REQUIREMENTS = ["requests==2.32.3", "PyYAML==6.0.2", "typing_extensions==4.12.2",
                "jaraco.functools==4.1.0", "zope.interface==8.7"]


@pytest.mark.network
@pytest.mark.slow
def test_real_virtualenv_matches_pip_and_syft() -> None:
    root = python_venv(REQUIREMENTS)
    sp = site_packages(root)
    sbom = catalog(sp)
    ours = {(p.name, p.version) for p in sbom.packages}
    pip = {(d["name"], d["version"]) for d in json.loads((root / "pip-list.json").read_text())}
    # pip reports each distribution under the name its METADATA spells, as we do
    assert ours == pip
    assert {"PyYAML", "zope.interface", "jaraco.functools", "typing_extensions"} <= \
        {name for name, _ in ours}
    assert sbom.skipped == ()
    requests = next(p for p in sbom.packages if p.name == "requests")
    assert requests.licenses and requests.metadata["files"]
    assert all(f.startswith("/") for f in requests.metadata["files"])
    theirs = canonical(syft_packages(str(sp), catalogers="image", types={"python"}))
    mine = canonical({("python", p.name, p.version) for p in sbom.packages})
    assert agreement(mine, theirs) == 1.0, (mine ^ theirs)


@pytest.mark.parametrize("tree", ["/usr/lib/python3/dist-packages"])
def test_system_dist_packages_agree_with_syft(tree: str) -> None:
    """Debian's own Python packages: egg-info directories, bare egg-info files and dist-info."""
    if not os.path.isdir(tree) or not any(Path(tree).glob("*-info")):
        # an extra check where the machine offers one; the suite does not need it
        pytest.skip(f"{tree} holds no Python distributions on this machine")
    sbom = catalog(Path(tree))
    mine = canonical({("python", p.name, p.version) for p in sbom.packages})
    theirs = canonical(syft_packages(tree, catalogers="image", types={"python"}))
    assert mine == theirs, (mine - theirs, theirs - mine)
