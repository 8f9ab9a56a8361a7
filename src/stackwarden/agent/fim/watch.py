"""Realtime file integrity: inotify (through watchdog) re-records touched paths as they change.

Each event's path is recorded again (after a short debounce that folds bursts of writes into
one change), compared with the baseline, reported through a callback and accepted into the
baseline, so every change is reported once. Full checks still run on a schedule (inotify
does not see everything: changes made while the watcher was down, other mount namespaces).

When the kernel refuses more inotify watches (`fs.inotify.max_user_watches`) or instances,
the watcher says so through `on_notice` and falls back to scheduled full checks.
"""

from __future__ import annotations

import errno
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from stackwarden.agent.fim.check import Annotator, accept, check, compare
from stackwarden.agent.fim.model import Change, ChangeKind, FileRecord, ScanNote
from stackwarden.agent.fim.scan import PathMatcher, record_raw, to_record, walk
from stackwarden.agent.fim.store import BaselineStore

DEFAULT_INTERVAL = 3600.0  # full check while inotify works
DEFAULT_FALLBACK_INTERVAL = 300.0  # full check when it does not
DEFAULT_DEBOUNCE = 0.5
_LIMIT_ERRNOS = (errno.ENOSPC, errno.EMFILE)


@dataclass(frozen=True, slots=True)
class Notice:
    """Something the operator should know about the watcher itself (mode, limits, errors)."""

    level: str  # "info" or "warning"
    message: str


def watch_limit_reached(path: str) -> bool:
    """Whether the kernel refuses one more inotify watch for this user right now.

    watchdog skips subdirectories it cannot watch without a word, so after scheduling (and
    after new directories appear) a probe watch tells whether the limit was hit.
    """
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.inotify_init1(os.O_CLOEXEC)
    if fd < 0:
        return ctypes.get_errno() in _LIMIT_ERRNOS
    try:
        wd = libc.inotify_add_watch(fd, os.fsencode(path), 0x00000004 | 0x02000000)
        return wd < 0 and ctypes.get_errno() == errno.ENOSPC  # IN_ATTRIB | IN_DONT_FOLLOW
    finally:
        os.close(fd)


def inotify_limit() -> str:
    """The watch limits in force, as sysctl settings (for the fallback message)."""
    found = []
    for name, path in (("fs.inotify.max_user_watches", "/proc/sys/fs/inotify/max_user_watches"),
                       ("user.max_inotify_watches", "/proc/sys/user/max_inotify_watches")):
        try:
            with open(path, encoding="ascii") as handle:
                value = handle.read().strip()
        except OSError:
            continue
        if not any(value == v for _, v in found):
            found.append((name, value))
    return ", ".join(f"{n}={v}" for n, v in found) or "fs.inotify.max_user_watches"


