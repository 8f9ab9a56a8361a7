"""The detector interface: a cheap `wants` test per file, then `scan` over the file's bytes."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import ClassVar

from stackwarden.core.findings import Finding
from stackwarden.core.models import Skipped


@dataclass(frozen=True, slots=True)
class ScanTarget:
    """One piece of content to scan and where it came from."""

    path: str  # path inside the artifact (or repository)
    size: int
    layer: str | None = None  # diff_id of the image layer holding this copy
    deleted: bool = False  # removed by a later layer (still shipped in this one)
    commit: str | None = None  # git history: the commit that added these lines
    mode: int = 0o644
    line_offset: int = 0  # first line number of `data` within the file (git hunks)
    extra: dict[str, str] = field(default_factory=dict, compare=False, hash=False)


@dataclass
class DetectContext:
    """Per-scan settings and the lists where skipped content and suppressed findings go."""

    show_secrets: bool = False
    skipped: list[Skipped] = field(default_factory=list)
    suppressed: list[tuple[Finding, str]] = field(default_factory=list)

    def skip(self, path: str, reason: str, by: str) -> None:
        """Record content that could not be scanned (listed in the report's summary)."""
        self.skipped.append(Skipped(path, reason, by))

    def suppress(self, finding: Finding, reason: str) -> None:
        """Record a finding suppressed in the content itself (e.g. an inline ignore comment),
        with its reason: the report lists it as suppressed, never drops it silently."""
        self.suppressed.append((finding, reason))


class Detector(ABC):
    """Finds one kind of problem in file contents.

    `wants` must be cheap (path, size, mode only). `scan` receives the whole content
    (bounded by `max_bytes`) and must never raise for bad content: it records a skip instead.
    """

    name: ClassVar[str]
    version: ClassVar[int] = 1  # part of cache keys: bump when results change
    max_bytes: ClassVar[int] = 64 * 1024 * 1024

    def cache_key(self) -> str | None:
        """What, besides the layer, decides this detector's results (rules, settings): the
        per-layer cache keys on it. Detectors with configurable rules add their digest; None
        means results must never be cached."""
        return f"{self.name}-{self.version}"

    @abstractmethod
    def wants(self, target: ScanTarget) -> bool:
        """Whether this content should be read and scanned at all."""

    @abstractmethod
    def scan(self, data: bytes, target: ScanTarget, ctx: DetectContext) -> Iterable[Finding]:
        """The findings in one piece of content."""
