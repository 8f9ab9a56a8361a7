"""Table tests of each scheme (real cases: happy, sad, malformed) and of the registry."""

from __future__ import annotations

import pkgutil

import pytest

import stackwarden.vulndb.versions as versions
from stackwarden.vulndb.versions import (
    ECOSYSTEMS,
    SCHEMES,
    InvalidVersion,
    UnknownEcosystem,
    scheme_for,
)
from stackwarden.vulndb.versions.golang import is_pseudo_version
from stackwarden.vulndb.versions.rpm import Evr, parse_evr

# (ecosystem, a, expected compare(a, b), b)
ORDER = [
    ("Debian:12", "1:2.0", 1, "2.5"),                      # the epoch wins
    ("Debian", "1.0~rc1", -1, "1.0"),                      # tilde sorts before the release
    ("Debian", "2.36.1-8+deb12u1", -1, "2.36.1-8+deb12u2"),
    ("Debian", "1.2.3-1+b1", 1, "1.2.3-1"),                # binNMU
    ("Debian", "1.0", 0, "1.0-0"),
    ("Ubuntu:22.04:LTS", "1.2-3ubuntu0.1", -1, "1.2-3ubuntu0.2"),
    ("Red Hat", "1.2-3.el9", 0, "0:1.2-3.el9"),            # missing epoch = epoch 0
    ("Rocky Linux:9", "2:1.0-1.el9", 1, "1.5-1.el9"),
    ("AlmaLinux", "1.0^git1", 1, "1.0"),
    ("openSUSE", "1.0~rc1", -1, "1.0"),
    ("rpm", "1.0", -1, "1.0-1"),                           # missing release sorts first
    ("Alpine:v3.20", "1.2.3_rc1-r0", -1, "1.2.3-r0"),
    ("Alpine", "1.2.3_p1-r0", 1, "1.2.3-r5"),
    ("Alpine", "5.7.1p1-r0", -1, "5.7.1p1-r1"),
    ("PyPI", "1.0rc1", -1, "1.0"),
    ("PyPI", "1!0.1", 1, "2.0"),
    ("PyPI", "1.0.post1", 1, "1.0+local"),
    ("npm", "1.0.0-rc.1", -1, "1.0.0"),
    ("npm", "1.0.0+build.1", 0, "1.0.0+build.2"),
    ("crates.io", "0.10.0", 1, "0.9.12"),
    ("Go", "v0.0.0-20191109021931-daa7c04131f5", -1, "v0.0.0-20200101000000-aaaaaaaaaaaa"),
    ("Go", "v1.2.4-0.20191109021931-daa7c04131f5", -1, "v1.2.4"),
    ("Go", "v2.0.0+incompatible", 0, "2.0.0"),
    ("Maven", "1.0-SNAPSHOT", -1, "1.0"),
    ("Maven", "1.0-alpha-1", -1, "1.0-beta-1"),
    ("Maven", "1.0.RELEASE", 0, "1.0"),
    ("Maven", "1.0-sp1", 1, "1.0"),
    ("Maven", "1.0-cr1", 0, "1.0-rc1"),
    ("RubyGems", "1.0.a10", 1, "1.0.a9"),
    ("RubyGems", "1.0.0.pre", -1, "1.0"),
    ("Packagist", "v1.0.0", 0, "1.0.0"),
    ("Packagist", "1.0-dev", -1, "1.0-alpha1"),
    ("Packagist", "1.0RC1", -1, "1.0"),
    ("Packagist", "1.0", -1, "1.0-patch1"),
    ("NuGet", "1.0.0-BETA", 0, "1.0.0-beta"),
    ("NuGet", "1.0.01", 0, "1.0.1.0"),
    ("NuGet", "1.0.0.1", 1, "1.0.0"),
    ("Pub", "1.0.0", -1, "1.0.0+1"),
]


@pytest.mark.parametrize(("ecosystem", "a", "expected", "b"), ORDER)
def test_order(ecosystem, a, expected, b):
    scheme = scheme_for(ecosystem)
    assert scheme.compare(a, b) == expected
    assert scheme.compare(b, a) == -expected
    ka, kb = scheme.parse(a), scheme.parse(b)
    assert (ka < kb, ka == kb, kb < ka) == (expected < 0, expected == 0, expected > 0)