class FimWatcher:
    """Watches a baseline's paths; `on_change` gets every Change, `on_notice` every Notice."""

    def __init__(self, db: str, on_change: Callable[[Change], None], *,
                 on_notice: Callable[[Notice], None] | None = None,
                 interval: float = DEFAULT_INTERVAL,
                 fallback_interval: float = DEFAULT_FALLBACK_INTERVAL,
                 debounce: float = DEFAULT_DEBOUNCE, realtime: bool = True) -> None:
        self.db = db
        self.store = BaselineStore(db)
        self.on_change = on_change
        self.on_notice = on_notice or (lambda notice: None)
        self.interval = interval
        self.fallback_interval = fallback_interval
        self.debounce = debounce
        self.realtime = realtime
        self.mode = "stopped"  # "inotify", "scheduled"
        self._ignored = PathMatcher(self.store.options.ignore)
        self._annotator = Annotator.for_store(self.store)
        self._pending: set[str] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._observer: object | None = None
        self._next_check = 0.0

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start inotify watches on every root (or fall back to scheduled checks)."""
        if not self.realtime:
            self._fall_back("realtime watching is off")
            return
        try:
            self._observer = self._start_observer()
        except OSError as exc:
            if exc.errno in _LIMIT_ERRNOS:
                detail = ("inotify watch limit reached" if exc.errno == errno.ENOSPC
                          else "inotify instance limit reached")
                self._fall_back(f"{detail} ({inotify_limit()})")
                return
            self._fall_back(f"inotify unavailable: {exc.strerror or exc}")
            return
        if self._limit_hit():
            return
        self.mode = "inotify"
        self._next_check = time.monotonic() + self.interval
        self.on_notice(Notice("info", f"watching {len(self.store.roots)} path(s) with inotify; "
                                      f"full check every {self.interval:g}s"))

    def _start_observer(self) -> object:
        from watchdog import events
        from watchdog.observers.inotify import InotifyObserver

        wanted = [events.FileCreatedEvent, events.DirCreatedEvent, events.FileDeletedEvent,
                  events.DirDeletedEvent, events.FileMovedEvent, events.DirMovedEvent,
                  events.FileModifiedEvent, events.DirModifiedEvent, events.FileClosedEvent]
        handler = _Handler(self._queue)
        observer = InotifyObserver()
        observer.daemon = True
        try:
            observer.start()
            for root in self.store.roots:
                if os.path.lexists(root):
                    observer.schedule(handler, root, recursive=os.path.isdir(root),
                                      event_filter=wanted)  # type: ignore[arg-type]
        except BaseException:
            observer.stop()
            raise
        return observer

    def _limit_hit(self) -> bool:
        """Probe the watch limit; when it is reached, stop inotify and fall back."""
        roots = [r for r in self.store.roots if os.path.isdir(r)]
        if not roots or not watch_limit_reached(roots[0]):
            return False
        self._stop_observer()
        self._fall_back(f"inotify watch limit reached ({inotify_limit()}): not every "
                        "directory could be watched")
        return True

    def _fall_back(self, reason: str) -> None:
        self.mode = "scheduled"
        self._next_check = time.monotonic() + self.fallback_interval
        self.on_notice(Notice("warning", f"{reason}; falling back to scheduled full checks "
                                         f"every {self.fallback_interval:g}s"))

    def stop(self) -> None:
        """Stop watching (safe to call from another thread or a signal handler)."""
        self._stop.set()
        self._wake.set()

    def _stop_observer(self) -> None:
        observer = self._observer
        self._observer = None
        if observer is not None:
            observer.stop()  # type: ignore[attr-defined]
            observer.join(timeout=5)  # type: ignore[attr-defined]

    def close(self) -> None:
        """Release the observer and the database."""
        self._stop_observer()
        self.store.close()
        self.mode = "stopped"

    def run(self, duration: float | None = None) -> None:
        """Start, then handle events and scheduled checks until `stop()` or `duration` ends."""
        self.start()
        deadline = None if duration is None else time.monotonic() + duration
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                if deadline is not None and now >= deadline:
                    break
                timeout = self._next_check - now
                if deadline is not None:
                    timeout = min(timeout, deadline - now)
                if self._wake.wait(max(0.0, timeout)):
                    self._wake.clear()
                    if self._stop.is_set():
                        break
                    time.sleep(self.debounce)  # fold a burst of writes into one change
                self.poll()
        finally:
            self.close()

    # -- work --------------------------------------------------------------------------------

    def _queue(self, *paths: str) -> None:
        with self._lock:
            self._pending.update(p for p in paths if p)
        self._wake.set()

    def poll(self) -> list[Change]:
        """Handle queued events and a due scheduled check; returns the changes reported."""
        if self.mode == "inotify" and not self._observer_alive():
            self._observer = None
            self._fall_back(f"inotify stopped (a new directory may have hit {inotify_limit()})")
        with self._lock:
            paths, self._pending = self._pending, set()
        changes = self.check_paths(sorted(paths)) if paths else []
        if self.mode == "inotify" and any(c.change is ChangeKind.ADDED and c.after is not None
                                          and c.after.type == "dir" for c in changes):
            self._limit_hit()  # watchdog watched the new directories, or silently could not
        if time.monotonic() >= self._next_check:
            changes += self.full_check()
        return changes

    def _observer_alive(self) -> bool:
        observer = self._observer
        return observer is not None and all(
            emitter.is_alive() for emitter in observer.emitters)  # type: ignore[attr-defined]

    def full_check(self) -> list[Change]:
        """A full check now (changes accepted into the baseline and reported)."""
        result = check(self.db, update=True)
        for note in result.notes:
            self.on_notice(Notice("warning", str(note)))
        for change in result.changes:
            self.on_change(change)
        every = self.interval if self.mode == "inotify" else self.fallback_interval
        self._next_check = time.monotonic() + every
        return result.changes

    def check_paths(self, paths: list[str]) -> list[Change]:
        """Record the given paths again (a new directory with all it holds), report, accept."""
        options = self.store.options
        roots = self.store.roots
        found: dict[str, tuple[Change, bytes | None]] = {}
        for path in paths:
            if not any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots):
                continue
            if self._ignored and self._ignored(path):
                continue
            before = self.store.get(path)
            raw = record_raw(path, options.diff_max_bytes, options.xattrs)
            if raw[3] and raw[1] is not None:
                self.on_notice(Notice("warning", f"{path}: {raw[3]}"))
            after = to_record(raw[1])
            change = compare(before, after)
            if change is not None:
                found[path] = (change, self._annotator.kept_content(raw))
            if _is_dir(before) != _is_dir(after) or (after is None and _is_dir(before)):
                self._subtree(path, after, found)
        changes = [self._annotator.annotate(c, content) for c, content in
                   sorted(found.values(), key=lambda item: item[0].path)]
        if changes:
            accept(self.store, changes, {c.path: content for c, content in found.values()})
        for change in changes:
            self.on_change(change)
        return changes

    def _subtree(self, path: str, after: FileRecord | None,
                 found: dict[str, tuple[Change, bytes | None]]) -> None:
        """A directory appeared, vanished or replaced a file: compare everything below it."""
        old = {r.path: r for r in self.store.under(path)}
        if after is not None and after.type == "dir":
            notes: list[ScanNote] = []
            for sub, regular in walk([path], self.store.options, notes):
                if sub == path:
                    continue
                raw = record_raw(sub, self.store.options.diff_max_bytes,
                                 self.store.options.xattrs, regular)
                change = compare(old.pop(sub, None), to_record(raw[1]))
                if change is not None:
                    found[sub] = (change, self._annotator.kept_content(raw))
        for sub, record in old.items():
            found[sub] = (Change(sub, ChangeKind.DELETED, record, None), None)


def _is_dir(record: FileRecord | None) -> bool:
    return record is not None and record.type == "dir"


class _Handler:
    """watchdog handler: queue the paths an event names (dispatch is all watchdog needs)."""

    def __init__(self, queue: Callable[..., None]) -> None:
        self._queue = queue

    def dispatch(self, event: object) -> None:
        self._queue(_text(getattr(event, "src_path", "")), _text(getattr(event, "dest_path", "")))


def _text(path: str | bytes) -> str:
    return os.fsdecode(path) if isinstance(path, bytes) else path
