"""Property tests: our schemes against the reference implementations running on this machine.

For each scheme, >= 10,000 hypothesis-generated pairs (100 examples of 100 pairs, one oracle
round trip per example) plus pairs of REAL versions from the shared advisory data: dpkg
against `dpkg --compare-versions`, rpm against rpm's own rpmverCmp (python3-rpm), PEP 440
against `packaging`, npm versions and ranges against node-semver under Node.js, Maven against
ComparableVersion under Java. apk has no oracle here: apk-tools does not run on Debian (no
package, no static binary), so apk rests on apk-tools' own version.data and the vectors.
"""

from __future__ import annotations

import glob
import random
import re
from collections.abc import Callable, Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from packaging.version import InvalidVersion as PackagingInvalid
from packaging.version import Version

from stackwarden.vulndb.versions import InvalidVersion, scheme_for
from stackwarden.vulndb.versions.npm import compare_npm
from stackwarden.vulndb.versions.npm_range import satisfies
from stackwarden.vulndb.versions.rpm import parse_evr
from tests.helpers.env import shared_data
from tests.vulndb.versions import oracles

# Per scheme: 20 examples x 100 pairs drawn by hypothesis strategies (slow to draw, but they
# aim at boundaries), plus 8 hypothesis-chosen seeds x 1,000 pairs from a fast seeded
# generator of the same shapes: over 10,000 generated pairs, within the suite's time budget.
PAIRS_PER_EXAMPLE = 100
EXAMPLES = 20
BULK_SEEDS = 8
BULK_PAIRS = 1100
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.large_base_example])
BULK = settings(max_examples=BULK_SEEDS, deadline=None, database=None)
SEEDS = st.integers(0, 2**32 - 1)
COUNTS: dict[str, int] = {}  # scheme -> pairs checked, printed at the end (-s)


def _count(name: str, n: int) -> None:
    COUNTS[name] = COUNTS.get(name, 0) + n


def _mutated_pairs(text: st.SearchStrategy[str], alphabet: str) -> st.SearchStrategy:
    """Pairs that are often close: equal, one edit apart, or one a prefix of the other."""

    @st.composite
    def pair(draw: Callable) -> tuple[str, str]:
        a = draw(text)
        kind = draw(st.integers(0, 5))
        if kind == 0:
            return a, draw(text)
        if kind == 1:
            return a, a
        i = draw(st.integers(0, len(a)))
        c = draw(st.sampled_from(alphabet))
        if kind == 2:
            return a, a[:i] + c + a[i:]
        if kind == 3 and a:
            return a, a[:max(i - 1, 0)] + c + a[i:]
        if kind == 4:
            return a, a[:i]
        return a, a + draw(text)

    return pair()


def bulk_pairs(seed: int, make: Callable[[random.Random], str], alphabet: str,
               n: int = BULK_PAIRS) -> list[tuple[str, str]]:
    """`n` pairs shaped like `_mutated_pairs`, from a seeded generator (fast)."""
    rng = random.Random(seed)
    pairs = []
    for _ in range(n):
        a = make(rng)
        kind = rng.randrange(6)
        i = rng.randrange(len(a) + 1)
        c = rng.choice(alphabet)
        b = (make(rng), a, a[:i] + c + a[i:], a[:max(i - 1, 0)] + c + a[i:], a[:i],
             a + make(rng))[kind]
        pairs.append((a, b))
    return pairs


def text_maker(alphabet: str, structured: Callable[[random.Random], str],
               max_size: int = 14) -> Callable[[random.Random], str]:
    """Random strings over `alphabet` half of the time, `structured` versions otherwise."""
    def make(rng: random.Random) -> str:
        if rng.random() < 0.5:
            return "".join(rng.choice(alphabet) for _ in range(rng.randint(1, max_size)))
        return structured(rng)
    return make


def _digits_and(rng: random.Random, tail: str, size: int = 10) -> str:
    return rng.choice("0123456789") + "".join(rng.choice(tail)
                                              for _ in range(rng.randint(0, size)))


