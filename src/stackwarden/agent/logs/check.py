"""Run rules over log files offline (what `stackwarden logs check` does, like fail2ban-regex).

Files are decoded in their own format (detected from their first lines unless given), merged
by time when there are several, and run through one engine, so a correlation sees the events
of every file. The result is the final alert of every incident, sorted.
"""

from __future__ import annotations

import heapq
import os
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stackwarden.agent.logs.alerts import Alert, level_rank
from stackwarden.agent.logs.decoders import Decoder, detect_format, make_decoder
from stackwarden.agent.logs.errors import LogError, RuleError
from stackwarden.agent.logs.events import LogEvent, LogSource
from stackwarden.agent.logs.sigma.engine import RuleEngine
from stackwarden.agent.logs.sigma.loader import RuleFailure
from stackwarden.agent.logs.sigma.ruleset import RuleSet, RuleSettings
from stackwarden.agent.logs.sources.base import read_lines

SCHEMA_VERSION = 1
BUILTIN_RULES = Path(__file__).parent / "rules"
# Values the built-in rules' placeholders take unless configured.
DEFAULT_PLACEHOLDERS: Mapping[str, Sequence[str]] = {"sudo_root_allowed_users": ["root"]}


def default_settings(placeholders: Mapping[str, Sequence[str]] | None = None,
                     **kwargs: Any) -> RuleSettings:
    """Settings with the built-in placeholders' defaults, overridden by `placeholders`."""
    return RuleSettings(placeholders={**DEFAULT_PLACEHOLDERS, **(placeholders or {})}, **kwargs)


def load_ruleset(rule_paths: Iterable[str | Path] | None = None,
                 settings: RuleSettings | None = None, *, strict: bool = True) -> RuleSet:
    """The built-in rules, or those under `rule_paths`; with `strict`, a bad rule is an error."""
    ruleset = RuleSet.load(list(rule_paths) if rule_paths else [BUILTIN_RULES],
                           settings or default_settings())
    if strict and ruleset.failures:
        raise_failures(ruleset.failures)
    return ruleset


def raise_failures(failures: Sequence[RuleFailure]) -> None:
    """One RuleError naming every rule file (and field) that failed."""
    first = failures[0]
    more = "".join(f"\n  {f}" for f in failures[1:])
    raise RuleError(f"{first.message}{more}" if not more else
                    f"{first.message}\n  ({len(failures) - 1} more rule(s) failed:){more}",
                    source=first.path + (f" [{first.rule}]" if first.rule else ""),
                    field=first.field)


@dataclass(frozen=True, slots=True)
class FileStats:
    """What was read from one file."""

    path: str
    log_format: str
    lines: int
    events: int
    truncated_lines: int


