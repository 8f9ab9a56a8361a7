"""Continuous log inspection for the agent: inputs -> decoders -> rules -> alerts, resumable.

`LogMonitor.poll()` reads what every input has now, decodes it and runs the rules; the caller
ships the alerts (and events, if it wants them) and then calls `commit(poll)`, which saves
every input's checkpoint. A crash between the two re-reads those lines on restart (at least
once); the line ids (`file_id` + `offset`, or the journal cursor) let a receiver drop the
repeats, so nothing is lost and nothing is counted twice.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from stackwarden.agent.logs.alerts import Alert
from stackwarden.agent.logs.decoders import Decoder, detect_format, make_decoder
from stackwarden.agent.logs.events import LogEvent, LogSource
from stackwarden.agent.logs.sigma.engine import RuleEngine
from stackwarden.agent.logs.sigma.ruleset import RuleSet
from stackwarden.agent.logs.sources.base import Batch
from stackwarden.agent.logs.sources.files import FileSource
from stackwarden.agent.logs.sources.journald import JournaldSource
from stackwarden.agent.logs.sources.offsets import OffsetStore


@dataclass(frozen=True, slots=True)
class LogInput:
    """One log to watch: a file (`/var/log/auth.log`, Suricata's `eve.json`) or the journal."""

    kind: str  # "file" or "journald"
    path: str = ""
    log_format: str | None = None  # decoder; files: detected from their first lines if None
    journal_args: tuple[str, ...] = ()  # e.g. ("-u", "ssh.service")
    start_at_end: bool = True  # first run without a checkpoint: only new lines
    source: LogSource | None = None  # the log source of raw/json input


@dataclass(slots=True)
class Poll:
    """What one poll read and raised; pass it to `commit` once the alerts are delivered."""

    events: list[LogEvent]
    alerts: list[Alert]  # opened incidents, then incidents closed by this poll's clock
    notes: list[str]
    lines: int = 0
    checkpoints: list[tuple[Any, dict[str, Any] | None]] = field(default_factory=list)


class LogMonitor:
    """Watches inputs with one rule engine (so correlations span files and the journal)."""

    def __init__(self, inputs: Sequence[LogInput], ruleset: RuleSet,
                 store: OffsetStore | None = None, *, keep_events: bool = False) -> None:
        self.engine = RuleEngine(ruleset)
        self.store = store
        self.keep_events = keep_events  # return every decoded event (e.g. to ship them too)
        self._inputs: list[tuple[LogInput, FileSource | JournaldSource, Decoder | None]] = []
        for spec in inputs:
            if spec.kind == "file":
                source: FileSource | JournaldSource = FileSource(
                    spec.path, store, start_at_end=spec.start_at_end)
            elif spec.kind == "journald":
                source = JournaldSource(store, args=spec.journal_args,
                                        from_start=not spec.start_at_end)
            else:
                raise ValueError(f"unknown log input kind {spec.kind!r}")
            self._inputs.append((spec, source, None))

    def poll(self, timeout: float = 0.0, now: float | None = None) -> Poll:
        """Read, decode and evaluate what every input has; alerts opened and closed."""
        result = Poll([], [], [])
        for index, (spec, source, decoder) in enumerate(self._inputs):
            if isinstance(source, JournaldSource):
                batch = source.read(timeout=timeout)
            else:
                batch = source.read()
            result.notes.extend(batch.notes)
            result.checkpoints.append((source, batch.checkpoint))
            if not batch.lines:
                continue
            if decoder is None:
                decoder = self._decoder(spec, batch)
                self._inputs[index] = (spec, source, decoder)
            self._run(decoder, batch, result)
        result.alerts.extend(self.engine.expire(now if now is not None else time.time()))
        return result

    def commit(self, poll: Poll) -> None:
        """Save the checkpoints of a poll whose alerts (and events) were delivered."""
        for source, checkpoint in poll.checkpoints:
            source.commit(checkpoint)

    def close(self) -> list[Alert]:
        """Stop reading; the final alerts of incidents still open."""
        for _, source, _ in self._inputs:
            source.close()
        return self.engine.finish()

    def _decoder(self, spec: LogInput, batch: Batch) -> Decoder:
        if spec.kind == "journald":
            name = "journald"
        else:
            name = spec.log_format or detect_format(line.text for line in batch.lines[:20])
        reference = None
        if spec.kind == "file":
            try:
                reference = os.stat(spec.path).st_mtime
            except OSError:
                reference = None
        decoder = make_decoder(name, reference_time=reference, source=spec.source)
        decoder.wanted = self.engine.accepts
        return decoder

    def _run(self, decoder: Decoder, batch: Batch, result: Poll) -> None:
        process, pending = self.engine.process, decoder.pending
        keep = self.keep_events
        result.lines += len(batch.lines)
        for raw in batch.lines:
            event = decoder.decode(raw.text, raw.origin, raw.lineno)
            events = [event] if event is not None else []
            if pending:
                events.extend(pending)
                pending.clear()
            for item in events:
                result.alerts.extend(process(item))
                if keep:  # the line's identity makes a shipped event idempotent
                    item.extra = {**(item.extra or {}), "file_id": raw.file_id,
                                  "offset": raw.offset}
                    result.events.append(item)