def _batch(pairs: st.SearchStrategy) -> st.SearchStrategy:
    return st.lists(pairs, min_size=PAIRS_PER_EXAMPLE, max_size=PAIRS_PER_EXAMPLE)


def _mine(scheme: str, a: str, b: str) -> int | None:
    try:
        return scheme_for(scheme).compare(a, b)
    except InvalidVersion:
        return None


# ---------------------------------------------------------------- dpkg ----------------------

DPKG_ALPHABET = "0123456789.+~-:abzAZ"
_dpkg_text = st.text(alphabet=DPKG_ALPHABET, min_size=1, max_size=14)
_dpkg_structured = st.builds(
    lambda e, u, r: f"{e}{u}{r}",
    st.sampled_from(["", "", "", "1:", "2:", "0:", "10:"]),
    st.from_regex(r"[0-9][0-9a-z.+~]{0,10}", fullmatch=True),
    st.sampled_from(["", "-1", "-0", "-1~deb12u1", "-2+b1", "-1ubuntu0.1", "-3~bpo11+1", "-a"]))
DPKG_PAIRS = _mutated_pairs(st.one_of(_dpkg_text, _dpkg_structured), DPKG_ALPHABET)


def check_dpkg(pairs: Sequence[tuple[str, str]], source: str = "generated") -> None:
    # dpkg's command line reads an empty argument as "no version", not as a version.
    pairs = [(a, b) for a, b in pairs if a.strip() and b.strip()]
    claims, mine = [], []
    for a, b in pairs:
        result = _mine("dpkg", a, b)
        mine.append(result)
        claims.append((a, "eq" if result is None else oracles.SYMBOL[result], b))
    codes = oracles.dpkg_check(claims)
    wrong = [(a, b, m, code) for (a, b), m, code in zip(pairs, mine, codes, strict=True)
             if (m is None) != (code == 2) or (m is not None and code != 0)]
    assert not wrong, f"disagreements with dpkg (pair, ours, dpkg exit code): {wrong[:10]}"
    _count(f"dpkg {source}", len(pairs))


@SETTINGS
@given(_batch(DPKG_PAIRS))
def test_dpkg_against_dpkg_compare_versions(pairs):
    check_dpkg(pairs)


_DPKG_MAKE = text_maker(DPKG_ALPHABET, lambda r: r.choice(["", "", "", "1:", "2:", "0:"])
                        + _digits_and(r, "0123456789abcz.+~")
                        + r.choice(["", "-1", "-0", "-1~deb12u1", "-2+b1", "-1ubuntu0.1"]))


@BULK
@given(SEEDS)
def test_dpkg_bulk_against_dpkg_compare_versions(seed):
    check_dpkg(bulk_pairs(seed, _DPKG_MAKE, DPKG_ALPHABET))


def _debian_tracker_versions() -> list[str]:
    versions = set()
    for name in ("DSA", "DLA", "DTSA"):
        with open(shared_data("debian-security-tracker", "data", name, "list"),
                  encoding="utf-8") as handle:
            for line in handle:
                match = re.match(r"\s+\[\w+\] - \S+ (\S+)", line)
                if match and match.group(1)[0].isdigit():
                    versions.add(match.group(1))
    return sorted(versions)


