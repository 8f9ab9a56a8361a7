"""Ruby: real installed gemspecs from Debian, a Rails application's Gemfile.lock, edge cases;
checked against Syft's ruby-installed-gemspec and ruby-gemfile catalogers."""

from __future__ import annotations

from pathlib import Path

import pytest

from stackwarden.artifact.directory import DirectoryArtifact
from stackwarden.catalog.engine import catalog_artifact
from stackwarden.catalog.ruby import (
    GemfileLockCataloger,
    Gemspec,
    GemspecCataloger,
    parse_gemspec,
)
from stackwarden.core.models import SBOM
from tests.helpers.deb_root import unpacked_debs
from tests.helpers.syft import agreement, syft_packages

FIXTURES = Path(__file__).parent.parent / "fixtures" / "ruby"
RUBY_DEBS = (
    "libruby3.1", "ruby-rack", "rake", "ruby-json", "ruby-concurrent", "ruby-i18n", "ruby-tzinfo",
    "ruby-thor", "ruby-addressable", "ruby-public-suffix", "ruby-nokogiri", "ruby-mini-portile2",
    "ruby-sinatra", "ruby-mustermann", "ruby-tilt", "ruby-rack-protection", "ruby-builder",
    "ruby-erubi", "ruby-zeitwerk", "ruby-mime-types", "ruby-mime-types-data", "ruby-activesupport",
    "ruby-faraday", "ruby-net-http-persistent", "ruby-connection-pool", "ruby-diff-lcs",
    "ruby-rspec-core", "ruby-rspec-expectations", "ruby-rspec-mocks", "ruby-rspec-support",
)


def identities(sbom: SBOM) -> set[tuple[str, str, str]]:
    """(type, name, version) of every package."""
    return {(str(p.type), p.name, p.version) for p in sbom.packages}


@pytest.mark.network
def test_debian_gemspecs_agree_with_syft() -> None:
    root = unpacked_debs("ruby", RUBY_DEBS)
    sbom = catalog_artifact(DirectoryArtifact(root), [GemspecCataloger()])
    ours = identities(sbom)
    theirs = syft_packages(f"dir:{root}", catalogers="image", types={"gem"})
    assert len(ours) > 100  # Ruby's default and bundled gems plus Debian's gem packages
    assert agreement(ours, theirs) >= 0.99, (sorted(ours - theirs), sorted(theirs - ours))
    assert not sbom.skipped
    rack = next(p for p in sbom.packages if p.name == "rack")
    assert rack.purl == f"pkg:gem/rack@{rack.version}" and rack.licenses == ("MIT",)
    openssl = next(p for p in sbom.packages if p.name == "openssl")
    assert "/specifications/default/" in openssl.locations[0].path
    assert openssl.licenses == ("Ruby",)


