"""Every published comparison vector we have, run against our schemes.

Sources (../shared/data, see each PROVENANCE.md): osv-scalibr's `a OP b` files, apk-tools'
version.data, univers' JSON comparison suites and rpmvercmp.tsv, node-semver's fixtures.
A vector we do not pass is listed below with the reason, and the test checks that it really
still fails (so the list cannot go stale); nothing is skipped silently.
"""

from __future__ import annotations

import functools
import json
import os

import pytest

from stackwarden.vulndb.versions import InvalidVersion, scheme_for
from stackwarden.vulndb.versions.apk import fuzzy_match
from stackwarden.vulndb.versions.npm import compare_npm, parse_npm_version
from stackwarden.vulndb.versions.npm_range import format_range, parse_range, satisfies
from stackwarden.vulndb.versions.rpm import rpmvercmp_key
from tests.helpers.env import shared_data

OPS = {"<": -1, "=": 0, ">": 1}

# osv-scalibr runs each file against these ecosystems (semantic/compare_test.go).
OSV_FILES = {
    "alpine-versions.txt": ("Alpine",), "alpine-versions-generated.txt": ("Alpine",),
    "debian-versions.txt": ("Debian",), "debian-versions-generated.txt": ("Debian",),
    "maven-versions.txt": ("Maven",), "maven-versions-generated.txt": ("Maven",),
    "pypi-versions.txt": ("PyPI",), "pypi-versions-generated.txt": ("PyPI",),
    "packagist-versions.txt": ("Packagist",), "packagist-versions-generated.txt": ("Packagist",),
    "rubygems-versions.txt": ("RubyGems",), "rubygems-versions-generated.txt": ("RubyGems",),
    "redhat-versions.txt": ("Red Hat",), "nuget-versions.txt": ("NuGet",),
    "pub-versions.txt": ("Pub",), "semver-versions.txt": ("npm", "crates.io", "Go", "Hex"),
}
OSV_NOT_APPLICABLE = {
    "cran-versions.txt": "CRAN (R) is not an ecosystem StackWarden scans",
    "cran-versions-generated.txt": "CRAN (R) is not an ecosystem StackWarden scans",
    "hackage-versions.txt": "Hackage (Haskell) is not an ecosystem StackWarden scans",
}

APK2_LENIENCY = ("invalid apk version (apk-tools 3's version.data marks `.1`, `a`, `0.1-r`, "
                 "`0..1` style strings invalid): apk-tools 3 compares two versions equal from "
                 "the point where both turn invalid, osv-scalibr follows apk-tools 2's lenient "
                 "reading")
MAVEN_387 = ("Maven's ComparableVersion 3.8.7 (the reference on this machine, see "
             "test_oracles) orders this pair the other way")
MAVEN_GENERATED = MAVEN_387 + ("; the generator sorted with ComparableVersion, which is not "
                               "transitive for mixed `.`/`-` qualifiers, so sorted neighbours "
                               "can be out of order")
PHP_TRAILING = ("osv-scalibr's own rule for `#`; PHP's version_compare turns `#` into a "
                "separator and then puts `1.2.3.` below both `1.2.3` and `1.2.3.1`, as we do")
NOT_SEMVER = "not a SemVer version (five numeric fields); osv-scalibr reads the rest as build"

