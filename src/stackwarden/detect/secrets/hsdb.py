"""One Hyperscan database for every rule and keyword, compiled once and cached by content.

Rule patterns get ids 0..n-1; keywords (case-insensitive literals, reported once per scan)
get ids from KEYWORD_BASE. A pattern Hyperscan rejects in exact mode is retried in
prefilter mode, whose matches are a superset of the exact ones (Hyperscan guarantees no
false negatives there), so confirming with Python `re` gives the same results. A pattern
rejected in both modes is refused with Hyperscan's reason; the other rules still load.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import hyperscan

KEYWORD_BASE = 1 << 20
_MAGIC = b"SWHS1\n"


@dataclass(frozen=True)
class Database:
    """A compiled database, which patterns it refused (index -> reason) and which it prefilters."""

    db: hyperscan.Database
    refused: dict[int, str]
    prefiltered: frozenset[int]
    cached: bool  # loaded from the cache rather than compiled


def build(patterns: Sequence[tuple[str, bool]], keywords: Sequence[bytes],
          cache_dir: Path | None) -> Database:
    """Compile (pattern, needs_prefilter) pairs and keywords, or load them from `cache_dir`."""
    key = hashlib.sha256(json.dumps({
        "hyperscan": getattr(hyperscan, "__version__", "?"),
        "patterns": list(patterns),
        "keywords": [k.decode("latin-1") for k in keywords],
    }).encode()).hexdigest()
    path = cache_dir / f"{key}.hsdb" if cache_dir else None
    if path is not None:
        loaded = _load(path)
        if loaded is not None:
            return loaded
    refused: dict[int, str] = {}
    prefiltered = frozenset(i for i, (_, pre) in enumerate(patterns) if pre)
    try:
        db = _compile(patterns, keywords, refused, prefiltered)
    except hyperscan.error:
        # Find which patterns fail, retry those in prefilter mode, refuse the rest.
        refused, prefiltered = _classify(patterns)
        db = _compile(patterns, keywords, refused, prefiltered)
    if path is not None:
        _store(path, db, refused, prefiltered)
    return Database(db, refused, prefiltered, cached=False)


def _flags(prefilter: bool) -> int:
    return hyperscan.HS_FLAG_PREFILTER if prefilter else 0


def _compile(patterns: Sequence[tuple[str, bool]], keywords: Sequence[bytes],
             refused: dict[int, str], prefiltered: frozenset[int]) -> hyperscan.Database:
    expressions, ids, flags = [], [], []
    for index, (pattern, _) in enumerate(patterns):
        if index in refused:
            continue
        expressions.append(pattern.encode("utf-8"))
        ids.append(index)
        flags.append(_flags(index in prefiltered))
    for index, word in enumerate(keywords):
        expressions.append(re.escape(word))
        ids.append(KEYWORD_BASE + index)
        flags.append(hyperscan.HS_FLAG_CASELESS | hyperscan.HS_FLAG_SINGLEMATCH)
    db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    if expressions:
        db.compile(expressions=expressions, ids=ids, elements=len(expressions), flags=flags)
    return db


def _classify(patterns: Sequence[tuple[str, bool]]) -> tuple[dict[int, str], frozenset[int]]:
    """Compile each pattern alone to find which need prefilter mode and which cannot run."""
    refused: dict[int, str] = {}
    prefiltered: set[int] = set()
    for index, (pattern, needs_prefilter) in enumerate(patterns):
        reason = ""
        for prefilter in ((True,) if needs_prefilter else (False, True)):
            try:
                single = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
                single.compile(expressions=[pattern.encode("utf-8")], ids=[0], elements=1,
                               flags=[_flags(prefilter)])
            except hyperscan.error as exc:
                reason = reason or (str(exc.args[0]) if exc.args else "rejected")
                continue
            if prefilter:
                prefiltered.add(index)
            reason = ""
            break
        if reason:
            refused[index] = f"Hyperscan cannot compile the pattern: {reason}"
    return refused, frozenset(prefiltered)


def _load(path: Path) -> Database | None:
    try:
        blob = path.read_bytes()
        if not blob.startswith(_MAGIC):
            return None
        header_end = blob.index(b"\n", len(_MAGIC))
        header = json.loads(blob[len(_MAGIC):header_end])
        db = hyperscan.loadb(blob[header_end + 1:], hyperscan.HS_MODE_BLOCK)
        db.scratch = hyperscan.Scratch(db)
    except (OSError, ValueError, hyperscan.error):
        return None  # absent, truncated or from another Hyperscan build: compile again
    return Database(db, {int(k): v for k, v in header["refused"].items()},
                    frozenset(header["prefiltered"]), cached=True)


def _store(path: Path, db: hyperscan.Database, refused: dict[int, str],
           prefiltered: frozenset[int]) -> None:
    header = json.dumps({"refused": refused, "prefiltered": sorted(prefiltered)}).encode()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".hsdb.", dir=path.parent)
        with os.fdopen(fd, "wb") as handle:
            handle.write(_MAGIC + header + b"\n" + hyperscan.dumpb(db))
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError, UnboundLocalError):
            os.unlink(tmp)  # a read-only cache only costs the next run a compile
