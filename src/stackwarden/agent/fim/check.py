"""Compare what is on disk now with the baseline: changes with before, after and a label."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from stackwarden.agent.fim.diff import Redactor, is_text, unified_diff
from stackwarden.agent.fim.model import (
    CONTENT_FIELDS,
    RECORD_FIELDS,
    Change,
    ChangeKind,
    CheckResult,
    FileRecord,
    ScanNote,
)
from stackwarden.agent.fim.packages import PackageDigests, file_digest
from stackwarden.agent.fim.scan import VANISHED, Raw, Row, record_tree
from stackwarden.agent.fim.store import BaselineStore

_PERMISSION_FIELDS = frozenset({"mode", "uid", "gid", "caps"})
_REPLACED_FIELDS = frozenset({"mtime_ns", "inode"})  # a file rewritten with the same bytes


def compare(before: FileRecord | None, after: FileRecord | None) -> Change | None:
    """The change from one record to the other, or None when nothing compared differs."""
    return compare_rows(before.row() if before else None, after.row() if after else None)


def compare_rows(before: Row | None, after: Row | None) -> Change | None:
    """`compare` on row tuples (what the scan yields and the database holds)."""
    if before is None:
        return None if after is None else Change(after[0], ChangeKind.ADDED, None,
                                                 FileRecord(*after))
    if after is None:
        return Change(before[0], ChangeKind.DELETED, FileRecord(*before), None)
    old, new = before[1:12], after[1:12]
    if old == new:
        return None
    fields = [name for name, x, y in zip(RECORD_FIELDS, old, new, strict=True) if x != y]
    if "sha256" in fields and after[9] is None and after[12]:
        fields.remove("sha256")  # unreadable now: the content is unknown, not changed
    if not fields:
        return None
    kind = (ChangeKind.MODIFIED if any(f in CONTENT_FIELDS for f in fields)
            else ChangeKind.METADATA)
    return Change(before[0], kind, FileRecord(*before), FileRecord(*after), tuple(fields))


@dataclass(slots=True)
class Annotator:
    """Adds the owning package, the `package_update` label and content diffs to changes."""

    store: BaselineStore
    packages: PackageDigests
    redactor: Redactor

    @classmethod
    def for_store(cls, store: BaselineStore) -> Annotator:
        """An annotator using the baseline's root for package databases."""
        return cls(store, PackageDigests(store.options.root), Redactor())

    def kept_content(self, raw: Raw) -> bytes | None:
        """The redacted form of content a worker returned (None for binary content)."""
        content = raw[2]
        if content is None or not is_text(content):
            return None
        return self.redactor.redact(content, raw[0])

    def annotate(self, change: Change, content: bytes | None) -> Change:
        """One change with package, label and diff filled in where they apply."""
        after = change.after
        if after is None or after.type != "file":
            return change
        package = label = diff = None
        inside = self.packages.relative(change.path)
        owned = self.packages.lookup(inside) if inside else None
        if owned is not None:
            package = owned.to_dict()
            fields = set(change.fields)
            replaced_only = change.change is ChangeKind.METADATA and fields <= _REPLACED_FIELDS
            if (change.change in (ChangeKind.MODIFIED, ChangeKind.ADDED) or replaced_only) \
                    and not fields & _PERMISSION_FIELDS:
                digest = (after.sha256 if owned.algorithm == "sha256"
                          else file_digest(change.path, owned.algorithm))
                if digest is not None and digest == owned.digest:
                    label = "package_update"
        if change.change is ChangeKind.MODIFIED and content is not None:
            diff = unified_diff(self.store.content(change.path), content, change.path)
        if package is None and label is None and diff is None:
            return change
        return replace(change, package=package, label=label, diff=diff)


def check(db: str, *, update: bool = False, pool: str = "process",
          progress: Callable[[int], None] | None = None) -> CheckResult:
    """Walk the baseline's paths again and report every change; `update` accepts them."""
    started = time.perf_counter()
    with BaselineStore(db) as store:
        baseline = {row[0]: row for row in store.rows()}
        notes: list[ScanNote] = []
        annotator = Annotator.for_store(store)
        seen: set[str] = set()
        found: list[tuple[Change, bytes | None]] = []
        scanned = 0
        for raw in record_tree(store.roots, store.options, notes, pool=pool, progress=progress):
            path, row, _, note = raw
            if row is None:
                if note != VANISHED:
                    seen.add(path)  # state unknown: not reported as deleted
                    notes.append(ScanNote(path, note or "not recorded"))
                continue
            scanned += 1
            seen.add(path)
            if note:
                notes.append(ScanNote(path, note))
            change = compare_rows(baseline.get(path), row)
            if change is not None:
                found.append((change, annotator.kept_content(raw)))
        unlisted = tuple(n.path.rstrip("/") + "/" for n in notes
                         if n.reason.startswith("cannot list"))
        for path in baseline.keys() - seen:
            if unlisted and path.startswith(unlisted):
                continue  # below a directory we could not read: unknown, not deleted
            found.append((Change(path, ChangeKind.DELETED, FileRecord(*baseline[path]), None),
                          None))
        found.sort(key=lambda item: item[0].path)
        changes = [annotator.annotate(change, content) for change, content in found]
        if update:
            accept(store, changes, {c.path: content for c, content in found})
        notes.extend(ScanNote("package database", n) for n in annotator.packages.notes)
        return CheckResult(changes, notes, scanned, len(baseline),
                           time.perf_counter() - started, store.roots)


def accept(store: BaselineStore, changes: Iterable[Change],
           contents: dict[str, bytes | None]) -> None:
    """Write changes into the baseline so the next check starts from them."""
    changes = list(changes)
    store.apply([(c.after, contents.get(c.path)) for c in changes if c.after is not None],
                [c.path for c in changes if c.after is None])