EXCLUDED: dict[tuple[str, str, str], str] = {
    **{("alpine-versions.txt", "Alpine", line): APK2_LENIENCY for line in (
        "1-r = 1-r0", "0..1..0 < 0..1..1", "0...1...0 < 0...1...1",
        "0...1...0.r1 < 0...1...0.r2", "0...1...0r1 < 0...1...0r2", "0..8 > 0...8",
        "0.8.21.r2 > 0.8.21.r1", "1-r0-1 = 1-r-2", ".2 > .1", "a < b", "c > b")},
    ("maven-versions.txt", "Maven", "1-1 = 1-ga-1"): MAVEN_387 + " (`1-ga-1` < `1-1`)",
    **{("maven-versions-generated.txt", "Maven", line): MAVEN_GENERATED for line in (
        "1.0.0-RC16 < 1.0.0.RC8-beta", "1.0.0-gradle-rework-beta3 < 1.0.0.RC7-3",
        "2.9.0-1 < 2.9.0.RC1", "6.1.12.rc5 < 6.1.12rc1",
        "1.1.31.sec10 < 1.1.31_noneautotype", "1.1.34.sec10 < 1.1.34_noneautotype",
        "1.1.46.sec10 < 1.1.46_noneautotype", "1.2.8.sec10_noneautotype < 1.2.8_noneautotype",
        "1.2.31.sec10 < 1.2.31_noneautotype", "1.2.48.sec10 < 1.2.48_noneautotype",
        "1.2.50.sec10 < 1.2.50_noneautotype", "1.2.54.sec10 < 1.2.54_noneautotype",
        "1.2.57.sec10 < 1.2.57_noneautotype", "1.2.60.sec10 < 1.2.60_noneautotype",
        "1.2.67.sec10 < 1.2.67_noneautotype", "1.0.0rc0 < 1.0.beta8",
        "1.5.9.RC1 < 1.5.9-RC0", "1.1.0-01-glassfish < 1.1.0.Beta1")},
    ("packagist-versions-generated.txt", "Packagist", "5.1.0-stable < 5.1.0-beta2"):
        "generated with PHP's raw version_compare, where `stable` is an unknown word below "
        "`dev`; Composer normalises `-stable` away, so `5.1.0-stable` = `5.1.0` > `5.1.0-beta2`",
    ("packagist-versions.txt", "Packagist", "1.2.3.# = 1.2.3"): PHP_TRAILING,
    ("packagist-versions.txt", "Packagist", "1.2.3.# = 1.2.3.1"): PHP_TRAILING,
    **{("nuget-versions.txt", "NuGet", line): "NuGet.Versioning rejects numeric parts above "
       "Int32.MaxValue (osv-scalibr uses big integers)" for line in (
        "999999999999999999999999999991 < 999999999999999999999999999999",
        "999999999999999999999999999991.999999999999999999999999999991."
        "999999999999999999999999999991 < 999999999999999999999999999999."
        "999999999999999999999999999991.999999999999999999999999999991")},
    **{("semver-versions.txt", eco, "1.1.3.4.5 = 1.1.3.4.5"): NOT_SEMVER
       for eco in ("npm", "crates.io", "Go", "Hex")},
    ("pub-versions.txt", "Pub", "1.1.3.4.5 = 1.1.3.4.5"): NOT_SEMVER,
    ("semver-versions.txt", "npm", "999999999999999999999999999991 < "
     "999999999999999999999999999999"): "node-semver needs three numeric fields",
    ("semver-versions.txt", "npm", "999999999999999999999999999991.999999999999999999999999999991."
     "999999999999999999999999999991 < 999999999999999999999999999999."
     "999999999999999999999999999991.999999999999999999999999999991"):
        "node-semver refuses numbers above 2^53 - 1",
    ("rubygems-versions.txt", "RubyGems", "1 > 1beta"): "`1beta` is not a Gem::Version "
        "(Gem::Version.new raises \"Malformed version number string\")",
    ("rubygems-versions.txt", "RubyGems", "1 > 1gamma"): "`1gamma` is not a Gem::Version "
        "(Gem::Version.new raises \"Malformed version number string\")",
}

# Vectors with a legacy (non-PEP 440) version: packaging >= 22 raises InvalidVersion for them,
# as we do, and pip no longer installs such versions.
PYPI_LEGACY = frozenset((
    "-class.-jw.util.version.Version-", "-class.-jw.util.version.version-dev",
    "-class.-jw.util.version.version-pre", "-class.-jw.util.version.version-preview",
    "0.0.1-test1", "0.1-bulbasaur", "0.1-charmander", "0.3.1-p1", "0.3m1", "0.3m2", "0.3m3",
    "0.3m4", "0.3m5", "0.4.0-p1", "0.4m1", "0.4m2", "0.4m3", "0.4m4", "0.4m5", "0.5m1", "0.5m2",
    "0.5m3", "0.5m4", "0.5m5", "0.6m1", "0.6m2", "0.6m3", "0.6m4", "0.6m5", "0.6m6",
    "0.7.1.fix1", "0.7.10p1", "0.7.11p1", "0.7.11p2", "0.7.11p3", "0.7.4.svn.r2010", "0.8.1p1",
    "0.8.3p1", "0.8.4p1", "0.8.4p2", "0.8.6p1", "0.8.7p1", "0.9-doduo", "0.9-eevee",
    "0.9-fearow", "0.9-gyarados", "0.9-horsea", "0.9-ivysaur", "1.0beta6.1", "1.3.1-STAGING",
    "2.0.0-final", "2.0.1rc2-git", "2013-01-21T20:33:09+0100", "2013-01-23T17:11:52+0100",
    "2013-02-01T20:50:46+0100", "2013-02-02T19:59:03+0100", "2013-02-02T20:23:17+0100",
    "2013-02-08T17:40:57+0000", "2013-03-27T16:32:26+0100", "2013-05-09T12:47:53+0200",
    "2013-05-10T17:55:56+0200", "2013-05-14T20:16:05+0200", "2013-06-01T10:32:51+0200",
    "2013-07-19T09:11:08+0000", "2013-08-12T21:48:56+0200", "2013-09-11T19-27-10",
    "2013-12-23T17-51-15", "2014-01-12T15-52-10", "4.11-final", "5.0-final", "a3", "trunk"))


