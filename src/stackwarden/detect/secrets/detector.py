"""The secret Detector: engine hits become Findings (redacted, hashed, fingerprinted)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, ClassVar

from stackwarden.core.findings import Finding, FindingKind, FindingLocation, fingerprint
from stackwarden.detect.base import DetectContext, Detector, ScanTarget
from stackwarden.detect.secrets.engine import Engine, Hit
from stackwarden.detect.secrets.model import RuleSet
from stackwarden.detect.secrets.rules import load_ruleset

REDACT_KEEP = 4  # characters of a secret shown when secrets are hidden
_EVIDENCE_CHARS = 200
REMEDIATION = ("Revoke or rotate this credential at its provider first (it must be treated as "
               "compromised), then remove it from the file and from history or image layers.")


def redact(text: str, show: bool) -> str:
    """The first four characters of a secret followed by a mask, or the secret itself."""
    if show:
        return text
    return text[:REDACT_KEEP] + "*" * min(max(len(text) - REDACT_KEEP, 0), 12)


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def hit_to_finding(hit: Hit, data: bytes, *, path: str, show_secrets: bool,
                   layer: str | None = None, commit: str | None = None,
                   line_map: Sequence[int] | None = None, line_offset: int = 0,
                   extra: dict[str, Any] | None = None) -> Finding:
    """One Finding for one hit; `line_map` maps content lines to file lines (git hunks)."""
    rule = hit.rule
    secret = data[hit.secret_start:hit.secret_end]
    digest = hashlib.sha256(secret).hexdigest()
    line = end_line = None
    if hit.line:
        line, end_line = hit.line, hit.end_line
        if line_map is not None:
            line = line_map[min(line, len(line_map)) - 1]
            end_line = line_map[min(end_line, len(line_map)) - 1]
        elif line_offset > 1:
            line, end_line = line + line_offset - 1, end_line + line_offset - 1
    shown = redact(_text(secret), show_secrets)
    if rule.regex is None:
        match = f"<{len(data)}-byte file>"
    else:
        whole = data[hit.start:hit.end]
        before = whole[:max(0, hit.secret_start - hit.start)]
        after = whole[max(0, hit.secret_end - hit.start):]
        match = _text(before)[-60:] + shown + _text(after)[:60]
        if hit.secret_start < hit.start or hit.secret_end > hit.end:  # validator widened it
            match = shown
    evidence: dict[str, Any] = {
        "match": match[:_EVIDENCE_CHARS],
        "secret": shown[:_EVIDENCE_CHARS],
        "secret_sha256": digest,
        "rule_source": rule.source,
    }
    if hit.line:
        evidence["column"] = hit.column
    if hit.note:
        evidence["note"] = hit.note
    if rule.tags:
        evidence["tags"] = list(rule.tags)
    if extra:
        evidence.update(extra)
    return Finding(
        kind=FindingKind.SECRET,
        id=rule.id,
        title=rule.title,
        severity=hit.severity,
        location=FindingLocation(path=path, line=line, end_line=end_line, layer=layer,
                                 commit=commit),
        description=rule.description,
        references=(rule.reference,) if rule.reference else (),
        remediation=rule.remediation or REMEDIATION,
        evidence=evidence,
        fingerprint=fingerprint("secret", rule.id, path, digest),
    )


class SecretDetector(Detector):
    """Credentials, private keys, tokens and passwords in file contents (all rules in one pass)."""

    name: ClassVar[str] = "secret"
    version: ClassVar[int] = 2  # 2: per-thread Hyperscan scratch (v1 cached failures)

    def __init__(self, ruleset: RuleSet | None = None, *, engine: Engine | None = None,
                 configs: Sequence[str | Path] = ()) -> None:
        if engine is None:
            engine = Engine(ruleset if ruleset is not None else load_ruleset(configs))
        self.engine = engine
        self.max_bytes = engine.settings.max_file_bytes  # type: ignore[misc]

    @property
    def warnings(self) -> list[str]:
        """Rule-loading warnings (refused patterns, ignored extensions) to show the user."""
        return self.engine.warnings

    def wants(self, target: ScanTarget) -> bool:
        """Regular files within the size limit that no global allowlist drops by path."""
        kind = target.mode & 0o170000
        if kind not in (0, 0o100000) or target.size > self.max_bytes:
            return False
        return not self.engine.path_allowed(target.path)

    def oversize(self, target: ScanTarget) -> str | None:
        """Why a regular file `wants` refused is worth listing as skipped (None otherwise)."""
        if target.mode & 0o170000 in (0, 0o100000) and target.size > self.max_bytes:
            return f"larger than the {self.max_bytes}-byte limit for secret scanning"
        return None

    def scan(self, data: bytes, target: ScanTarget, ctx: DetectContext) -> Iterable[Finding]:
        """The secrets in one file, layer copy or git hunk (never raises for bad content)."""
        outcome = self.engine.scan(data, target.path, target.commit)
        if outcome.skipped and outcome.skipped != "binary":
            ctx.skip(target.path, outcome.skipped, self.name)
        extra = {"deleted_in_later_layer": True} if target.deleted else None
        for hit in outcome.hits:
            yield hit_to_finding(hit, data, path=target.path, show_secrets=ctx.show_secrets,
                                 layer=target.layer, commit=target.commit,
                                 line_offset=target.line_offset, extra=extra)
