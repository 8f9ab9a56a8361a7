"""The secret engine: one Hyperscan pass over the bytes, then Python `re` confirms each hit.

Hyperscan reports, for every rule, where a match ends. Around each end (a window as wide as
the rule's longest possible match) the rule's Python regex runs again to get the capture
groups; then entropy, the rule's validator, inline markers and allowlists decide. Composite
rules (`required`) and overlapping matches (the most specific rule wins) are settled last.
"""

from __future__ import annotations

import bisect
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import hyperscan

from stackwarden.core.config import cache_dir
from stackwarden.core.findings import Severity
from stackwarden.detect.secrets import hsdb
from stackwarden.detect.secrets.model import INLINE_ALLOW, Allowlist, Rule, RuleSet
from stackwarden.detect.secrets.validators import (
    ACCEPT,
    MAGIC,
    VALIDATORS,
    Verdict,
    shannon_entropy,
)

_LINE_CONTEXT = 4096  # bytes of a line an allowlist `line` regex or inline marker can see
_TAIL = 256  # extra bytes after a window so a match can see how its line ends


@dataclass(frozen=True, slots=True)
class Hit:
    """One confirmed secret in one piece of content (offsets and 1-based lines in that content)."""

    rule: Rule
    start: int  # the regex match
    end: int
    secret_start: int
    secret_end: int
    severity: Severity
    note: str = ""
    line: int = 0  # 0 for whole-file rules (binary files)
    end_line: int = 0
    column: int = 0


@dataclass(frozen=True, slots=True)
class Outcome:
    """What scanning one piece of content gave: hits, or why it was not scanned."""

    hits: list[Hit]
    skipped: str | None = None  # "binary", or a size-limit reason worth reporting
    binary: bool = False


class Engine:
    """Scans bytes with every rule of a RuleSet; build once, reuse for every file."""

    def __init__(self, ruleset: RuleSet, *, cache: Path | None | bool = True) -> None:
        self.ruleset = ruleset
        self.settings = ruleset.settings
        regex_rules = [r for r in ruleset.rules if r.regex is not None and r.pattern]
        keywords = sorted({k for r in regex_rules for k in r.keywords})
        folder = (cache_dir() / "secrets") if cache is True else (cache or None)
        database = hsdb.build([(r.pattern.hyperscan, r.pattern.needs_prefilter)  # type: ignore[union-attr]
                               for r in regex_rules], keywords, folder)
        self.cached = database.cached
        self.warnings = list(ruleset.warnings) + [
            f"rule {regex_rules[i].id!r} ({regex_rules[i].source}) refused: {reason}"
            for i, reason in sorted(database.refused.items())]
        self.refused = {regex_rules[i].id: reason for i, reason in database.refused.items()}
        self._db = database.db
        self._local = threading.local()  # Hyperscan scratch space is per thread
        self._rules = regex_rules
        index = {k: hsdb.KEYWORD_BASE + i for i, k in enumerate(keywords)}
        self._keywords = [frozenset(index[k] for k in r.keywords) for r in regex_rules]
        limit = self.settings.max_match_bytes
        self._windows = [
            min(limit, r.pattern.max_width) * (2 if i in database.prefiltered else 1)  # type: ignore[union-attr]
            if r.pattern.max_width is not None else limit  # type: ignore[union-attr]
            for i, r in enumerate(regex_rules)]
        self._file_rules = [r for r in ruleset.rules if r.regex is None]
        self._global = {r.id: tuple(a for a in ruleset.allowlists if a.applies_to(r.id))
                        for r in ruleset.rules}
        self._composite = any(r.required for r in ruleset.rules)

    @property
    def rule_count(self) -> int:
        """Rules that are actually in force (refused ones excluded)."""
        return len(self._rules) - len(self.refused) + len(self._file_rules)

    def path_allowed(self, path: str) -> bool:
        """Whether a global allowlist drops this path before it is read."""
        return self.ruleset.path_allowed(path)

    def is_binary(self, head: bytes) -> bool:
        """A NUL byte in the first bytes marks binary content."""
        return b"\0" in head[:self.settings.binary_probe_bytes]

    def wants_binary(self, path: str, head: bytes) -> bool:
        """Whether a binary file can hold a finding (a keystore by magic, a path-only rule)."""
        return any(self._file_rule_applies(rule, path, head) for rule in self._file_rules)

    def _scratch(self) -> hyperscan.Scratch:
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._local.scratch = hyperscan.Scratch(self._db)
        return scratch

    def scan(self, data: bytes, path: str, commit: str | None = None) -> Outcome:
        """Every confirmed secret in `data`, the content of `path` (or of a git hunk of it)."""
        if len(data) > self.settings.max_file_bytes:
            return Outcome([], f"larger than the {self.settings.max_file_bytes}-byte limit "
                               "for secret scanning")
        if self.path_allowed(path):
            return Outcome([])
        hits = [Hit(rule, 0, len(data), 0, len(data), rule.severity)
                for rule in self._file_rules if self._file_rule_applies(rule, path, data)]
        if self.is_binary(data):
            return Outcome(hits, None if hits else "binary", binary=True)
        raw: list[tuple[int, int]] = []
        self._db.scan(data, match_event_handler=_collect, context=raw,  # type: ignore[arg-type]
                      scratch=self._scratch())
        if raw:
            hits.extend(self._confirm_all(data, raw, path, commit))
        if not hits:
            return Outcome([])
        return Outcome(_settle(_number_lines(data, hits), self._composite))

    def _file_rule_applies(self, rule: Rule, path: str, data: bytes) -> bool:
        if rule.path is not None and not rule.path.search(path):
            return False
        return rule.magic is None or MAGIC[rule.magic](data)

    def _confirm_all(self, data: bytes, raw: list[tuple[int, int]], path: str,
                     commit: str | None) -> Iterable[Hit]:
        seen_keywords = {i for i, _ in raw if i >= hsdb.KEYWORD_BASE}
        ends: dict[int, list[int]] = {}
        for index, end in raw:
            if index < hsdb.KEYWORD_BASE:
                ends.setdefault(index, []).append(end)
        for index in sorted(ends):
            wanted = self._keywords[index]
            if wanted and not wanted & seen_keywords:
                continue
            rule = self._rules[index]
            if rule.path is not None and not rule.path.search(path):
                continue
            yield from self._confirm(rule, data, ends[index], self._windows[index], path, commit)

    def _confirm(self, rule: Rule, data: bytes, ends: list[int], width: int, path: str,
                 commit: str | None) -> Iterable[Hit]:
        size = len(data)
        windows: list[list[int]] = []
        for end in sorted(ends):
            low, high = max(0, end - width), min(size, end + width)
            if windows and low <= windows[-1][1]:
                windows[-1][1] = max(windows[-1][1], high)
            else:
                windows.append([low, high])
        regex = rule.regex
        assert regex is not None
        allowlists = rule.allowlists + self._global[rule.id]
        seen: set[tuple[int, int]] = set()
        for low, high in windows:
            newline = data.find(b"\n", high, high + _TAIL)
            stop = newline + 1 if newline >= 0 else min(size, high + _TAIL)
            for match in regex.finditer(data, low, stop):
                hit = self._judge(rule, data, match, allowlists, path, commit)
                if hit is not None and (hit.secret_start, hit.secret_end) not in seen:
                    seen.add((hit.secret_start, hit.secret_end))
                    yield hit

    def _judge(self, rule: Rule, data: bytes, match: re.Match[bytes],
               allowlists: tuple[Allowlist, ...], path: str, commit: str | None) -> Hit | None:
        start, end = _secret_span(match, rule.secret_group)
        if end <= start:
            return None
        secret = data[start:end]
        if rule.entropy and shannon_entropy(secret) <= rule.entropy:
            return None
        verdict: Verdict | None = ACCEPT
        if rule.validate is not None:
            verdict = VALIDATORS[rule.validate](secret, match, start, end)
        if verdict is None:
            return None
        if verdict.start is not None and verdict.end is not None:  # widened (a key block)
            start, end = verdict.start, verdict.end
            secret = data[start:end]
        line_start = data.rfind(b"\n", max(0, start - _LINE_CONTEXT), start) + 1
        line_end = data.find(b"\n", end, end + _LINE_CONTEXT)
        line = data[line_start:line_end if line_end >= 0 else end + _LINE_CONTEXT]
        if any(marker in line for marker in INLINE_ALLOW):
            return None
        m_start, m_end = match.span()
        whole = data[m_start:m_end]
        for allow in allowlists:
            if allow.allows(path=path, commit=commit, secret=secret, match=whole, line=line):
                return None
        return Hit(rule, m_start, m_end, start, end, verdict.severity or rule.severity,
                   verdict.note, column=start - line_start + 1)