def _reason(name: str, ecosystem: str, line: str) -> str | None:
    if ecosystem == "PyPI" and any(v in PYPI_LEGACY for v in line.split(" ")[::2]):
        return "legacy (non-PEP 440) version, refused by packaging and by us"
    return EXCLUDED.get((name, ecosystem, line))


def _osv_lines(name: str) -> list[str]:
    path = shared_data("osv-scalibr-version-vectors", "testdata", name)
    with open(path, encoding="utf-8") as handle:
        return [line.rstrip("\n") for line in handle
                if line.strip() and not line.startswith(("# ", "// "))]


def _holds(ecosystem: str, line: str) -> bool:
    a, op, b = line.split(" ")
    scheme = scheme_for(ecosystem)
    try:
        return scheme.compare(a, b) == OPS[op] and scheme.compare(b, a) == -OPS[op]
    except InvalidVersion:
        return False


def test_every_osv_scalibr_file_is_run_or_declared_not_applicable():
    names = set(os.listdir(shared_data("osv-scalibr-version-vectors", "testdata")))
    assert names == set(OSV_FILES) | set(OSV_NOT_APPLICABLE)


@pytest.mark.parametrize(("name", "ecosystem"), [
    (name, eco) for name, ecos in sorted(OSV_FILES.items()) for eco in ecos])
def test_osv_scalibr_vectors(name, ecosystem):
    lines = _osv_lines(name)
    failures = [line for line in lines
                if not _reason(name, ecosystem, line) and not _holds(ecosystem, line)]
    assert not failures, f"{len(failures)} of {len(lines)} fail, e.g. {failures[:10]}"
    excluded = [line for line in lines if _reason(name, ecosystem, line)]
    stale = [line for line in excluded if _holds(ecosystem, line)]
    assert not stale, f"listed as excluded but passing now: {stale}"
    listed = {line for (n, e, line) in EXCLUDED if (n, e) == (name, ecosystem)}
    assert listed <= set(lines), f"excluded vectors missing from {name}: {listed - set(lines)}"


def test_apk_tools_version_data():
    """apk-tools' test/unit/version.data: `a OP b` (with `!` negation and `~` fuzzy), validity."""
    apk = scheme_for("apk")
    checked = 0
    with open(shared_data("apk-tools-version-data", "version.data"), encoding="utf-8") as data:
        for raw in data:
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            checked += 1
            fields = line.split()
            if len(fields) == 1:
                text = fields[0]
                expected_valid = not text.startswith("!")
                assert apk.is_valid(text.lstrip("!")) == expected_valid, line
                continue
            a, op, b = fields
            negated, op = op.startswith("!"), op.lstrip("!")
            result = apk.compare(a, b)
            holds = ("<" in op and result < 0) or (">" in op and result > 0) or \
                ("=" in op and result == 0) or ("~" in op and fuzzy_match(a, b))
            assert holds != negated, line
    assert checked == 785


UNIVERS_SUITES = {"alpine_version_cmp.json": "apk", "deb_version_python_pkg_test.json": "dpkg",
                  "maven_version_cmp.json": "maven", "nuget_version_cmp.json": "nuget"}
UNIVERS_NOT_APPLICABLE = {
    "alpm_version_cmp.json": "Arch Linux is not an ecosystem StackWarden scans",
    "conan_version_cmp.json": "Conan is not an ecosystem StackWarden scans",
    "gentoo_version_cmp.json": "Gentoo is not an ecosystem StackWarden scans",
    "openssl_version_cmp.json": "OpenSSL release names are not a package ecosystem",
}
UNIVERS_QUIRK = ("univers encodes the ComparableVersion of Maven < 3.8, where `.a` stays in "
                 "the main list; Maven 3.8.7 (reference on this machine) says `2-1` > `2.0.a` "
                 "and `2.0.a` = `2.0.0.a`")
