"""CVSS vectors to base scores (the `cvss` package), tolerant of malformed vectors."""

from __future__ import annotations

from collections.abc import Iterable

from cvss import CVSS2, CVSS3, CVSS4
from cvss.exceptions import CVSSError


def base_score(kind: str, value: str) -> tuple[str, str, float | None] | None:
    """(version, vector, base score) for one OSV severity entry; None when it is not CVSS."""
    try:
        if kind in ("CVSS_V3", "CVSS_V31", "CVSS_V30") or value.startswith("CVSS:3"):
            c3 = CVSS3(value)
            return ("3.1" if "CVSS:3.1" in value else "3.0", value, float(c3.base_score))
        if kind == "CVSS_V4" or value.startswith("CVSS:4"):
            return ("4.0", value, float(CVSS4(value).base_score))
        if kind == "CVSS_V2":
            return ("2.0", value, float(CVSS2(value).base_score))
        if kind.endswith("_SCORE"):  # a bare number (RubySec's cvss_v3: 9.8)
            version = {"CVSS_V3_SCORE": "3.x", "CVSS_V2_SCORE": "2.0"}.get(kind, "")
            return (version, "", float(value))
    except (CVSSError, ValueError, KeyError, IndexError, TypeError):
        return (kind.removeprefix("CVSS_V").replace("_", "."), value, None) \
            if kind.startswith("CVSS") else None
    return None


def scores_for(severity: Iterable[tuple[str, str]]) -> list[tuple[str, str, float | None]]:
    """Every CVSS entry of an advisory with its computed base score."""
    result = []
    for kind, value in severity:
        score = base_score(kind, value)
        if score is not None:
            result.append(score)
    return result