def _real_pairs(versions: list[str], key: Callable, limit: int) -> list[tuple[str, str]]:
    """Neighbours in our order (where mistakes show) plus seeded random pairs."""
    ordered = sorted(versions, key=key)
    pairs = list(zip(ordered, ordered[1:]))
    rng = random.Random(20261129)
    pairs += [(rng.choice(versions), rng.choice(versions)) for _ in range(limit // 4)]
    rng.shuffle(pairs)
    return pairs[:limit]


def test_dpkg_real_versions_from_debian_security_tracker():
    versions = _debian_tracker_versions()
    assert len(versions) > 5000
    check_dpkg(_real_pairs(versions, scheme_for("dpkg").parse, 4000), "real")


# ---------------------------------------------------------------- rpm -----------------------

RPM_ALPHABET = "0123456789.~^+_-:abzAZé"
_rpm_text = st.text(alphabet=RPM_ALPHABET, min_size=1, max_size=14)
_rpm_structured = st.builds(
    lambda e, v, r: f"{e}{v}{r}",
    st.sampled_from(["", "", "", "0:", "1:", "2:"]),
    st.from_regex(r"[0-9][0-9a-z.~^_+]{0,10}", fullmatch=True),
    st.sampled_from(["", "-1", "-1.el9", "-2.el9_3.1", "-0.1.rc1.fc39", "-1.module+el8+1"]))
RPM_PAIRS = _mutated_pairs(st.one_of(_rpm_text, _rpm_structured), RPM_ALPHABET)


@pytest.fixture(scope="module")
def rpm():
    oracle = oracles.rpm_oracle()
    yield oracle
    oracle.close()


def check_rpm(oracle: oracles.LineOracle, pairs: Sequence[tuple[str, str]],
              source: str = "generated") -> None:
    answers = oracle.ask(f"{a}\t{b}" for a, b in pairs)
    wrong = []
    for (a, b), answer in zip(pairs, answers, strict=True):
        mine = _mine("rpm", a, b)
        if mine is None:
            # We refuse what rpm accepts only for an empty version part ("-1", "1:").
            empty = answer == "E" or "\t\t" in answer or answer.endswith("\t")
            if not empty:
                for text in (a, b):
                    try:
                        parse_evr(text)
                    except ValueError:
                        break
                wrong.append((a, b, None, answer))
            continue
        if answer == "E" or int(answer.split("\t")[0]) != mine:
            wrong.append((a, b, mine, answer))
    assert not wrong, f"disagreements with rpm (pair, ours, rpm): {wrong[:10]}"
    _count(f"rpm {source}", len(pairs))


@SETTINGS
@given(pairs=_batch(RPM_PAIRS))
def test_rpm_against_rpm_python_binding(rpm, pairs):
    check_rpm(rpm, pairs)


_RPM_MAKE = text_maker(RPM_ALPHABET, lambda r: r.choice(["", "", "", "0:", "1:"])
                       + _digits_and(r, "0123456789abz.~^_+")
                       + r.choice(["", "-1", "-1.el9", "-2.el9_3.1", "-0.1.rc1.fc39"]))


@BULK
@given(seed=SEEDS)
def test_rpm_bulk_against_rpm_python_binding(rpm, seed):
    check_rpm(rpm, bulk_pairs(seed, _RPM_MAKE, RPM_ALPHABET))


def test_rpm_real_version_strings(rpm):
    """Real version strings (Debian and Alpine fixed versions) through rpmvercmp."""
    versions = _debian_tracker_versions() + _alpine_secdb_versions()
    check_rpm(rpm, _real_pairs(versions, scheme_for("rpm").parse, 6000), "real")


# ---------------------------------------------------------------- PEP 440 -------------------

_pep440_text = st.text(alphabet="0123456789.!+-_abcdeilnoprstv", min_size=1, max_size=14)
_pep440_structured = st.builds(
    lambda e, r, p, post, dev, local: f"{e}{r}{p}{post}{dev}{local}",
    st.sampled_from(["", "", "1!", "0!"]),
    st.from_regex(r"[0-9]{1,3}(\.[0-9]{1,3}){0,3}", fullmatch=True),
    st.sampled_from(["", "", "a1", "b2", "rc1", "c3", "alpha", "-beta.2", "pre", "preview1"]),
    st.sampled_from(["", "", ".post1", "-1", "post", "_r2", ".rev3"]),
    st.sampled_from(["", "", ".dev0", "dev", "-dev2"]),
    st.sampled_from(["", "", "+local", "+ubuntu.1", "+1.a"]))
PEP440_PAIRS = _mutated_pairs(st.one_of(_pep440_text, _pep440_structured), "0123456789.abcr+")


def _packaging_compare(a: str, b: str) -> int | None:
    try:
        va, vb = Version(a), Version(b)
    except PackagingInvalid:
        return None
    return (va > vb) - (va < vb)


def check_pep440(pairs: Sequence[tuple[str, str]], source: str = "generated") -> None:
    wrong = [(a, b) for a, b in pairs if _mine("pep440", a, b) != _packaging_compare(a, b)]
    assert not wrong, wrong[:10]
    _count(f"pep440 {source}", len(pairs))


@SETTINGS
@given(_batch(PEP440_PAIRS))
def test_pep440_against_packaging(pairs):
    check_pep440(pairs)


_PEP440_MAKE = text_maker("0123456789.!+-_abcdeilnoprstv", lambda r: "".join((
    r.choice(["", "", "1!"]), ".".join(str(r.randint(0, 12)) for _ in range(r.randint(1, 4))),
    r.choice(["", "", "a1", "b2", "rc1", "c3", "alpha", "-beta.2", "pre"]),
    r.choice(["", "", ".post1", "-1", "post"]), r.choice(["", "", ".dev0", "dev"]),
    r.choice(["", "", "+local", "+ubuntu.1"]))))


@BULK
@given(SEEDS)
def test_pep440_bulk_against_packaging(seed):
    check_pep440(bulk_pairs(seed, _PEP440_MAKE, "0123456789.abcr+"))


_YAML_VERSION = re.compile(
    r"^\s*(?:-\s+|(?:introduced|fixed|last_affected|limit):\s+)['\"]?([^'\"\s#]+)", re.M)


def _pypa_versions() -> list[str]:
    versions: set[str] = set()
    for path in glob.glob(shared_data("osv-pypa-advisory-database", "vulns") + "/*/*.yaml"):
        # A regex, not a YAML parse: 2,600 files parse too slowly, and we only want strings.
        with open(path, encoding="utf-8") as handle:
            versions.update(_YAML_VERSION.findall(handle.read()))
    return sorted(versions)


def test_pep440_real_versions_from_pypa_advisories():
    versions = [v for v in _pypa_versions() if scheme_for("pep440").is_valid(v)]
    assert len(versions) > 5000
    check_pep440(_real_pairs(versions, scheme_for("pep440").parse, 10000), "real")


# ---------------------------------------------------------------- npm -----------------------

NPM_ALPHABET = "0123456789.-+abxX"
_npm_text = st.text(alphabet=NPM_ALPHABET + "v= ", min_size=1, max_size=14)
_npm_core = st.from_regex(r"(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]?)\.(0|[1-9][0-9]?)",
                          fullmatch=True)
_npm_structured = st.builds(
    lambda v, core, pre, build: f"{v}{core}{pre}{build}",
    st.sampled_from(["", "", "", "v", "=", " "]), _npm_core,
    st.sampled_from(["", "", "", "-0", "-1", "-alpha", "-alpha.1", "-beta.11", "-rc.1",
                     "-x.7.z.92", "-01", "-a-b", "-1a"]),
    st.sampled_from(["", "", "+build", "+001", "+exp.sha.5114f85"]))
NPM_PAIRS = _mutated_pairs(st.one_of(_npm_text, _npm_structured), NPM_ALPHABET)


@pytest.fixture(scope="module")
def node():
    oracle = oracles.node_oracle()
    yield oracle
    oracle.close()


def check_npm(oracle: oracles.LineOracle, pairs: Sequence[tuple[str, str]],
              source: str = "generated") -> None:
    answers = oracle.ask(f"C\t{a}\t{b}" for a, b in pairs)
    wrong = []
    for (a, b), answer in zip(pairs, answers, strict=True):
        try:
            mine = str(compare_npm(a, b))
        except InvalidVersion:
            mine = "E"
        if mine != answer:
            wrong.append((a, b, mine, answer))
    assert not wrong, f"disagreements with node-semver (pair, ours, node): {wrong[:10]}"
    _count(f"npm {source}", len(pairs))


@SETTINGS
@given(pairs=_batch(NPM_PAIRS))
def test_npm_versions_against_node_semver(node, pairs):
    check_npm(node, pairs)


def _npm_structured_make(r: random.Random) -> str:
    return "".join((r.choice(["", "", "", "v", "=", " "]),
                    ".".join(str(r.choice([0, 0, 1, 2, 10, 99])) for _ in range(3)),
                    r.choice(["", "", "", "-0", "-1", "-alpha", "-alpha.1", "-beta.11", "-rc.1",
                              "-01", "-a-b", "-1a"]),
                    r.choice(["", "", "+build", "+001"])))


_NPM_MAKE = text_maker(NPM_ALPHABET + "v= ", _npm_structured_make)


@BULK
@given(seed=SEEDS)
def test_npm_bulk_versions_against_node_semver(node, seed):
    check_npm(node, bulk_pairs(seed, _NPM_MAKE, NPM_ALPHABET))


def _partial_make(r: random.Random) -> str:
    if r.random() < 0.5:
        return _npm_structured_make(r)
    parts = [r.choice(["0", "1", "2", "x", "*", "X"])]
    for _ in range(r.randint(0, 2)):
        parts.append(r.choice(["0", "1", "2", "x", "*"]))
    text = ".".join(parts)
    if len(parts) == 3 and r.random() < 0.3:
        text += r.choice(["-0", "-rc.1", "-alpha"])
    return text


def _range_make(r: random.Random) -> str:
    sets = []
    for _ in range(r.randint(1, 3)):
        kind = r.random()
        if kind < 0.6:
            sets.append(" ".join(r.choice(["", "^", "~", "~>", ">", ">=", "<", "<=", "=", "> ",
                                           "^ "]) + _partial_make(r)
                                 for _ in range(r.randint(1, 3))))
        elif kind < 0.85:
            sets.append(f"{_partial_make(r)} - {_partial_make(r)}")
        else:
            sets.append(r.choice(["", "*", "x", ">=*", "latest", "<0.0.0-0"]))
    return " || ".join(sets)


@settings(BULK, max_examples=9)
@given(seed=SEEDS)
def test_npm_bulk_ranges_against_node_semver(node, seed):
    rng = random.Random(seed)
    check_npm_ranges(node, [(_range_make(rng), _NPM_MAKE(rng), rng.random() < 0.3)
                            for _ in range(BULK_PAIRS)])


_partial = st.one_of(
    _npm_structured,
    st.from_regex(r"(0|[1-9x*X])(\.(0|[1-9]|x|\*)(\.(0|[1-9]|x)(-(0|rc\.1|alpha))?)?)?",
                  fullmatch=True))
_comparator = st.builds(lambda op, v: f"{op}{v}",
                        st.sampled_from(["", "^", "~", "~>", ">", ">=", "<", "<=", "=",
                                         "> ", "^ ", "~ "]), _partial)
_range_set = st.one_of(
    st.lists(_comparator, min_size=1, max_size=3).map(" ".join),
    st.builds(lambda a, b: f"{a} - {b}", _partial, _partial),
    st.sampled_from(["", "*", "x", "||", ">=*", "latest", "1.2.3 -", "<0.0.0-0"]))
RANGES = st.lists(_range_set, min_size=1, max_size=3).map(" || ".join)
RANGE_CHECKS = st.tuples(RANGES, st.one_of(_npm_structured, _npm_text), st.booleans())


def check_npm_ranges(oracle: oracles.LineOracle,
                     checks: Sequence[tuple[str, str, bool]], source: str = "generated") -> None:
    answers = oracle.ask(f"R\t{r}\t{v}\t{int(p)}" for r, v, p in checks)
    wrong = [(r, v, p, answer) for (r, v, p), answer in zip(checks, answers, strict=True)
             if str(satisfies(v, r, include_prerelease=p)).lower() != answer]
    assert not wrong, f"disagreements with node-semver satisfies (range, version, " \
                      f"includePrerelease, node): {wrong[:10]}"
    _count(f"npm ranges {source}", len(checks))


@settings(SETTINGS, max_examples=10)
@given(checks=_batch(RANGE_CHECKS))
def test_npm_ranges_against_node_semver(node, checks):
    check_npm_ranges(node, checks)


def test_npm_real_ranges_from_nodejs_security_wg(node):
    ranges, versions = set(), set()
    for path in glob.glob(shared_data("nodejs-security-wg", "vuln", "npm") + "/*.json"):
        record = oracles.load_json(path)
        assert isinstance(record, dict)
        for field in ("vulnerable_versions", "patched_versions"):
            if isinstance(record.get(field), str):
                ranges.add(record[field])
                versions.update(re.findall(r"\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?", record[field]))
    assert len(ranges) > 300
    rng = random.Random(7)
    ordered_versions = sorted(versions)
    checks = [(r, rng.choice(ordered_versions), rng.random() < 0.2)
              for r in sorted(ranges) for _ in range(12)]
    check_npm_ranges(node, checks, "real")
    check_npm(node, _real_pairs(ordered_versions, scheme_for("npm").parse, 4000), "real")


# ---------------------------------------------------------------- Maven ---------------------

_maven_token = st.sampled_from(
    ["0", "1", "2", "10", "01", "alpha", "beta", "a", "b", "m", "rc", "cr", "milestone",
     "snapshot", "SNAPSHOT", "ga", "final", "release", "sp", "foo", "x", "RC", "Final", ""])
_maven_text = st.lists(st.tuples(_maven_token, st.sampled_from([".", "-", ""])),
                       min_size=1, max_size=6).map(lambda parts: "".join(a + s for a, s in parts))
MAVEN_PAIRS = _mutated_pairs(_maven_text.filter(bool), "0123.-abrc")


@pytest.fixture(scope="module")
def maven():
    oracle = oracles.maven_oracle()
    yield oracle
    oracle.close()


def check_maven(oracle: oracles.LineOracle, pairs: Sequence[tuple[str, str]],
                source: str = "generated") -> None:
    pairs = [(a, b) for a, b in pairs if a and b]
    answers = oracle.ask(f"{a}\t{b}" for a, b in pairs)
    wrong = [(a, b, _mine("maven", a, b), answer)
             for (a, b), answer in zip(pairs, answers, strict=True)
             if str(_mine("maven", a, b)) != answer]
    assert not wrong, f"disagreements with ComparableVersion (pair, ours, maven): {wrong[:10]}"
    _count(f"maven {source}", len(pairs))


@SETTINGS
@given(pairs=_batch(MAVEN_PAIRS))
def test_maven_against_comparable_version(maven, pairs):
    check_maven(maven, pairs)


_MAVEN_TOKENS = ["0", "1", "2", "10", "01", "alpha", "beta", "a", "b", "m", "rc", "cr",
                 "milestone", "snapshot", "SNAPSHOT", "ga", "final", "release", "sp", "foo",
                 "x", "RC", "Final", ""]


def _maven_make(r: random.Random) -> str:
    text = "".join(r.choice(_MAVEN_TOKENS) + r.choice([".", "-", ""])
                   for _ in range(r.randint(1, 6)))
    return text or "1"


@BULK
@given(seed=SEEDS)
def test_maven_bulk_against_comparable_version(maven, seed):
    check_maven(maven, bulk_pairs(seed, _maven_make, "0123.-abrc"))


def test_maven_real_versions_from_ghsa(maven):
    versions: set[str] = set()
    for path in glob.glob(shared_data("ghsa-osv-sample", "advisories") + "/*.json"):
        record = oracles.load_json(path)
        assert isinstance(record, dict)
        for affected in record.get("affected") or []:
            if affected.get("package", {}).get("ecosystem") == "Maven":
                versions.update(affected.get("versions") or [])
    assert len(versions) > 2000
    check_maven(maven, _real_pairs(sorted(versions), scheme_for("maven").parse_uncached, 6000),
                "real")


def _alpine_secdb_versions() -> list[str]:
    versions: set[str] = set()
    for path in glob.glob(shared_data("alpine-secdb") + "/*/*.json"):
        record = oracles.load_json(path)
        assert isinstance(record, dict)
        for package in record.get("packages") or []:
            versions.update((package.get("pkg") or {}).get("secfixes") or {})
    return sorted(v for v in versions if v and v != "0")


def test_report_pair_counts(capsys):
    """Prints how many pairs each oracle checked in this run (visible with -s)."""
    with capsys.disabled():
        print("\noracle pairs checked:", ", ".join(f"{k} {v}" for k, v in sorted(COUNTS.items())))
