"""Build a baseline: walk the paths, record every entry in parallel, write the database."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from stackwarden.agent.fim.check import CheckResult, check
from stackwarden.agent.fim.diff import Redactor, is_text
from stackwarden.agent.fim.model import FimError, FimOptions, ScanNote
from stackwarden.agent.fim.scan import normalize_roots, record_tree
from stackwarden.agent.fim.store import BaselineStore, BaselineWriter


@dataclass(slots=True)
class BuildResult:
    """What building a baseline recorded."""

    db: str
    roots: tuple[str, ...]
    files: int
    notes: list[ScanNote] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, object]:
        """JSON form (`fim baseline --format json`)."""
        return {"db": self.db, "roots": list(self.roots), "files": self.files,
                "seconds": round(self.seconds, 3), "notes": [str(n) for n in self.notes]}


def database_files(db: str | Path) -> tuple[str, ...]:
    """Globs for the database, its journals and its temporary copy: never monitored."""
    path = os.path.abspath(db)
    directory, name = os.path.split(path)
    return (path, f"{path}-journal", f"{path}-wal", f"{path}-shm", f"{directory}/.{name}.*")


class Baseline:
    """A baseline database: `Baseline.build(paths, db)` makes one, `check()` compares with it."""

    def __init__(self, db: str | Path) -> None:
        self.db = str(db)
        with BaselineStore(self.db) as store:  # fails fast on a missing or foreign file
            self.roots = store.roots
            self.options = store.options
            self.created = store.created

    @staticmethod
    def build(paths: Iterable[str], db: str | Path, options: FimOptions | None = None, *,
              pool: str = "process", progress: Callable[[int], None] | None = None
              ) -> BuildResult:
        """Record every path under `paths` into a new database at `db` (atomically replaced)."""
        options = options or FimOptions()
        started = time.perf_counter()
        roots = normalize_roots(paths)
        if not roots:
            raise FimError("no path to monitor was given")
        options = replace(options, ignore=options.ignore + database_files(db))
        notes: list[ScanNote] = []
        writer = BaselineWriter(db, roots, options)
        redactor = Redactor()
        try:
            for path, row, content, note in record_tree(roots, options, notes, pool=pool,
                                                        progress=progress):
                if note:
                    notes.append(ScanNote(path, note))
                if row is None:
                    continue
                if content is not None:
                    content = redactor.redact(content, path) if is_text(content) else None
                writer.add(row, content)
            if writer.count == 0:
                raise FimError("none of the paths could be read: "
                               + "; ".join(str(n) for n in notes[:3]))
            writer.commit()
        except BaseException:
            writer.abort()
            raise
        return BuildResult(str(db), roots, writer.count, notes, time.perf_counter() - started)

    def check(self, *, update: bool = False, pool: str = "process",
              progress: Callable[[int], None] | None = None) -> CheckResult:
        """Every change since the baseline (see `check.check`)."""
        return check(self.db, update=update, pool=pool, progress=progress)
