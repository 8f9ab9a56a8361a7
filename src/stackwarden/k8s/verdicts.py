"""Where image verdicts come from: scan results already made, held in memory.

- `ReportDirectory`: a directory of JSON scan reports (`stackwarden scan IMAGE -f json`),
  indexed by manifest digest and by `registry/repository:tag`, re-read in a background thread
  when files change (only changed files are parsed again). A lookup is two dict reads.
- `ServerVerdicts`: the server's `GET /api/v1/admission/image`, cached with a TTL. A stale
  entry is served while a background refresh runs; only a cold miss waits on the network, and
  never longer than its timeout (then the image counts as unknown and the policy decides).

Each scan is judged by the policy's gate once, when it is read: the cache holds verdicts,
not findings.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx

from stackwarden.artifact.registry import ImageReference
from stackwarden.core.errors import UsageError
from stackwarden.k8s.images import ImageScan, canonical_name, judge_findings, normalize
from stackwarden.policy.gate import GatePolicy
from stackwarden.report.findings_dict import finding_from_dict, severity_counts

log = logging.getLogger("stackwarden.admission")
MAX_REPORT_BYTES = 64 * 1024 * 1024
MAX_REPORT_FILES = 100_000
_REFERENCE_SCHEMES = ("registry:", "docker:", "podman:")


@dataclass(frozen=True, slots=True)
class Lookup:
    """A verdict source's answer: the scan, or why there is none."""

    scan: ImageScan | None
    why: str = ""  # when scan is None: what was tried
    origin: str = ""  # reports, server, server-cache, server-stale


class VerdictSource(Protocol):
    """Anything that knows scans of images."""

    name: str

    def lookup(self, ref: ImageReference) -> Lookup:
        """The latest known scan of `ref` (by digest when it has one, else by tag)."""
        ...

    def close(self) -> None:
        """Stop background work."""
        ...


def judge(findings_json: Iterable[Mapping[str, Any]], gate: GatePolicy, *, digest: str | None,
          scanned_at: str, source: str) -> ImageScan:
    """An ImageScan from findings in their JSON form, judged by `gate` (ValueError if bad)."""
    try:
        findings = [finding_from_dict(dict(raw)) for raw in findings_json]
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        raise ValueError(f"a finding is malformed ({type(exc).__name__}: {exc})") from None
    failed, warned = judge_findings(findings, gate)
    counts = {k: v for k, v in severity_counts(findings).items() if v}
    return ImageScan(digest=digest, scanned_at=scanned_at, source=source, failed=failed,
                     warned=warned, counts=counts)


def _names(values: Iterable[Any]) -> set[str]:
    out = set()
    for value in values:
        if not isinstance(value, str) or not value:
            continue
        for scheme in _REFERENCE_SCHEMES:
            value = value.removeprefix(scheme)
        try:
            ref = normalize(value)
        except UsageError:
            continue
        if ref.tag:
            out.add(canonical_name(ref))
    return out


def report_keys(doc: Mapping[str, Any]) -> tuple[set[str], set[str]]:
    """(digests, canonical tag names) a scan report's image is known by."""
    art = doc.get("artifact") if isinstance(doc.get("artifact"), Mapping) else {}
    assert isinstance(art, Mapping)
    digests = {d for d in (art.get("digest"),) if isinstance(d, str) and d.startswith("sha")}
    refs = [art.get("reference"), doc.get("target")]
    for ref in refs:
        if isinstance(ref, str) and "@sha256:" in ref:
            digests.add(ref.rsplit("@", 1)[1])
    tags = art.get("repo_tags") if isinstance(art.get("repo_tags"), list) else []
    assert isinstance(tags, list)
    names = _names([*tags, art.get("name"),
                    *(r for r in refs if isinstance(r, str) and r.startswith(_REFERENCE_SCHEMES))])
    return digests, names


