"""MANIFEST.MF and archive file names: how Syft names a Java archive that has no Maven data.

The rules (which field wins, how `name-1.2.3.jar` splits) follow Syft's java-archive-cataloger
so that both tools give an archive the same (name, version); they are written from its
documented behaviour, not copied.
"""

from __future__ import annotations

import posixpath
import re
import unicodedata
from dataclasses import dataclass, field

# Suffixes Syft's java-archive-cataloger reads, plus `.rar` (JCA resource adapters).
ARCHIVE_SUFFIXES = (".jar", ".war", ".ear", ".par", ".sar", ".nar", ".jpi", ".hpi", ".kar",
                    ".lpkg", ".rar")
JENKINS_SUFFIXES = frozenset({"jpi", "hpi"})

# A version after `-` starts with a digit, or is `build<digits>...`, `r<digits>` or `rc<digits>`.
_VERSION = re.compile(r"(?:[0-9].*|build[0-9]+.*|rc?[0-9]+)", re.IGNORECASE | re.DOTALL)
# The same token after `.`, `_` or `-` at the end of a name (case-sensitive, as Syft's second pass).
_SECONDARY = re.compile(r"[._-](?P<version>[0-9].*|build[0-9]+.*|rc?[0-9]+)$", re.DOTALL)
_NAME_CHARS = frozenset("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_.")
_IDENTIFIER_START = frozenset({"Lu", "Ll", "Lt", "Lm", "Lo", "Nl", "Sc", "Pc"})
# Manifest fields that may hold a group id, best first (Syft's cpe generator uses the same).
PRIMARY_GROUP_FIELDS = ("Group-Id", "Bundle-SymbolicName", "Extension-Name",
                        "Specification-Vendor", "Implementation-Vendor", "Implementation-Vendor-Id",
                        "Implementation-Title", "Bundle-Activator")
SECONDARY_GROUP_FIELDS = ("Automatic-Module-Name", "Main-Class", "Package")
_DOMAINS = ("com", "org", "net", "io", "be")


@dataclass(frozen=True)
class Manifest:
    """A parsed META-INF/MANIFEST.MF: the main section and the named sections, in order."""

    main: dict[str, str] = field(default_factory=dict)
    sections: tuple[dict[str, str], ...] = ()

    def get(self, key: str) -> str:
        """A main-section value ('' when absent)."""
        return self.main.get(key, "")

    def anywhere(self, key: str) -> str:
        """A value from the main section, else from the first named section that has it."""
        for section in (self.main, *self.sections):
            if section.get(key):
                return section[key]
        return ""


def parse_manifest(text: str) -> Manifest:
    """Parse manifest text leniently: bad lines are ignored, as Java's own reader mostly does.

    Continuation lines (leading space) extend the previous value; a blank line ends a section.
    The first occurrence of a key in a section wins.
    """
    sections: list[dict[str, str]] = []
    last_key = ""
    for raw in text.split("\n"):
        line = raw[:-1] if raw.endswith("\r") else raw
        if line == "":
            last_key = ""
            continue
        if line[0] == " ":
            if last_key:
                sections[-1][last_key] += line.strip()
            continue
        key, sep, value = line.partition(":")
        key = key.strip()
        if not sep or not key:
            continue
        if not last_key:
            sections.append({})
        if key not in sections[-1]:
            sections[-1][key] = value.strip()
        last_key = key
    if not sections:
        return Manifest()
    return Manifest(sections[0], tuple(sections[1:]))


@dataclass(frozen=True, slots=True)
class ArchiveName:
    """What an archive's file name says: `commons-io-2.11.0.jar` -> commons-io, 2.11.0, jar."""

    name: str
    version: str
    extension: str


def _longest_name_prefix(stem: str) -> int:
    """Length of the longest prefix made of dash-separated words that each start with a letter."""
    if not stem or not stem[0].isascii() or not stem[0].isalpha():
        return 0
    end = 1
    for i in range(1, len(stem)):
        char = stem[i]
        if char == "-":
            if stem[i - 1] == "-":
                break
            end = i + 1
            continue
        if stem[i - 1] == "-" and not (char.isascii() and char.isalpha()):
            break
        if char not in _NAME_CHARS:
            break
        end = i + 1
    return end