def _collect(index: int, start: int, end: int, flags: int, context: list[tuple[int, int]]
             ) -> None:
    context.append((index, end))


def _secret_span(match: re.Match[bytes], group: int) -> tuple[int, int]:
    if group:
        return match.span(group)
    for index in range(1, match.re.groups + 1):
        start, end = match.span(index)
        if end > start:
            return start, end  # gitleaks: the first non-empty group is the secret
    return match.span()


def _number_lines(data: bytes, hits: list[Hit]) -> list[Hit]:
    """Fill in 1-based line numbers, counting newlines once in offset order."""
    out: list[Hit] = []
    position, line = 0, 1
    for hit in sorted(hits, key=lambda h: h.secret_start):
        if hit.rule.regex is None:
            out.append(hit)
            continue
        line += data.count(b"\n", position, hit.secret_start)
        position = hit.secret_start
        end_line = line + data.count(b"\n", hit.secret_start, max(hit.secret_start,
                                                                   hit.secret_end - 1))
        out.append(Hit(hit.rule, hit.start, hit.end, hit.secret_start, hit.secret_end,
                       hit.severity, hit.note, line, end_line, hit.column))
    return out


def _settle(hits: list[Hit], composite: bool) -> list[Hit]:
    """Apply composite requirements, drop helper-only rules, and keep one rule per secret."""
    if composite:
        hits = [h for h in hits if _requirements_met(h, hits)]
    hits = [h for h in hits if not h.rule.skip_report]
    ranked = sorted(hits, key=lambda h: (-h.rule.priority, h.secret_start, h.rule.id))
    starts: list[int] = []
    spans: list[tuple[int, int]] = []
    kept: list[Hit] = []
    for hit in ranked:
        if hit.rule.regex is not None:
            at = bisect.bisect_left(starts, hit.secret_start)
            before = spans[at - 1] if at else None
            after = spans[at] if at < len(spans) else None
            if (before and before[1] > hit.secret_start) or (after and after[0] < hit.secret_end):
                continue  # overlaps a secret already claimed by a more specific rule
            starts.insert(at, hit.secret_start)
            spans.insert(at, (hit.secret_start, hit.secret_end))
        kept.append(hit)
    return sorted(kept, key=lambda h: (h.secret_start, h.rule.id))


def _requirements_met(hit: Hit, hits: list[Hit]) -> bool:
    for need in hit.rule.required:
        if not any(other.rule.id == need.rule_id
                   and (need.within_lines is None
                        or abs(other.line - hit.line) <= need.within_lines)
                   and (need.within_columns is None
                        or abs(other.column - hit.column) <= need.within_columns)
                   for other in hits):
            return False
    return True
