"""The misconfiguration Detector: what the scan pipeline calls for each file."""

from __future__ import annotations

import hashlib
import posixpath
import threading
from collections.abc import Iterable

from stackwarden.core.findings import Finding
from stackwarden.detect.base import DetectContext, Detector, ScanTarget
from stackwarden.detect.misconfig.engine import Outcome
from stackwarden.detect.misconfig.scanner import MisconfigScanner, wants_path
from stackwarden.detect.misconfig.source import MAX_FILE_BYTES


class MisconfigDetector(Detector):
    """Dockerfiles, Kubernetes, Compose, Terraform, CloudFormation, CI pipelines and image
    configs, checked against the built-in checks (and custom CEL policies).

    Per file: Terraform companion resources are only seen within the same file here; use
    `MisconfigScanner.scan_files`/`scan_path` to check a directory's `.tf` files as a module.
    """

    name = "misconfig"
    version = 1
    max_bytes = MAX_FILE_BYTES

    def __init__(self, scanner: MisconfigScanner | None = None, *,
                 policy_digest: str = "") -> None:
        self.scanner = scanner or MisconfigScanner()
        self.policy_digest = policy_digest  # custom policies' content, for the cache key
        self._modules: dict[tuple[str | None, str], list[tuple[str, bytes]]] = {}
        self._lock = threading.Lock()

    def cache_key(self) -> str:
        """Built-in checks and custom policies decide the results."""
        ids = sorted(f"{c.id}:{c.file_type}:{c.severity}" for c in self.scanner.index.checks)
        digest = hashlib.sha256("\0".join([*ids, self.policy_digest]).encode())
        return f"{self.name}-{self.version}-{digest.hexdigest()[:24]}"

    def wants(self, target: ScanTarget) -> bool:
        """By name: Dockerfiles, YAML/JSON, `.tf`, within the size limit. Copies a later layer
        deleted are scanned too (results are cached per layer); the pipeline drops their
        findings, since only what the image runs can be misconfigured."""
        return target.size <= self.max_bytes and wants_path(target.path)

    def scan(self, data: bytes, target: ScanTarget, ctx: DetectContext) -> Iterable[Finding]:
        """Findings of one file; parse failures become skips, inline ignores suppressions.
        Terraform files wait for `finish`: a directory's `.tf` files are one module."""
        if target.path.endswith((".tf", ".tf.json")):
            key = (target.layer, posixpath.dirname(target.path))
            with self._lock:
                self._modules.setdefault(key, []).append((target.path, data))
            return []
        return self._outcome(self.scanner.scan_bytes(target.path, data, layer=target.layer), ctx)

    def finish(self, ctx: DetectContext) -> list[Finding]:
        """Check the buffered Terraform modules, one directory of one layer at a time."""
        with self._lock:
            modules, self._modules = self._modules, {}
        findings: list[Finding] = []
        for (layer, _), files in sorted(modules.items(), key=lambda kv: (kv[0][0] or "",
                                                                           kv[0][1])):
            findings += self._outcome(self.scanner.scan_files(sorted(files), layer=layer), ctx)
        return findings

    @staticmethod
    def _outcome(outcome: Outcome, ctx: DetectContext) -> list[Finding]:
        ctx.skipped.extend(outcome.skipped)
        for finding, reason in outcome.suppressed:
            ctx.suppress(finding, reason)
        return list(outcome.findings)
