"""Declared Python dependencies: requirements files and the four lockfile formats, on files the
real tools wrote (tests/fixtures/python), checked against the tools' own resolution and Syft."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from stackwarden.artifact.directory import DirectoryArtifact
from stackwarden.catalog.engine import catalog_artifact
from stackwarden.catalog.python import PythonDeclaredCataloger
from stackwarden.catalog.python.common import canonical_name
from stackwarden.catalog.python.declared import is_requirements_file
from stackwarden.catalog.python.parse_requirements import parse_requirements
from stackwarden.core.models import SBOM
from tests.helpers.syft import agreement, syft_json

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "python"
CATALOGER = PythonDeclaredCataloger()

# What every tool resolved for the fixture project (pyproject.toml / Pipfile beside each lock).
RESOLVED = {
    ("certifi", "2026.10.19.post1"), ("charset-normalizer", "3.5.3"), ("idna", "3.20"),
    ("jaraco-functools", "4.1.0"), ("more-itertools", "11.2.1"), ("pyyaml", "6.0.2"),
    ("requests", "2.32.3"), ("typing-extensions", "4.12.2"), ("urllib3", "2.8.0"),
    ("iniconfig", "2.0.0"),  # the dev group
}
FREEZE = (RESOLVED - {("iniconfig", "2.0.0")}) | {("zope-interface", "8.7")}


def catalog(root: Path) -> SBOM:
    return catalog_artifact(DirectoryArtifact(root), [CATALOGER])


def by_file(sbom: SBOM) -> dict[str, set[tuple[str, str]]]:
    """(canonical name, version) per file that declares it."""
    files: dict[str, set[tuple[str, str]]] = {}
    for p in sbom.packages:
        for loc in p.locations:
            files.setdefault(loc.path, set()).add((canonical_name(p.name), p.version))
    return files


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/app/requirements.txt", True),
        ("/app/dev-requirements.txt", True),
        ("/app/requirements-test.txt", True),
        ("/app/requirements/base.txt", True),
        ("/app/requirements/prod.in", False),
        ("/app/notes.txt", False),
        ("/app/constraints.txt", False),
    ],
)
def test_which_text_files_are_requirements(path: str, expected: bool) -> None:
    assert is_requirements_file(path) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("requests==2.32.3\n", [("requests", "2.32.3", {})]),
        ("Django == 4.2.7  # LTS\n", [("Django", "4.2.7", {})]),
        ("requests[socks,security]==2.31.0 ; python_version >= '3.8'\n",
         [("requests", "2.31.0", {"extras": ["security", "socks"],
                                  "markers": 'python_version >= "3.8"'})]),
        (("certifi==2024.2.2 \\\n    --hash=sha256:aaa \\\n    --hash=sha256:bbb\n"
          "    # via requests\n"),
         [("certifi", "2024.2.2", {"hashes": ["sha256:aaa", "sha256:bbb"]})]),
        ("zope.interface==6.1\nPyYAML==6.0.1;sys_platform=='linux'\n",
         [("zope.interface", "6.1", {}),
          ("PyYAML", "6.0.1", {"markers": 'sys_platform == "linux"'})]),
        ("pkg===1.0-custom\ntorch==2.3.0+cpu\n",
         [("pkg", "1.0-custom", {}), ("torch", "2.3.0+cpu", {})]),
        ("foo==1.0 --global-option=x\r\nbar==2.0\r\n",
         [("foo", "1.0", {}), ("bar", "2.0", {})]),
        # a comment line ending in a backslash does not swallow the next line
        ("# pinned below \\\nreal==1.0\n", [("real", "1.0", {})]),
        # options, includes (not followed), editables, URLs, paths, ranges, wildcards: no pin
        (("-r base.txt\n-c constraints.txt\n--index-url https://pypi.org/simple\n"
          "-i https://pypi.org/simple\n-e git+https://github.com/x/y.git#egg=y\n-e .\n"
          "https://example.com/pkg-1.0.tar.gz\n./dist/foo-1.0-py3-none-any.whl\n"
          "name @ https://example.com/name-1.0.whl\nflask>=2.0\nnumpy~=1.26.0\npandas\n"
          "attrs==23.*\nsix==1.16.0,!=1.15\nbroken==\n"), []),
        ("", []),
    ],
)
def test_requirements_lines(text: str, expected: list[tuple[str, str, dict[str, object]]]) -> None:
    found = parse_requirements(text)
    got = [(f.name, f.version, {k: v for k, v in f.metadata.items() if k != "line"})
           for f in found]
    assert got == expected


def test_line_numbers_point_at_the_requirement() -> None:
    found = parse_requirements("# header\n\nalpha==1 \\\n  --hash=sha256:x\nbeta==2\n")
    assert [(f.name, f.metadata["line"]) for f in found] == [("alpha", 3), ("beta", 5)]


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        ("poetry/poetry.lock", RESOLVED),
        ("pipenv/Pipfile.lock", RESOLVED),
        ("uv/uv.lock", RESOLVED),  # the project itself (source = virtual) is left out
        ("pdm/pdm.lock", RESOLVED),
        ("requirements/requirements.txt", RESOLVED),
        ("requirements/requirements-pipenv.txt", RESOLVED),
        ("requirements/requirements-freeze.txt", FREEZE),
        ("requirements/requirements/base.txt", RESOLVED - {("iniconfig", "2.0.0")}),
        ("requirements/requirements/dev.txt", {("iniconfig", "2.0.0")}),
    ],
)
def test_real_tool_output(fixture: str, expected: set[tuple[str, str]]) -> None:
    sbom = catalog(FIXTURES)
    assert by_file(sbom)["/" + fixture] == expected
    assert sbom.skipped == ()


@pytest.mark.parametrize("fixture", ["poetry/poetry.lock", "pipenv/Pipfile.lock", "uv/uv.lock",
                                     "pdm/pdm.lock"])
def test_lockfiles_flag_the_dev_group(fixture: str) -> None:
    sbom = catalog(FIXTURES / fixture.split("/")[0])
    dev = {p.name for p in sbom.packages if p.metadata.get("dev")}
    assert dev == {"iniconfig"}
    assert all(p.metadata["declared_in"] == fixture.split("/")[1] for p in sbom.packages)


def test_names_are_kept_as_written_and_purls_normalised() -> None:
    sbom = catalog(FIXTURES / "requirements")
    names = {p.name: p.purl for p in sbom.packages}
    assert names["PyYAML"] == "pkg:pypi/pyyaml@6.0.2"
    assert names["typing_extensions"] == "pkg:pypi/typing-extensions@4.12.2"
    assert names["zope.interface"] == "pkg:pypi/zope.interface@8.7"


# Files Syft 1.18.1 does not read, and the packages only we report, each with its reason.
SYFT_DOES_NOT_READ = {
    "/uv/uv.lock": "Syft 1.18.1 has no uv.lock parser (added in later releases)",
    "/pdm/pdm.lock": "Syft 1.18.1 has no pdm.lock parser (added in later releases)",
    "/requirements/requirements/base.txt": "Syft's glob is `*requirements*.txt`; we also read "
                                           "`requirements/*.txt`, a common layout",
    "/requirements/requirements/dev.txt": "same: a `requirements/` directory",
}
ONLY_OURS = {
    ("/pipenv/Pipfile.lock", ("iniconfig", "2.0.0")):
        "Syft reads only Pipfile.lock's `default` section; we read `develop` too (flagged dev)",
}


@pytest.fixture(scope="module")
def syft_by_file() -> dict[str, set[tuple[str, str]]]:
    doc = syft_json(str(FIXTURES), catalogers="directory")
    files: dict[str, set[tuple[str, str]]] = {}
    for art in doc["artifacts"]:
        if art["type"] != "python":
            continue
        for loc in art["locations"]:
            files.setdefault(loc["path"], set()).add((canonical_name(art["name"]),
                                                      art["version"]))
    return files


def test_agreement_with_syft(syft_by_file: dict[str, set[tuple[str, str]]]) -> None:
    """Names are compared in PEP 503 form (Syft normalises them; we keep the author's
    spelling). Every difference is one of the explained ones above."""
    ours = by_file(catalog(FIXTURES))
    assert set(syft_by_file) <= set(ours)
    compared_ours: set[tuple[str, str, str]] = set()
    compared_theirs: set[tuple[str, str, str]] = set()
    for path, packages in ours.items():
        if path in SYFT_DOES_NOT_READ:
            assert path not in syft_by_file
            continue
        theirs = syft_by_file.get(path, set())
        explained = {pkg for (where, pkg) in ONLY_OURS if where == path}
        assert theirs <= packages, (path, theirs - packages)
        assert packages - theirs == explained, (path, packages - theirs)
        compared_ours |= {(path, *p) for p in packages}
        compared_theirs |= {(path, *p) for p in theirs}
    assert agreement(compared_ours, compared_theirs) >= 0.97


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("poetry.lock", b"[[package]\nname = 'x'\n", "not valid TOML"),
        ("poetry.lock", b"package = 'not tables'\n", "`package` is not an array of tables"),
        ("uv.lock", b"\xff\xfe\x00garbage\x00" * 50, "not UTF-8 text"),
        ("pdm.lock", b"[metadata]\nlock_version = \n", "not valid TOML"),
        ("Pipfile.lock", b'{"default": {', "not valid JSON"),
        ("Pipfile.lock", b"[1, 2]", "expected a JSON object"),
        ("Pipfile.lock", b'{"default": []}', "`default` is not an object"),
        ("Pipfile.lock", b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        ("poetry.lock", b"a = " + b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    ],
)
def test_malformed_lockfiles_are_skipped_with_a_reason(tmp_path: Path, name: str,
                                                       content: bytes, reason: str) -> None:
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / name).write_bytes(content)
    (tmp_path / "requirements.txt").write_text("fine==1.0\n")
    sbom = catalog(tmp_path)
    assert [(p.name, p.version) for p in sbom.packages] == [("fine", "1.0")]
    assert [(s.path, s.by) for s in sbom.skipped] == [(f"/bad/{name}", CATALOGER.name)]
    assert reason in sbom.skipped[0].reason


def test_binary_garbage_requirements_file_yields_nothing(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_bytes(bytes(range(256)) * 100)
    sbom = catalog(tmp_path)
    assert sbom.packages == () and sbom.skipped == ()


def test_huge_lockfile_is_skipped_not_read(tmp_path: Path) -> None:
    huge = tmp_path / "uv.lock"
    with open(huge, "wb") as handle:  # sparse: 65 MiB on paper, nothing on disk
        handle.truncate(65 * 1024 * 1024)
    sbom = catalog(tmp_path)
    assert sbom.packages == ()
    assert "over the 67108864-byte limit" in sbom.skipped[0].reason
    assert os.path.getsize(huge) == 65 * 1024 * 1024
