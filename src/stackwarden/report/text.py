"""Small text helpers the human-readable and XML formats share."""

from __future__ import annotations

import re

from stackwarden.core.findings import Finding, Severity

# Characters XML 1.0 cannot hold at all (even escaped): C0 controls but tab/newline/CR, FFFE/FFFF.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
# Severity -> a numeric score for tools that rank by number (GitHub's security-severity scale).
SEVERITY_SCORE = {Severity.CRITICAL: 9.5, Severity.HIGH: 8.0, Severity.MEDIUM: 5.5,
                  Severity.LOW: 2.0, Severity.NEGLIGIBLE: 0.5}


def valid_unicode(text: str) -> str:
    """Text with undecodable bytes (surrogate escapes in paths) replaced, safe to encode."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def xml_text(text: str) -> str:
    """Text XML 1.0 can carry: valid Unicode without the forbidden control characters."""
    return _XML_INVALID.sub("\ufffd", valid_unicode(text))


def location_text(f: Finding) -> str:
    """`path:line[-end]` (or the resource / path alone) for one finding."""
    loc = f.location
    where = loc.path or loc.resource or ""
    if loc.line:
        where += f":{loc.line}"
        if loc.end_line and loc.end_line != loc.line:
            where += f"-{loc.end_line}"
    return where


def subject_text(f: Finding) -> str:
    """What a finding is about: `name version` for packages, else where it is."""
    if f.package:
        return f"{f.package.name} {f.package.version}".strip()
    return location_text(f)


def max_cvss(f: Finding) -> float | None:
    """The highest CVSS v3/v4 base score of a finding (v2 only when nothing newer exists)."""
    modern = [c.score for c in f.cvss if c.score is not None and not c.version.startswith("2")]
    scores = modern or [c.score for c in f.cvss if c.score is not None]
    return max(scores) if scores else None


def security_score(f: Finding) -> float | None:
    """A 0-10 number for the finding's severity: its CVSS score when it agrees, else the level's."""
    score = max_cvss(f)
    if score is not None and Severity.from_cvss(score) is f.severity:
        return score
    return SEVERITY_SCORE.get(f.severity)


def http_links(urls: tuple[str, ...] | list[str]) -> list[str]:
    """Only http(s) URLs: a report never turns `javascript:` or `file:` text into a link."""
    return [u for u in urls if u.startswith(("https://", "http://"))]


def advisory_url(f: Finding) -> str | None:
    """A page about the finding: its first web reference, else osv.dev for vulnerabilities."""
    links = http_links(f.references)
    if links:
        return links[0]
    if str(f.kind) == "vulnerability" and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9.:_-]*", f.id):
        return f"https://osv.dev/vulnerability/{f.id}"
    return None
