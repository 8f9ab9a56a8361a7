"""RustSec advisories (Markdown with a TOML front matter block) for crates.io."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from stackwarden.vulndb.model import UNAFFECTED_REQUIREMENTS, Advisory, Affected, Range
from stackwarden.vulndb.names import normalize_name
from stackwarden.vulndb.sources.base import BadRecord, FilePerRecordReader

_FRONT = re.compile(r"```toml\s*\n(?P<toml>.*?)\n```", re.DOTALL)
_TITLE = re.compile(r"^#\s+(?P<title>.+)$", re.MULTILINE)


class RustSecReader(FilePerRecordReader):
    """`crates/<crate>/RUSTSEC-*.md`: affected unless a patched or unaffected requirement holds."""

    kind = "rustsec"

    def files(self, path: Path) -> list[Path]:
        return [path] if path.is_file() else sorted(path.rglob("RUSTSEC-*.md"))

    def parse(self, data: bytes, where: str) -> Advisory:
        text = data.decode("utf-8", "replace")
        match = _FRONT.search(text)
        if not match:
            raise BadRecord("no ```toml front matter", where)
        try:
            doc = tomllib.loads(match.group("toml"))
        except tomllib.TOMLDecodeError as exc:
            raise BadRecord(f"bad TOML front matter: {exc}", where) from exc
        advisory = doc.get("advisory")
        if not isinstance(advisory, dict) or not isinstance(advisory.get("id"), str) \
                or not isinstance(advisory.get("package"), str):
            raise BadRecord("front matter lacks [advisory] id or package", where)
        versions = doc.get("versions") if isinstance(doc.get("versions"), dict) else {}
        requirements = tuple(str(r) for key in ("patched", "unaffected")
                             for r in versions.get(key) or [])
        body = text[match.end():]
        title = _TITLE.search(body)
        # `rust/` advisories concern the toolchain, not a crate a Cargo.lock can list.
        toolchain = "/rust/" in where.replace("\\", "/") and "/crates/" not in where
        affected = () if toolchain else (Affected(
            "crates.io", "", normalize_name("crates.io", advisory["package"]),
            (Range(UNAFFECTED_REQUIREMENTS, requirements=requirements),)),)
        severity = (("CVSS_V3", advisory["cvss"]),) if isinstance(advisory.get("cvss"),
                                                                    str) else ()
        informational = advisory.get("informational")
        return Advisory(
            id=advisory["id"], source=self.kind,
            aliases=tuple(a for a in advisory.get("aliases") or [] if isinstance(a, str)),
            summary=title.group("title").strip() if title else "",
            details=body.strip()[:20_000], published=str(advisory.get("date", "")),
            withdrawn=str(advisory.get("withdrawn", "") or ""), severity=severity,
            references=tuple(u for u in [advisory.get("url")] if isinstance(u, str)),
            affected=affected,
            extra={"informational": informational} if informational else {},
        )
