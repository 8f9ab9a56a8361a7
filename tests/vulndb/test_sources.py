"""Advisory sources: OSV (JSON, YAML, zip), Alpine secdb, RustSec, RubySec, KEV, EPSS."""

from __future__ import annotations

import gzip
import json
import zipfile
from pathlib import Path

import pytest

from stackwarden.vulndb.build import build_database, detect_kind
from stackwarden.vulndb.model import UNAFFECTED_REQUIREMENTS, Advisory
from stackwarden.vulndb.sources.alpine import AlpineSecdbReader
from stackwarden.vulndb.sources.base import BadRecord
from stackwarden.vulndb.sources.enrichment import read_epss, read_kev
from stackwarden.vulndb.sources.osv import OSVReader, parse_record
from stackwarden.vulndb.sources.rubysec import RubySecReader
from stackwarden.vulndb.sources.rustsec import RustSecReader
from stackwarden.vulndb.store import VulnDB
from tests.helpers.env import shared_data

GOOD = {
    "id": "PYSEC-2018-28", "aliases": ["CVE-2018-18074", "GHSA-x84v-xcm2-53pg"],
    "modified": "2021-06-16T00:03:24Z",
    "affected": [{"package": {"name": "Requests", "ecosystem": "PyPI"},
                  "ranges": [{"type": "GIT", "repo": "x", "events": [{"introduced": "0"}]},
                             {"type": "ECOSYSTEM",
                              "events": [{"introduced": "0"}, {"fixed": "2.20.0"}]}]}],
}


def test_osv_record_normalises_names_and_skips_git_ranges() -> None:
    adv = parse_record(GOOD, "x.json", "osv")
    assert adv.aliases == ("CVE-2018-18074", "GHSA-x84v-xcm2-53pg")
    (affected,) = adv.affected
    assert (affected.ecosystem, affected.release, affected.package) == ("PyPI", "", "requests")
    assert [r.type for r in affected.ranges] == ["ECOSYSTEM"]
    assert adv.extra["skipped_ranges"]


@pytest.mark.parametrize(
    ("doc", "reason"),
    [
        ([1, 2], "not an OSV object"),
        ({"affected": []}, "no id"),
        ({"id": "X", "affected": [{"ranges": []}]}, "without a package"),
        ({"id": "X", "affected": [{"package": {"name": "a", "ecosystem": "PyPI"},
                                   "ranges": [{"type": "ECOSYSTEM", "events": [{"fixed": "1"}]}]}]},
         "no 'introduced'"),
        ({"id": "X", "affected": [{"package": {"name": "a", "ecosystem": "PyPI"},
                                   "ranges": [{"type": "WEIRD", "events": [{"introduced": "0"}]}]}]},
         "unknown range type"),
        ({"id": "X", "affected": [{"package": {"name": "a", "ecosystem": "PyPI"},
                                   "ranges": [{"type": "ECOSYSTEM",
                                               "events": [{"introduced": 3}]}]}]},
         "malformed event"),
    ],
)
def test_malformed_osv_records(doc: object, reason: str) -> None:
    with pytest.raises(BadRecord, match=reason):
        parse_record(doc, "x.json", "osv")


def test_unknown_ecosystems_are_left_out() -> None:
    doc = {"id": "X", "affected": [{"package": {"name": "a", "ecosystem": "Hackage"},
                                    "ranges": [{"type": "ECOSYSTEM",
                                                "events": [{"introduced": "0"}]}]}]}
    assert parse_record(doc, "x", "osv").affected == ()


def test_reader_counts_bad_files_in_a_zip(tmp_path: Path) -> None:
    archive = tmp_path / "all.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("PYSEC-2018-28.json", json.dumps(GOOD))
        zf.writestr("broken.json", "{not json")
        zf.writestr("list.yaml", "- id: A\n- 3\n")
    items = list(OSVReader().read(archive))
    good = [i for i in items if isinstance(i, Advisory)]
    bad = [i for i in items if isinstance(i, BadRecord)]
    assert sorted(a.id for a in good) == ["A", "PYSEC-2018-28"]
    assert len(bad) == 2 and any("not valid JSON" in b.reason for b in bad)


def test_huge_record_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    path.write_bytes(b'{"id": "X", "details": "' + b"a" * (9 * 1024 * 1024) + b'"}')
    (item,) = OSVReader().read(path)
    assert isinstance(item, BadRecord) and "record limit" in item.reason


def test_alpine_secdb() -> None:
    path = Path(shared_data("alpine-secdb", "v3.20", "main.json"))
    items = [i for i in AlpineSecdbReader().read(path) if isinstance(i, Advisory)]
    openssl = [a for a in items if a.affected[0].package == "openssl"
               and "CVE-2023-5678" in a.aliases]
    assert openssl
    (affected,) = openssl[0].affected
    assert (affected.ecosystem, affected.release) == ("Alpine", "v3.20")
    assert affected.ranges[0].events[0] == ("introduced", "0")
    assert affected.ranges[0].events[1][0] == "fixed"


def test_rustsec_and_rubysec() -> None:
    rust = [i for i in RustSecReader().read(Path(shared_data("rustsec-advisory-db", "crates")))
            if isinstance(i, Advisory)]
    assert len(rust) > 1000
    abi = next(a for a in rust if a.id == "RUSTSEC-2020-0105")
    assert abi.affected[0].package == "abi_stable"
    assert abi.affected[0].ranges[0].type == UNAFFECTED_REQUIREMENTS
    assert abi.affected[0].ranges[0].requirements == (">= 0.9.1",)
    ruby = [i for i in RubySecReader().read(Path(shared_data("rubysec-ruby-advisory-db")))
            if isinstance(i, Advisory)]
    assert len(ruby) > 1000
    assert all(a.affected[0].ecosystem == "RubyGems" for a in ruby)


def test_kev_and_epss(tmp_path: Path) -> None:
    kev = [e for e in read_kev(Path(shared_data("cisa-kev",
                                                "known_exploited_vulnerabilities.json")))
           if not isinstance(e, BadRecord)]
    assert len(kev) > 1000 and all(e.cve.startswith("CVE-") for e in kev)
    epss = tmp_path / "epss_scores-2026-11-28.csv.gz"
    epss.write_bytes(gzip.compress(b"#model_version:v2025.03.14,score_date:2026-11-28\n"
                                   b"cve,epss,percentile\nCVE-2018-18074,0.0123,0.81\n"
                                   b"CVE-bad,notanumber,1\n"))
    rows = list(read_epss(epss))
    assert rows[0].cve == "CVE-2018-18074" and rows[0].score == pytest.approx(0.0123)
    assert isinstance(rows[1], BadRecord)
    assert detect_kind(epss) == "epss"


def test_build_reports_counts_and_is_atomic(tmp_path: Path) -> None:
    src = tmp_path / "osv"
    src.mkdir()
    (src / "good.json").write_text(json.dumps(GOOD))
    (src / "bad.json").write_text("{")
    (src / "withdrawn.json").write_text(json.dumps({**GOOD, "id": "W", "withdrawn": "2022"}))
    out = tmp_path / "db" / "v.sqlite"
    report = build_database([str(src)], out)
    (source,) = report.sources
    assert (source.records, source.skipped, source.withdrawn) == (1, 1, 1)
    assert "not valid JSON" in source.reasons[0]
    with VulnDB(out) as db:
        assert db.counts()["vulnerabilities"] == 1
        assert [r.vuln_id for r in db.affected("PyPI", "requests")] == ["PYSEC-2018-28"]
        assert db.sources()[0]["records"] == 1
    assert [p.name for p in out.parent.iterdir()] == ["v.sqlite"]