def test_gemfile_lock_agrees_with_syft_except_platform_suffixes() -> None:
    root = FIXTURES / "rails-app"
    sbom = catalog_artifact(DirectoryArtifact(root), [GemfileLockCataloger()])
    ours = identities(sbom)
    theirs = syft_packages(f"dir:{root}", catalogers="directory", types={"gem"})
    # Syft keeps `1.16.0-x86_64-linux` as the version; Bundler's own parser, and we, read the
    # part after the first `-` as the platform, so vulnerability ranges compare 1.16.0.
    suffixed = {(t, n, v) for t, n, v in theirs if "-" in v}
    assert {v for _, n, v in suffixed} == {"1.16.0-aarch64-linux", "1.16.0-arm64-darwin",
                                          "1.16.0-x86_64-linux"}
    normalised = {(t, n, v.split("-")[0]) for t, n, v in theirs}
    assert agreement(ours, normalised) == 1.0, (sorted(ours ^ normalised))
    assert len(ours) == 71  # 73 spec lines, nokogiri's three platforms are one version
    nokogiri = sorted(p.purl for p in sbom.packages if p.name == "nokogiri")
    assert nokogiri == ["pkg:gem/nokogiri@1.16.0?platform=aarch64-linux",
                        "pkg:gem/nokogiri@1.16.0?platform=arm64-darwin",
                        "pkg:gem/nokogiri@1.16.0?platform=x86_64-linux"]
    by_name = {p.name: p for p in sbom.packages}
    assert by_name["sprockets-rails"].metadata["source"] == "GIT"
    assert by_name["sprockets-rails"].metadata["revision"] == \
        "46f2c6b1c63d4a3c48e7ec6c2f2c44dfa0bd4f2b"
    assert by_name["billing"].metadata == {"source": "PATH", "remote": "engines/billing"}
    assert by_name["rails"].metadata["remote"] == "https://rubygems.org/"
    assert "tzinfo-data" not in by_name  # listed under DEPENDENCIES only, never resolved


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # what `Gem::Specification#to_ruby` writes today
        ('Gem::Specification.new do |s|\n  s.name = "rack".freeze\n  s.version = "2.2.22"\n'
         '  s.licenses = ["MIT".freeze, "Ruby".freeze]\n  s.homepage = "https://x/#{1}".freeze\n',
         Gemspec("rack", "2.2.22", homepage="https://x/#{1}", licenses=("MIT", "Ruby"))),
        # RubyGems 1.x wrote %q{} strings and a single license
        ("Gem::Specification.new do |s|\n  s.name = %q{rake}\n  s.version = \"0.8.7\"\n"
         "  s.license = %q<MIT>\n", Gemspec("rake", "0.8.7", licenses=("MIT",))),
        # hand-written specs
        ("Gem::Specification.new do |spec|\n  spec.name    = 'my_gem'\n"
         "  spec.version = Gem::Version.new(\"1.2.3\")\n  spec.license = 'Apache-2.0'\n",
         Gemspec("my_gem", "1.2.3", licenses=("Apache-2.0",))),
        ('  s.name = "caf\\u00E9"\n  s.version = "1.0"\n  s.platform = "x86_64-linux".freeze\n',
         Gemspec("café", "1.0", platform="x86_64-linux")),
        # a version from a constant is not readable without running Ruby
        ("Gem::Specification.new do |s|\n  s.name = 'x'\n  s.version = X::VERSION\nend\n",
         Gemspec("x")),
        ("# s.name = \"commented\"\n  s.version = \"1\" # s.name = \"nope\"\n",
         Gemspec(version="1")),
    ],
)
def test_parse_gemspec(text: str, expected: Gemspec) -> None:
    assert parse_gemspec(text) == expected


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("specifications/nover-1.0.gemspec", 's.name = "nover"\n', "no literal version"),
        ("specifications/x-1.0.gemspec", "Gem::Specification.new do |s|\n  s.version = X\nend\n",
         "no literal name"),
        ("specifications/empty-1.0.gemspec", "", "no literal name"),
        ("specifications/binary-1.0.gemspec", "\x00\x01\x02\xff", "no literal name"),
        ("app/Gemfile.lock", "", "not a Bundler lockfile"),
        ("app2/Gemfile.lock", "this is { not a lockfile\n  at all\n", "not a Bundler lockfile"),
    ],
)
def test_bad_ruby_files_are_skipped_with_a_reason(tmp_path: Path, name: str, content: str,
                                                  reason: str) -> None:
    (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / name).write_text(content, encoding="latin-1")
    (tmp_path / "specifications").mkdir(exist_ok=True)
    (tmp_path / "specifications/good-1.0.gemspec").write_text('s.name = "good"\ns.version = "1"\n')
    sbom = catalog_artifact(DirectoryArtifact(tmp_path), [GemspecCataloger(),
                                                          GemfileLockCataloger()])
    assert identities(sbom) == {("gem", "good", "1")}
    assert len(sbom.skipped) == 1 and reason in sbom.skipped[0].reason


def test_gemspecs_outside_specifications_are_project_files(tmp_path: Path) -> None:
    (tmp_path / "mygem.gemspec").write_text('s.name = "mygem"\ns.version = "0.1"\n')
    sbom = catalog_artifact(DirectoryArtifact(tmp_path), [GemspecCataloger()])
    assert not sbom.packages