def read_report(path: Path, gate: GatePolicy) -> tuple[ImageScan, set[str], set[str]]:
    """One JSON scan report judged by `gate`, with its keys; ValueError names what is wrong."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_REPORT_BYTES + 1)
    except OSError as exc:
        raise ValueError(f"cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_REPORT_BYTES:
        raise ValueError(f"larger than {MAX_REPORT_BYTES // 2**20} MiB")
    try:
        doc = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"not JSON ({exc})") from None
    if not isinstance(doc, dict) or not str(doc.get("schema_version", "")).startswith("1.") \
            or not isinstance(doc.get("findings"), list) \
            or not isinstance(doc.get("artifact"), dict):
        raise ValueError("not a StackWarden scan report (schema_version 1.x, artifact, findings)")
    digests, names = report_keys(doc)
    if not digests and not names:
        raise ValueError("the report names no image (no digest, tag or registry reference)")
    scan = judge(doc["findings"], gate, digest=min(digests) if digests else None,
                 scanned_at=str(doc.get("created") or ""), source=str(path))
    return scan, digests, names


class ReportDirectory:
    """Scan reports under a directory, indexed in memory and refreshed in the background."""

    name = "reports"

    def __init__(self, root: Path, gate: GatePolicy, *, refresh_seconds: float = 30.0) -> None:
        if not root.is_dir():
            raise UsageError("not a directory", source=str(root))
        self.root = root
        self.gate = gate
        self.refresh_seconds = refresh_seconds
        self.skipped: dict[str, str] = {}
        self._files: dict[str, tuple[tuple[int, int], tuple[ImageScan, set[str], set[str]]]] = {}
        self._by_digest: dict[str, ImageScan] = {}
        self._by_name: dict[str, ImageScan] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.refresh()

    def __len__(self) -> int:
        return len(self._files)

    def lookup(self, ref: ImageReference) -> Lookup:
        """By digest when the reference has one (the bytes that run), else by tag."""
        scan = self._by_digest.get(ref.digest) if ref.digest else \
            self._by_name.get(canonical_name(ref))
        return Lookup(scan, "" if scan else f"no report in {self.root}", "reports")

    def refresh(self) -> None:
        """Re-read what changed under the directory and swap in a new index."""
        seen: dict[str, tuple[int, int]] = {}
        for path in self._report_paths():
            try:
                st = path.stat()
            except OSError:
                continue
            seen[str(path)] = (st.st_mtime_ns, st.st_size)
        files = {}
        for key, stamp in seen.items():
            old = self._files.get(key)
            if old is not None and old[0] == stamp:
                files[key] = old
                continue
            try:
                files[key] = (stamp, read_report(Path(key), self.gate))
                self.skipped.pop(key, None)
            except ValueError as exc:
                if self.skipped.get(key) != str(exc):
                    log.warning("scan report skipped: %s: %s", key, exc)
                self.skipped[key] = str(exc)
        by_digest: dict[str, ImageScan] = {}
        by_name: dict[str, ImageScan] = {}
        # newest scan wins for a tag; for a digest too (a re-scan with a newer database)
        for _, (scan, digests, names) in sorted(files.values(), key=lambda v: v[1][0].scanned_at):
            for digest in digests:
                by_digest[digest] = scan
            for name in names:
                by_name[name] = scan
        self._files, self._by_digest, self._by_name = files, by_digest, by_name
        self.skipped = {k: v for k, v in self.skipped.items() if k in seen}

    def _report_paths(self) -> Iterable[Path]:
        count = 0
        for directory, dirs, names in os.walk(self.root):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(names):
                if name.endswith(".json") and not name.startswith("."):
                    count += 1
                    if count > MAX_REPORT_FILES:
                        log.warning("more than %d reports under %s: the rest are ignored",
                                    MAX_REPORT_FILES, self.root)
                        return
                    yield Path(directory, name)

    def start(self) -> None:
        """Refresh every `refresh_seconds` in a daemon thread."""
        if self._thread is None and self.refresh_seconds > 0:
            self._thread = threading.Thread(target=self._loop, name="sw-reports", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.refresh_seconds):
            try:
                self.refresh()
            except Exception:  # the webhook must keep answering with the last good index
                log.exception("refreshing scan reports failed")

    def close(self) -> None:
        """Stop the refresh thread."""
        self._stop.set()


@dataclass(slots=True)
class _Entry:
    lookup: Lookup
    fetched: float
    ttl: float


class ServerVerdicts:
    """Image verdicts from the StackWarden server, cached with a TTL (stale-while-revalidate)."""

    name = "server"
    may_block = True  # a cold miss waits on the network (at most `timeout`)

    def __init__(self, url: str, token: str, gate: GatePolicy, *, ttl: float = 300.0,
                 negative_ttl: float = 30.0, error_ttl: float = 5.0, max_stale: float = 3600.0,
                 timeout: float = 2.0, max_entries: int = 10_000,
                 clock: Callable[[], float] = time.monotonic,
                 transport: httpx.BaseTransport | None = None, verify: Any = True) -> None:
        url = url.rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise UsageError("the server URL must start with http:// or https://", source=url)
        self.url, self.gate = url, gate
        self.ttl, self.negative_ttl, self.error_ttl = ttl, negative_ttl, error_ttl
        self.max_stale, self.timeout, self.max_entries = max_stale, timeout, max_entries
        self.clock = clock
        self._client = httpx.Client(base_url=url, timeout=timeout, transport=transport,
                                    verify=verify, headers={"Authorization": f"Bearer {token}"})
        self._cache: dict[str, _Entry] = {}
        self._inflight: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="sw-verdicts")

    def lookup(self, ref: ImageReference) -> Lookup:
        """Cached when fresh; stale served while refreshing; a miss waits at most `timeout`."""
        key = ref.digest or canonical_name(ref)
        now = self.clock()
        with self._lock:
            entry = self._cache.get(key)
            waiting = self._inflight.get(key)
            if entry is not None and now - entry.fetched < entry.ttl:
                return _with_origin(entry.lookup, "server-cache")
            usable = entry is not None and entry.lookup.scan is not None and \
                now - entry.fetched < self.max_stale
            if waiting is None:
                waiting = self._inflight[key] = threading.Event()
                owner = True
            else:
                owner = False
        if usable:
            assert entry is not None
            if owner:
                self._pool.submit(self._fetch, key, ref, waiting)
            return _with_origin(entry.lookup, "server-stale")
        if owner:
            self._fetch(key, ref, waiting)
        elif not waiting.wait(self.timeout):
            return Lookup(None, "server did not answer in time", "server")
        with self._lock:
            found = self._cache.get(key)
        return found.lookup if found else Lookup(None, "server lookup failed", "server")

    def _fetch(self, key: str, ref: ImageReference, done: threading.Event) -> None:
        try:
            lookup, ttl = self._ask(ref)
            with self._lock:
                old = self._cache.get(key)
                if lookup.scan is None and ttl == self.error_ttl and old is not None and \
                        old.lookup.scan is not None and \
                        self.clock() - old.fetched < self.max_stale:
                    return  # keep serving the last good verdict while the server is away
                if len(self._cache) >= self.max_entries and key not in self._cache:
                    self._cache.pop(next(iter(self._cache)))
                self._cache[key] = _Entry(lookup, self.clock(), ttl)
        finally:
            with self._lock:
                self._inflight.pop(key, None)
            done.set()

    def _ask(self, ref: ImageReference) -> tuple[Lookup, float]:
        try:
            response = self._client.get("/api/v1/admission/image", params={"ref": str(ref)})
        except httpx.HTTPError as exc:
            return Lookup(None, f"server unreachable: {type(exc).__name__}", "server"), \
                self.error_ttl
        if response.status_code != 200:
            return Lookup(None, f"server answered HTTP {response.status_code}", "server"), \
                self.error_ttl
        try:
            body = response.json()
            if not body.get("found"):
                return Lookup(None, "the server has no scan of it", "server"), self.negative_ttl
            scan = judge(body.get("findings") or [], self.gate, digest=body.get("digest"),
                         scanned_at=str(body.get("scanned_at") or ""),
                         source=f"{self.url} asset {body.get('asset_id')}")
        except (ValueError, AttributeError, TypeError) as exc:
            return Lookup(None, f"server answer unreadable: {exc}", "server"), self.error_ttl
        return Lookup(scan, "", "server"), self.ttl

    def close(self) -> None:
        """Stop refreshes and close the connection pool."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._client.close()


def _with_origin(lookup: Lookup, origin: str) -> Lookup:
    return Lookup(lookup.scan, lookup.why, origin)


class VerdictStore:
    """Sources asked in order (local reports first); the first that knows the image answers."""

    def __init__(self, sources: Sequence[VerdictSource] = ()) -> None:
        self.sources = list(sources)

    @property
    def may_block(self) -> bool:
        """Whether a lookup can wait on the network (then reviews run in worker threads)."""
        return any(getattr(source, "may_block", False) for source in self.sources)

    def lookup(self, ref: ImageReference) -> Lookup:
        """The first source's scan, else every source's reason joined."""
        whys = []
        for source in self.sources:
            found = source.lookup(ref)
            if found.scan is not None:
                return found
            whys.append(found.why)
        return Lookup(None, "; ".join(w for w in whys if w) or "no scan source configured")

    def start(self) -> None:
        """Start background refreshes."""
        for source in self.sources:
            start = getattr(source, "start", None)
            if start is not None:
                start()

    def close(self) -> None:
        """Stop every source."""
        for source in self.sources:
            source.close()


__all__ = ["Lookup", "ReportDirectory", "ServerVerdicts", "VerdictSource", "VerdictStore",
           "judge", "read_report", "report_keys"]