INVALID = [
    ("dpkg", ""), ("dpkg", "1:"), ("dpkg", ":1"), ("dpkg", "1.0-"), ("dpkg", "1 0"),
    ("dpkg", "99999999999:1"), ("rpm", ""), ("rpm", "1.0 1"), ("rpm", "-1"), ("apk", ""),
    ("pep440", "0.1-bulbasaur"), ("pep440", "trunk"), ("npm", "1.2"), ("npm", "01.2.3"),
    ("npm", "1.2.3.4"), ("semver", "1.2.3.4"), ("semver", "1.2.3-"), ("go", "v1.02.3"),
    ("go", "1.2.3-01"), ("maven", ""), ("rubygems", "1beta"), ("rubygems", "1..2"),
    ("composer", ""), ("nuget", "1.0.0.0.0"), ("nuget", "1.0-01"), ("nuget", "3000000000.0"),
    ("pub", "x"), ("dpkg", "9" * 300),
]


@pytest.mark.parametrize(("scheme", "text"), INVALID)
def test_invalid_versions_raise_with_the_text(scheme, text):
    with pytest.raises(InvalidVersion) as caught:
        scheme_for(scheme).parse(text)
    assert caught.value.scheme == scheme
    assert not scheme_for(scheme).is_valid(text)


def test_non_strings_are_invalid():
    with pytest.raises(InvalidVersion):
        scheme_for("dpkg").parse(None)  # type: ignore[arg-type]


def test_apk_validity_is_apk_tools_3_but_invalid_versions_still_compare():
    apk = scheme_for("apk")
    assert not apk.is_valid("0.1a1") and not apk.is_valid("1.0-r")
    assert apk.compare("1.0", "1.0bc") == -1
    with pytest.raises(InvalidVersion):
        apk.parse_strict("0.1_foobar")


def test_rpm_keeps_the_missing_epoch_state_but_compares_it_as_zero():
    assert parse_evr("1.2-3.el9") == Evr(None, "1.2", "3.el9")
    assert parse_evr("0:1.2-3.el9") == Evr(0, "1.2", "3.el9")
    assert str(parse_evr("1.2-3.el9")) == "1.2-3.el9"
    assert parse_evr("a:1") == Evr(None, "a:1", None)  # only digits make an epoch, as in rpm
    assert scheme_for("rpm").compare("1.2-3.el9", "0:1.2-3.el9") == 0


def test_npm_ranges():
    npm = scheme_for("npm")
    assert npm.satisfies("1.2.5", "^1.2.3 || >=2")
    assert not npm.satisfies("1.3.0-beta", "^1.2.3")
    assert npm.satisfies("1.3.0-beta", "^1.2.3", include_prerelease=True)
    assert not npm.satisfies("1.0.0", "not a range")


def test_go_pseudo_versions():
    assert is_pseudo_version("v0.0.0-20191109021931-daa7c04131f5")
    assert is_pseudo_version("v1.2.4-0.20191109021931-daa7c04131f5")
    assert not is_pseudo_version("v1.2.4-rc.1")


def test_parse_is_cached():
    dpkg = scheme_for("dpkg")
    dpkg.parse("7.88.1-10+deb12u5")
    hits = dpkg._parse.cache_info().hits  # type: ignore[attr-defined]
    dpkg.parse("7.88.1-10+deb12u5")
    assert dpkg._parse.cache_info().hits == hits + 1  # type: ignore[attr-defined]


@pytest.mark.parametrize(("name", "scheme"), [
    ("Debian:12", "dpkg"), ("Ubuntu:24.04:LTS", "dpkg"), ("Alpine:v3.20", "apk"),
    ("Red Hat:enterprise_linux:9::appstream", "rpm"), ("Rocky Linux:9", "rpm"),
    ("AlmaLinux:8", "rpm"), ("openSUSE:Leap 15.5", "rpm"), ("SUSE:Linux Enterprise", "rpm"),
    ("PyPI", "pep440"), ("npm", "npm"), ("Go", "go"), ("crates.io", "semver"),
    ("Hex", "semver"), ("Pub", "pub"), ("Maven", "maven"), ("RubyGems", "rubygems"),
    ("Packagist", "composer"), ("NuGet", "nuget"), ("debian", "dpkg"), ("deb", "dpkg"),
    ("pypi", "pep440"), ("golang", "go"), ("cargo", "semver"), ("gem", "rubygems"),
    ("composer", "composer"), ("dpkg", "dpkg"),
])
def test_scheme_for(name, scheme):
    assert scheme_for(name).name == scheme


def test_unknown_ecosystem():
    with pytest.raises(UnknownEcosystem):
        scheme_for("CRAN")


def test_every_scheme_module_is_registered():
    modules = {m.name for m in pkgutil.iter_modules(versions.__path__)}
    helpers = {"base", "padding", "npm_range"}
    registered = {type(s).__module__.rsplit(".", 1)[-1] for s in SCHEMES.values()} | {
        getattr(s, "_parse").uncached.__module__.rsplit(".", 1)[-1] for s in SCHEMES.values()}
    assert modules - helpers <= registered
    assert set(ECOSYSTEMS.values()) <= set(SCHEMES)