def parse_archive_name(path: str) -> ArchiveName:
    """Split an archive's file name into name and version the way Syft does.

    The name is the shortest run of dash-separated words (each starting with a letter) after
    which either nothing or `-<version>` follows; a version starts with a digit, `build<n>`,
    or `r<n>`/`rc<n>`. Failing that, a trailing `.1.2`/`_1.2` is taken as the version.
    """
    base = posixpath.basename(path)
    stem, dot, ext = base.rpartition(".")
    if not dot:
        stem, ext = base, ""
    name = version = ""
    longest = _longest_name_prefix(stem)
    for cut in range(1, longest + 1):
        if cut == len(stem):
            name = stem
            break
        if stem[cut] == "-" and _VERSION.fullmatch(stem, cut + 1):
            name, version = stem[:cut], stem[cut + 1:]
            break
    if name and not version:
        found = _SECONDARY.search(name)
        if found:
            version = found.group("version")
            name = name[: len(name) - len(version) - 1]
    return ArchiveName(name, version, ext)


def _is_identifier_start(word: str) -> bool:
    return bool(word) and unicodedata.category(word[0]) in _IDENTIFIER_START


def name_from_file_name(archive: ArchiveName) -> str:
    """The artifact id a file name suggests: `org.foo.bar` is read as group `org.foo`, id `bar`."""
    name = archive.name
    if "." in name and not name.startswith("org.eclipse."):
        words = name.split(".")
        if all(_is_identifier_start(w) for w in words):
            return words[-1]
    return name


def name_from_bundle_plugin(manifest: Manifest) -> str:
    """Apache's maven-bundle-plugin writes Bundle-SymbolicName as `groupId.artifactId`."""
    if "Apache Maven Bundle Plugin" not in manifest.get("Created-By"):
        return ""
    symbolic = manifest.get("Bundle-SymbolicName")
    if not symbolic:
        return ""
    vendor = manifest.get("Implementation-Vendor-Id")
    if vendor and vendor == symbolic:
        return ""  # the symbolic name is only the group id
    return symbolic.split(".")[-1]


def select_name(manifest: Manifest | None, archive: ArchiveName) -> str:
    """The package name when no pom.properties names the archive."""
    if manifest is not None:
        name = name_from_bundle_plugin(manifest)
        if name:
            return name
    name = name_from_file_name(archive)
    if name or manifest is None:
        return name
    for key in ("Name", "Bundle-Name", "Short-Name", "Extension-Name", "Implementation-Title"):
        if manifest.get(key):
            return manifest.get(key)
    return ""


def select_version(manifest: Manifest | None, archive: ArchiveName) -> str:
    """The version when no pom.properties gives one: the file name's, else the manifest's."""
    if archive.version or manifest is None:
        return archive.version
    for key in ("Implementation-Version", "Specification-Version", "Plugin-Version",
                "Bundle-Version"):
        value = manifest.anywhere(key)
        if value:
            return value
    return ""


def select_licenses(manifest: Manifest | None) -> list[str]:
    """Licenses an OSGi or Jenkins manifest declares."""
    if manifest is None:
        return []
    found = [manifest.anywhere(k) for k in ("Bundle-License", "Plugin-License-Name")]
    return [v for v in found if v]


def clean_group_id(value: str) -> str:
    """Drop OSGi directives (`org.foo;singleton:=true`) and `#` suffixes from a group id."""
    return value.split(";")[0].split("#")[0].strip()


def group_id_from_manifest(manifest: Manifest | None) -> str:
    """The best group id candidate among the manifest fields that usually carry one."""
    if manifest is None:
        return ""
    for fields in (PRIMARY_GROUP_FIELDS, SECONDARY_GROUP_FIELDS):
        found = sorted(clean_group_id(section[key]) for key in fields
                       for section in (manifest.main, *manifest.sections)
                       if key in section and section[key].startswith(_DOMAINS))
        if found:
            return found[0]
    return ""
