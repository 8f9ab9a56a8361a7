"""`.stackwardenignore`: findings a team has looked at and accepted, each with a reason.

```yaml
ids:            # a vulnerability/rule id, or any of its aliases (globs allowed: GHSA-*)
  - id: CVE-2023-4863
    reason: thumbnails are made from our own images only
    expires: 2026-03-31          # optional: from the next day on the entry no longer applies
fingerprints:   # exactly one finding (the `fingerprint` of the JSON/SARIF report)
  - fingerprint: 3f2a9c0d…
    reason: revoked test key
paths:          # files (globs: `**` spans directories; a pattern without `/` matches a name)
  - path: tests/fixtures/**
    reason: fixtures hold fake credentials on purpose
    kinds: [secret]              # optional narrowing, on any entry: kinds, paths, packages
packages:       # name, name@version (name may be a glob) or a PURL
  - package: openssl@3.0.2-0ubuntu1
    reason: rebuilt with the fix backported
```

An expired entry stops suppressing and the report says so in its warnings.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from stackwarden.core.findings import Finding, FindingKind
from stackwarden.policy.loader import Fields, load_yaml
from stackwarden.policy.match import id_matches, package_matches, path_matches

DEFAULT_IGNORE_FILE = ".stackwardenignore"
# section -> the key each entry of that section must carry
SECTIONS = {"ids": "id", "fingerprints": "fingerprint", "paths": "path", "packages": "package"}
_NARROWING = ("kinds", "paths", "packages")


@dataclass(frozen=True, slots=True)
class IgnoreEntry:
    """One accepted finding pattern with its reason and optional expiry."""

    section: str  # ids, fingerprints, paths, packages
    value: str
    reason: str
    origin: str  # file:line
    expires: datetime | None = None
    kinds: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()
    packages: tuple[str, ...] = ()

    def expired(self, now: datetime) -> bool:
        """Whether the entry's time is up."""
        return self.expires is not None and now > self.expires

    def matches(self, f: Finding) -> bool:
        """Whether the entry covers the finding (its main pattern and every narrowing)."""
        if self.section == "ids":
            hit = id_matches(self.value, f)
        elif self.section == "fingerprints":
            hit = bool(f.fingerprint) and f.fingerprint == self.value
        elif self.section == "paths":
            hit = path_matches(self.value, f.location.path)
        else:
            hit = package_matches(self.value, f.package)
        return hit and (not self.kinds or str(f.kind) in self.kinds) \
            and (not self.paths or any(path_matches(p, f.location.path) for p in self.paths)) \
            and (not self.packages or any(package_matches(p, f.package) for p in self.packages))

    @property
    def label(self) -> str:
        """How a warning names the entry."""
        return f"{SECTIONS[self.section]} {self.value}"


@dataclass(frozen=True, slots=True)
class IgnoreFile:
    """A parsed ignore file."""

    path: Path
    entries: tuple[IgnoreEntry, ...]

    def active(self, now: datetime | None = None) -> list[IgnoreEntry]:
        """The entries that still suppress."""
        now = now or datetime.now(UTC)
        return [e for e in self.entries if not e.expired(now)]

    def match(self, f: Finding, now: datetime | None = None) -> IgnoreEntry | None:
        """The first active entry covering the finding."""
        return next((e for e in self.active(now) if e.matches(f)), None)

    def expiry_warnings(self, findings: Iterable[Finding],
                        now: datetime | None = None) -> list[str]:
        """One warning per expired entry, saying how many findings it no longer suppresses."""
        now = now or datetime.now(UTC)
        findings = list(findings)
        warnings = []
        for entry in self.entries:
            if entry.expired(now) and entry.expires is not None:
                hits = sum(1 for f in findings if entry.matches(f))
                warnings.append(f"{entry.origin}: the ignore entry for {entry.label} expired on "
                                f"{entry.expires.date().isoformat()}; it no longer suppresses "
                                f"({hits} finding{'s' if hits != 1 else ''} now reported)")
        return warnings


def _entry(path: Path, section: str, item: object, line: int) -> IgnoreEntry:
    key = SECTIONS[section]
    fields = Fields(path, item, f"an entry of {section!r}", line)
    fields.only((key, "reason", "expires", *_NARROWING))
    kinds = tuple(k.lower() for k in fields.texts("kinds"))
    valid_kinds = {k.value for k in FindingKind}
    for kind in kinds:
        if kind not in valid_kinds:
            fields.fail(f"unknown kind {kind!r} (choose from {', '.join(sorted(valid_kinds))})",
                        "kinds")
    return IgnoreEntry(section=section, value=fields.text(key, required=True),
                       reason=fields.text("reason", required=True), origin=fields.where(),
                       expires=fields.expiry("expires"), kinds=kinds,
                       paths=fields.texts("paths"), packages=fields.texts("packages"))


def load_ignore_file(path: Path) -> IgnoreFile:
    """Parse an ignore file; a bad one is a PolicyError naming the file and line."""
    doc = load_yaml(path, "ignore file")
    if doc is None:
        return IgnoreFile(path, ())
    top = Fields(path, doc, "the ignore file")
    top.only(("version", *SECTIONS))
    version = top.number("version", minimum=1, maximum=1, integer=True)
    del version  # only version 1 exists; the key lets a future format be told apart
    entries = [_entry(path, section, item, line)
               for section in SECTIONS for item, line in top.items(section)]
    return IgnoreFile(path, tuple(entries))