@dataclass(frozen=True, slots=True)
class CheckReport:
    """Alerts from an offline run, with what was read and how fast."""

    alerts: list[Alert]
    files: list[FileStats]
    rules: int
    correlations: int
    failures: list[RuleFailure]
    matches: int
    seconds: float
    notes: list[str] = field(default_factory=list)
    rule_matches: dict[str, int] = field(default_factory=dict)  # rule title -> events

    @property
    def lines(self) -> int:
        """Lines read across all files."""
        return sum(f.lines for f in self.files)

    @property
    def lines_per_second(self) -> float:
        """Throughput of the whole run (reading, decoding, rules)."""
        return self.lines / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, stable key order."""
        return {
            "schema_version": SCHEMA_VERSION,
            "summary": {"files": len(self.files), "lines": self.lines,
                        "events": sum(f.events for f in self.files), "matches": self.matches,
                        "matches_by_rule": dict(sorted(self.rule_matches.items())),
                        "alerts": len(self.alerts), "rules": self.rules,
                        "correlations": self.correlations, "seconds": round(self.seconds, 3),
                        "lines_per_second": round(self.lines_per_second)},
            "files": [{"path": f.path, "format": f.log_format, "lines": f.lines,
                       "events": f.events, "truncated_lines": f.truncated_lines}
                      for f in self.files],
            "rule_failures": [{"path": f.path, "rule": f.rule, "field": f.field,
                               "message": f.message} for f in self.failures],
            "notes": self.notes,
            "alerts": [a.to_dict() for a in self.alerts],
        }


class _FileReader:
    """One file's events, counting lines as it goes."""

    def __init__(self, path: str, decoder: Decoder, log_format: str) -> None:
        self.path, self.decoder, self.log_format = path, decoder, log_format
        self.lines = self.events = self.truncated = 0

    def __iter__(self) -> Iterator[LogEvent]:
        for batch in self.batches():
            yield from batch

    def batches(self) -> Iterator[list[LogEvent]]:
        """Decoded events, a batch per chunk read (the hot loop of an offline check)."""
        decode, pending = self.decoder.decode, self.decoder.pending
        path = self.path
        for lines in read_lines(path):
            self.lines += len(lines)
            events: list[LogEvent] = []
            append = events.append
            for raw in lines:
                event = decode(raw.text, path, raw.lineno)
                if event is not None:
                    if raw.truncated:
                        self.truncated += 1
                        event.extra = {**(event.extra or {}), "truncated": True}
                    append(event)
                if pending:
                    events.extend(pending)
                    pending.clear()
            self.events += len(events)
            yield events
        tail = self.decoder.flush()
        self.events += len(tail)
        yield tail

    def stats(self) -> FileStats:
        return FileStats(self.path, self.log_format, self.lines, self.events, self.truncated)


def open_reader(path: str | Path, log_format: str | None = None,
                source: LogSource | None = None) -> _FileReader:
    """A reader for one file, its format detected from its first lines unless given.

    `source` declares the log source of formats that cannot tell it (raw, json).
    """
    name = str(path)
    try:
        st = os.stat(name)
        if not os.path.isfile(name):
            raise LogError("not a regular file", source=name)
        with open(name, "rb") as handle:
            head = handle.read(64 * 1024).decode("utf-8", "replace").splitlines()
    except OSError as exc:
        raise LogError(f"cannot read the log file: {exc.strerror}", source=name) from exc
    log_format = log_format or detect_format(head)
    decoder = make_decoder(log_format, reference_time=st.st_mtime, source=source)
    return _FileReader(name, decoder, log_format)


def check_files(paths: Sequence[str | Path], ruleset: RuleSet | None = None, *,
                log_format: str | None = None, source: LogSource | None = None) -> CheckReport:
    """Run a rule set (the built-in one by default) over log files; final alerts, sorted."""
    ruleset = ruleset or load_ruleset()
    readers = [open_reader(p, log_format, source) for p in paths]
    engine = RuleEngine(ruleset)
    for reader in readers:  # lines no rule reads are dropped after their header
        reader.decoder.wanted = engine.accepts
    process = engine.process
    started = time.perf_counter()
    if len(readers) == 1:
        for events in readers[0].batches():
            for event in events:
                process(event)
    else:
        for event in _merged(readers):
            process(event)
    alerts = engine.finish()
    seconds = time.perf_counter() - started
    alerts.sort(key=lambda a: (-level_rank(a.level), a.title, a.first or 0.0, a.group_text))
    return CheckReport(alerts, [r.stats() for r in readers], len(ruleset.rules),
                       len(ruleset.correlations), list(ruleset.failures), engine.matches,
                       seconds, rule_matches=engine.rule_matches())


def _merged(readers: list[_FileReader]) -> Iterator[LogEvent]:
    """Events of all files in time order (a file's undated lines keep their place)."""

    def keyed(index: int, reader: _FileReader) -> Iterator[tuple[float, int, int, LogEvent]]:
        last = 0.0
        for seq, event in enumerate(reader):
            if event.time is not None:
                last = event.time
            yield last, index, seq, event

    for _, _, _, event in heapq.merge(*(keyed(i, r) for i, r in enumerate(readers))):
        yield event
