"""Ruby gems: Bundler's `Gemfile.lock` (declared) and installed `specifications/*.gemspec`."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from stackwarden.artifact.base import FileEntry
from stackwarden.catalog.base import Cataloger, CatalogContext, FilePatterns, purl
from stackwarden.core.errors import CatalogError
from stackwarden.core.models import Package, PackageType

# Lockfile sections whose `specs:` list resolved gems (Bundler's own parser reads the same).
SPEC_SECTIONS = frozenset({"GEM", "GIT", "PATH", "PLUGIN SOURCE"})
# A spec line is indented exactly four spaces: `    nokogiri (1.16.0-x86_64-linux)`. As in
# Bundler's lockfile parser, everything after the first `-` of the version is the platform.
_SPEC = re.compile(r"^ {4}(?P<name>[^ ()]+) \((?P<version>[^-()]*)(?:-(?P<platform>[^()]*))?\)!?$")
_SOURCE_OPTION = re.compile(r"^ {2}(?P<key>remote|revision|ref|branch|tag):\s*(?P<value>.*)$")

# gemspec assignments as `Gem::Specification#to_ruby` writes them, and hand-written variants.
_STRING = (r"""(?:"(?P<dq>(?:[^"\\]|\\.)*)"|'(?P<sq>(?:[^'\\]|\\.)*)'"""
           r"|%q(?:\{(?P<brace>[^}]*)\}|<(?P<angle>[^>]*)>|\((?P<paren>[^)]*)\)"
           r"|\[(?P<bracket>[^\]]*)\]))")
_ASSIGN = r"^\s*\w+\.{field}\s*=\s*"
_FIELDS = {
    "name": re.compile(_ASSIGN.format(field="name") + _STRING),
    "version": re.compile(_ASSIGN.format(field="version")
                          + r"(?:Gem::Version\.(?:new|create)\(\s*)?" + _STRING),
    "platform": re.compile(_ASSIGN.format(field="platform") + _STRING),
    "homepage": re.compile(_ASSIGN.format(field="homepage") + _STRING),
    "license": re.compile(_ASSIGN.format(field="license") + _STRING),
}
_LICENSES = re.compile(_ASSIGN.format(field="licenses") + r"\[(?P<list>.*)\]")
_ANY_STRING = re.compile(_STRING)
_UNICODE_ESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})")
_BACKSLASH_ESCAPE = re.compile(r"\\(.)")
MAX_LINE = 64 * 1024  # longer lines (huge `s.files` lists) carry nothing we read


def _string_value(match: re.Match[str]) -> str:
    """The text of a matched Ruby string literal, with `\\uXXXX` and `\\"` escapes resolved."""
    for group in ("dq", "sq", "brace", "angle", "paren", "bracket"):
        value = match.group(group)
        if value is not None:
            value = _UNICODE_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), value)
            return _BACKSLASH_ESCAPE.sub(r"\1", value)
    return ""


def gem_purl(name: str, version: str, platform: str = "") -> str:
    """`pkg:gem/<name>@<version>`, with a `platform` qualifier for native gems."""
    return purl("gem", name, version,
                qualifiers={"platform": platform} if platform and platform != "ruby" else None)


@dataclass(frozen=True)
class Gemspec:
    """What an installed gemspec says about its gem ('' where it assigns nothing literal)."""

    name: str = ""
    version: str = ""
    platform: str = ""
    homepage: str = ""
    licenses: tuple[str, ...] = ()


def parse_gemspec(text: str) -> Gemspec:
    """The name, version, platform, homepage and licenses a gemspec assigns (first one wins).

    Gemspecs are Ruby code; like Syft we read the literal assignments RubyGems writes rather
    than run it: `s.version = "1.0"`, `%q{...}` strings, `Gem::Version.new("1.0")`.
    """
    found: dict[str, str] = {}
    licenses: list[str] = []
    for raw in text.splitlines():
        if len(raw) > MAX_LINE:
            continue
        line = raw.strip().replace(".freeze", "")
        if not line or line.startswith("#"):
            continue
        listed = _LICENSES.match(line)
        if listed:
            licenses += [_string_value(m) for m in _ANY_STRING.finditer(listed.group("list"))]
            continue
        for key, pattern in _FIELDS.items():
            match = pattern.match(line)
            if match:
                if key == "license":
                    licenses.append(_string_value(match))
                else:
                    found.setdefault(key, _string_value(match))
                break
    return Gemspec(**found, licenses=tuple(x for x in dict.fromkeys(licenses) if x))


class GemfileLockCataloger(Cataloger):
    """Gems Bundler resolved, from `Gemfile.lock` (GEM, GIT, PATH and plugin sections)."""

    name = "ruby-gemfile-cataloger"
    tags = frozenset({"declared", "language", "ruby", "gem"})
    package_type = PackageType.GEM
    patterns = FilePatterns(names=frozenset({"Gemfile.lock", "gems.locked"}))

    def parse(self, entry: FileEntry, ctx: CatalogContext) -> Iterable[Package]:
        text = ctx.text(entry)
        section = ""
        seen_section = False
        options: dict[str, str] = {}
        packages: list[Package] = []
        for raw in text.splitlines():
            line = raw.rstrip("\r")
            if line and line[0] != " ":
                section, options = line.strip(), {}
                seen_section = seen_section or section in SPEC_SECTIONS
                continue
            if section not in SPEC_SECTIONS:
                continue
            option = _SOURCE_OPTION.match(line)
            if option:
                options[option.group("key")] = option.group("value").strip()
                continue
            spec = _SPEC.match(line)
            if not spec:
                continue
            name, version = spec.group("name"), spec.group("version")
            platform = spec.group("platform") or ""
            metadata = {"source": section, **options}
            if platform:
                metadata["platform"] = platform
            packages.append(self.package(ctx, entry, name, version,
                                         gem_purl(name, version, platform), metadata=metadata))
        if not seen_section:
            raise CatalogError("no GEM, GIT or PATH section: not a Bundler lockfile",
                               source=entry.path)
        return packages


class GemspecCataloger(Cataloger):
    """Installed gems: the `specifications/*.gemspec` files RubyGems writes at install time."""

    name = "ruby-installed-gemspec-cataloger"
    tags = frozenset({"installed", "language", "ruby", "gem"})
    package_type = PackageType.GEM
    patterns = FilePatterns(suffixes=(".gemspec",), accept=lambda p: "/specifications/" in p)

    def parse(self, entry: FileEntry, ctx: CatalogContext) -> Iterable[Package]:
        spec = parse_gemspec(ctx.text(entry))
        if not spec.name:
            raise CatalogError("gemspec assigns no literal name", source=entry.path)
        if not spec.version:
            raise CatalogError("gemspec assigns no literal version", source=entry.path)
        metadata = {k: v for k, v in (("platform", spec.platform), ("homepage", spec.homepage))
                    if v}
        return [self.package(ctx, entry, spec.name, spec.version,
                             gem_purl(spec.name, spec.version, spec.platform),
                             licenses=spec.licenses, metadata=metadata)]