UNIVERS_EXCLUDED = {("maven_version_cmp.json", pair): UNIVERS_QUIRK for pair in (
    ("2-1", "2.0.a"), ("2-1", "2.0.0.a"), ("2.0.0.a", "2.0.a"))}


def test_every_univers_comparison_suite_is_run_or_declared_not_applicable():
    names = {n for n in os.listdir(shared_data("univers-version-tests", "schema"))
             if n.endswith(".json")}
    assert names == set(UNIVERS_SUITES) | set(UNIVERS_NOT_APPLICABLE)


@pytest.mark.parametrize("suite", sorted(UNIVERS_SUITES))
def test_univers_comparison_suites(suite):
    scheme = scheme_for(UNIVERS_SUITES[suite])
    with open(shared_data("univers-version-tests", "schema", suite), encoding="utf-8") as f:
        cases = json.load(f)
    failures, excluded = [], 0
    for case in cases:
        versions = case["input"]["versions"]
        if case["test_type"] == "equality":
            holds = (scheme.compare(*versions) == 0) == case["expected_output"]
        else:
            ordered = sorted(versions, key=functools.cmp_to_key(scheme.compare))
            # univers prints NuGet versions normalised (lower-cased); compare them that way.
            holds = [v.lower() for v in ordered] == [v.lower() for v in case["expected_output"]]
        if (suite, tuple(versions)) in UNIVERS_EXCLUDED:
            excluded += 1
            assert not holds, f"listed as excluded but passing now: {versions}"
        elif not holds:
            failures.append(case)
    assert not failures, failures[:5]
    assert excluded == sum(1 for (s, _) in UNIVERS_EXCLUDED if s == suite) * \
        (2 if suite == "maven_version_cmp.json" else 1)


def test_rpmvercmp_vectors():
    checked = 0
    with open(shared_data("univers-version-tests", "rpmvercmp.tsv"), encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            a, b, expected = line.rstrip("\n").split("\t")
            ka, kb = rpmvercmp_key(a), rpmvercmp_key(b)
            assert (ka > kb) - (ka < kb) == int(expected), line
            checked += 1
    assert checked == 91


def _node_fixture(name: str) -> list:
    with open(shared_data("node-semver-fixtures-json", f"{name}.json"), encoding="utf-8") as f:
        return json.load(f)["cases"]


def _options(case: list, index: int) -> dict[str, bool]:
    option = case[index] if len(case) > index else None
    if isinstance(option, dict):
        return {"loose": bool(option.get("loose")),
                "include_prerelease": bool(option.get("includePrerelease"))}
    return {"loose": bool(option), "include_prerelease": False}


def test_node_semver_comparisons_and_equality():
    for case in _node_fixture("comparisons"):
        loose = _options(case, 2)["loose"]
        assert compare_npm(case[0], case[1], loose) == 1, case
        assert compare_npm(case[1], case[0], loose) == -1, case
    for case in _node_fixture("equality"):
        assert compare_npm(case[0], case[1], _options(case, 2)["loose"]) == 0, case


@pytest.mark.parametrize(("fixture", "expected"), [("range-include", True),
                                                   ("range-exclude", False)])
def test_node_semver_ranges(fixture, expected):
    for case in _node_fixture(fixture):
        version = case[1] if isinstance(case[1], str) else None
        assert satisfies(version, case[0], **_options(case, 2)) is expected, case


def test_node_semver_range_canonical_forms():
    """Bonus: our desugaring prints exactly node-semver's canonical range (null: invalid)."""
    for case in _node_fixture("range-parse"):
        options = _options(case, 2)
        try:
            got = format_range(parse_range(case[0], options["loose"],
                                           options["include_prerelease"])) or "*"
        except ValueError:
            got = None
        assert got == case[1], case


def test_node_semver_invalid_versions():
    for case in _node_fixture("invalid-versions"):
        if not isinstance(case[0], str):
            continue  # objects: a type error in JavaScript, impossible through our str API
        with pytest.raises(ValueError):
            parse_npm_version(case[0], _options(case, 2)["loose"])
