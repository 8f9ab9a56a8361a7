"""OSV matching semantics, distribution rules, alias merging and enrichment."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from stackwarden.core.findings import Severity
from stackwarden.core.models import PackageType
from stackwarden.vulndb.match import match_packages
from tests.vulndb.helpers import ALPINE_320, DEBIAN_12, make_db, osv, pkg

PY = PackageType.PYTHON


@pytest.mark.parametrize(
    ("events", "version", "affected"),
    [
        ((("introduced", "0"), ("fixed", "2.0")), "1.9", True),
        ((("introduced", "0"), ("fixed", "2.0")), "2.0", False),
        ((("introduced", "1.5"), ("fixed", "2.0")), "1.4", False),
        ((("introduced", "1.5"), ("last_affected", "1.8")), "1.8", True),
        ((("introduced", "1.5"), ("last_affected", "1.8")), "1.8.1", False),
        ((("introduced", "0"), ("limit", "3.0")), "2.9", True),
        ((("introduced", "0"), ("limit", "3.0")), "3.0", False),
        # several intervals in one range, written out of order
        ((("fixed", "2.5"), ("introduced", "2.0"), ("fixed", "1.5"), ("introduced", "1.0")),
         "1.7", False),
        ((("fixed", "2.5"), ("introduced", "2.0"), ("fixed", "1.5"), ("introduced", "1.0")),
         "2.1", True),
        ((("introduced", "0"),), "99.0", True),  # no fix at all
    ],
)
def test_osv_event_kinds(tmp_path: Path, events: tuple[tuple[str, str], ...], version: str,
                         affected: bool) -> None:
    with make_db(tmp_path, [osv("PYSEC-1", "PyPI", "demo", *events)]) as db:
        result = match_packages([pkg("demo", version)], None, db)
    assert bool(result.findings) is affected


def test_explicit_versions_list_and_withdrawn(tmp_path: Path) -> None:
    records = [osv("PYSEC-2", "PyPI", "demo", versions=("1.0.1",)),
               osv("PYSEC-3", "PyPI", "demo", ("introduced", "0"), withdrawn="2023-01-01")]
    with make_db(tmp_path, records) as db:
        hit = match_packages([pkg("demo", "1.0.1")], None, db).findings
        miss = match_packages([pkg("demo", "1.0.2")], None, db).findings
    assert [f.id for f in hit] == ["PYSEC-2"]
    assert miss == []


def test_pep503_names_and_fixed_versions(tmp_path: Path) -> None:
    record = osv("PYSEC-4", "PyPI", "Zope_Interface", ("introduced", "0"), ("fixed", "5.0"))
    with make_db(tmp_path, [record]) as db:
        (finding,) = match_packages([pkg("zope.interface", "4.7")], None, db).findings
    assert finding.fixed_versions == ("5.0",) and finding.status == "fixed"
    assert finding.package is not None and finding.package.name == "zope.interface"


def test_aliases_merge_into_one_finding(tmp_path: Path) -> None:
    records = [
        osv("PYSEC-2018-28", "PyPI", "requests", ("introduced", "0"), ("fixed", "2.20.0"),
            aliases=("CVE-2018-18074",)),
        osv("GHSA-x84v-xcm2-53pg", "PyPI", "requests", ("introduced", "0"),
            ("fixed", "2.20.0"), aliases=("CVE-2018-18074",),
            severity=[{"type": "CVSS_V3",
                       "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"}]),
    ]
    with make_db(tmp_path, records) as db:
        (finding,) = match_packages([pkg("requests", "2.19.0")], None, db).findings
    assert finding.id == "CVE-2018-18074"
    assert set(finding.aliases) == {"PYSEC-2018-28", "GHSA-x84v-xcm2-53pg"}
    assert finding.severity is Severity.HIGH
    assert finding.cvss[0].score == 7.5


def test_kev_and_epss_enrichment(tmp_path: Path) -> None:
    kev = tmp_path / "known_exploited_vulnerabilities.json"
    kev.write_text('{"catalogVersion": "x", "vulnerabilities": [{"cveID": "CVE-2021-44228",'
                   ' "dateAdded": "2021-12-10", "dueDate": "2021-12-24"}]}')
    epss = tmp_path / "epss_scores-current.csv"
    epss.write_text("#model\ncve,epss,percentile\nCVE-2021-44228,0.97,0.9999\n")
    record = osv("GHSA-jfh8-c2jp-5v3q", "Maven", "org.apache.logging.log4j:log4j-core",
                 ("introduced", "2.0-beta9"), ("fixed", "2.15.0"), aliases=("CVE-2021-44228",))
    with make_db(tmp_path, [record], extra=[str(kev), str(epss)]) as db:
        log4j = pkg("log4j-core", "2.14.1", PackageType.JAVA,
                    groupId="org.apache.logging.log4j", artifactId="log4j-core")
        (finding,) = match_packages([log4j], None, db).findings
    assert finding.id == "CVE-2021-44228"
    assert finding.kev_due == "2021-12-24" and finding.in_kev
    assert finding.epss == (0.97, 0.9999)


def test_debian_matches_the_source_package_of_the_release(tmp_path: Path) -> None:
    records = [
        osv("DSA-5514-1", "Debian:12", "glibc", ("introduced", "0"),
            ("fixed", "2.36-9+deb12u3"), aliases=("CVE-2023-4911",)),
        osv("DSA-OTHER", "Debian:11", "glibc", ("introduced", "0"), ("fixed", "9:9.9")),
    ]
    with make_db(tmp_path, records) as db:
        # binNMU: binary 2.36-9+deb12u1+b1 from source 2.36-9+deb12u1
        old = pkg("libc6", "2.36-9+deb12u1+b1", PackageType.DEB,
                  source=("glibc", "2.36-9+deb12u1"))
        new = pkg("libc-bin", "2.36-9+deb12u3", PackageType.DEB, source=("glibc", "2.36-9+deb12u3"))
        result = match_packages([old, new], DEBIAN_12, db)
    assert [(f.id, f.package.name) for f in result.findings] == [("CVE-2023-4911", "libc6")]


@pytest.mark.parametrize(
    ("fixed", "installed", "affected"),
    [("1:2.0-1", "2.5-1", True),  # an epoch outranks any upstream version
     ("1.0-1", "1.0~rc1-1", True),  # tilde sorts before the release
     ("1.0-1", "1.0+dfsg-1", False)],
)
def test_dpkg_ordering_in_matches(tmp_path: Path, fixed: str, installed: str,
                                  affected: bool) -> None:
    record = osv("DLA-1", "Debian:12", "src", ("introduced", "0"), ("fixed", fixed))
    with make_db(tmp_path, [record]) as db:
        found = match_packages([pkg("bin", installed, PackageType.DEB,
                                    source=("src", installed))], DEBIAN_12, db).findings
    assert bool(found) is affected


def test_unfixed_distribution_vulnerability(tmp_path: Path) -> None:
    record = osv("DEBIAN-CVE-2024-0001", "Debian:12", "zlib", ("introduced", "0"),
                 aliases=("CVE-2024-0001",))
    package = pkg("zlib1g", "1:1.2.13.dfsg-1", PackageType.DEB, source=("zlib", "1:1.2.13.dfsg-1"))
    with make_db(tmp_path, [record]) as db:
        shown = match_packages([package], DEBIAN_12, db)
        hidden = match_packages([package], DEBIAN_12, db, ignore_unfixed=True)
    (finding,) = shown.findings
    assert finding.status == "not-fixed" and finding.fixed_versions == ()
    assert hidden.findings == []
    assert [reason for _, reason in hidden.ignored] == ["no fix available (--ignore-unfixed)"]


def test_alpine_branch(tmp_path: Path) -> None:
    secdb = tmp_path / "v3.20"
    secdb.mkdir()
    (secdb / "main.json").write_text(
        '{"distroversion": "v3.20", "reponame": "main", "packages": [{"pkg": {"name": '
        '"openssl", "secfixes": {"3.3.2-r0": ["CVE-2024-6119"], "0": ["CVE-2020-0001"]}}}]}')
    with make_db(tmp_path, [], extra=[f"alpine-secdb:{tmp_path}"]) as db:
        old = pkg("libcrypto3", "3.3.1-r3", PackageType.APK, source=("openssl", "3.3.1-r3"))
        new = pkg("libssl3", "3.3.2-r0", PackageType.APK, source=("openssl", "3.3.2-r0"))
        result = match_packages([old, new], ALPINE_320, db)
    assert [(f.id, f.package.name) for f in result.findings] == [("CVE-2024-6119",
                                                                   "libcrypto3")]


def test_language_package_owned_by_an_os_package_is_suppressed(tmp_path: Path) -> None:
    record = osv("PYSEC-2018-28", "PyPI", "requests", ("introduced", "0"), ("fixed", "2.20.0"))
    meta = "/usr/lib/python3/dist-packages/requests-2.19.0.dist-info/METADATA"
    deb = pkg("python3-requests", "2.19.0-1", PackageType.DEB, source=("requests", "2.19.0-1"))
    deb = replace(deb, files=(meta,))
    with make_db(tmp_path, [record]) as db:
        result = match_packages([deb, pkg("requests", "2.19.0", path=meta)], DEBIAN_12, db)
    assert result.findings == []
    (finding, reason), = result.ignored
    assert "python3-requests" in reason


def test_crates_and_gems_requirements(tmp_path: Path) -> None:
    crate = tmp_path / "crates" / "smallvec"
    crate.mkdir(parents=True)
    (crate / "RUSTSEC-2021-0003.md").write_text(
        '```toml\n[advisory]\nid = "RUSTSEC-2021-0003"\npackage = "smallvec"\n'
        'date = "2021-01-08"\n[versions]\npatched = ["^0.6.14", ">= 1.6.1"]\n'
        'unaffected = ["< 0.6.3"]\n```\n# Buffer overflow\n')
    gem = tmp_path / "gems" / "rack"
    gem.mkdir(parents=True)
    (gem / "CVE-2020-8184.yml").write_text(
        "gem: rack\ncve: 2020-8184\ntitle: cookie\npatched_versions:\n  - '~> 2.1.4'\n"
        "  - '>= 2.2.0'\n")
    with make_db(tmp_path, [], extra=[f"rustsec:{tmp_path}", f"rubysec:{tmp_path}"]) as db:
        def hits(name: str, version: str, kind: PackageType) -> bool:
            return bool(match_packages([pkg(name, version, kind)], None, db).findings)

        assert hits("smallvec", "0.6.10", PackageType.RUST)
        assert not hits("smallvec", "0.6.14", PackageType.RUST)
        assert not hits("smallvec", "0.6.2", PackageType.RUST)
        assert hits("smallvec", "1.6.0", PackageType.RUST)
        assert not hits("smallvec", "1.6.1", PackageType.RUST)
        assert hits("rack", "2.1.3", PackageType.GEM)
        assert not hits("rack", "2.1.4.1", PackageType.GEM)
        assert hits("rack", "2.0.9", PackageType.GEM)
        assert not hits("rack", "2.2.3", PackageType.GEM)


def test_go_versions_and_stdlib(tmp_path: Path) -> None:
    records = [osv("GO-2020-0001", "Go", "github.com/gin-gonic/gin", ("introduced", "0"),
                   ("fixed", "1.6.0"), range_type="SEMVER"),
               osv("GO-2023-2185", "Go", "stdlib", ("introduced", "1.21.0-0"),
                   ("fixed", "1.21.4"), range_type="SEMVER")]
    with make_db(tmp_path, records) as db:
        gin = pkg("github.com/gin-gonic/gin", "v1.5.0", PackageType.GO)
        std = pkg("stdlib", "go1.21.3", PackageType.GO)
        ok = pkg("stdlib", "go1.21.4", PackageType.GO)
        found = match_packages([gin, std, ok], None, db).findings
    assert sorted(f.id for f in found) == ["GO-2020-0001", "GO-2023-2185"]


def test_nodejs_security_wg_ranges(tmp_path: Path) -> None:
    from tests.helpers.env import shared_data

    source = f"nodejs-wg:{shared_data('nodejs-security-wg')}"
    with make_db(tmp_path, [], extra=[source]) as db:
        old = match_packages([pkg("lodash", "4.17.4", PackageType.NPM)], None, db).findings
        new = match_packages([pkg("lodash", "4.17.21", PackageType.NPM)], None, db).findings
    assert {"CVE-2018-3721", "CVE-2018-16487"} <= {f.id for f in old}
    assert ">=4.17.5" in next(f for f in old if f.id == "CVE-2018-3721").fixed_versions
    assert new == []
