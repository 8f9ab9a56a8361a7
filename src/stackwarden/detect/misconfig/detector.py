"""The misconfiguration Detector: what the scan pipeline calls for each file."""

from __future__ import annotations

from collections.abc import Iterable

from stackwarden.core.findings import Finding
from stackwarden.detect.base import DetectContext, Detector, ScanTarget
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

    def __init__(self, scanner: MisconfigScanner | None = None) -> None:
        self.scanner = scanner or MisconfigScanner()

    def wants(self, target: ScanTarget) -> bool:
        """By name: Dockerfiles, YAML/JSON, `.tf`; deleted copies and huge files are not."""
        return not target.deleted and target.size <= self.max_bytes and wants_path(target.path)

    def scan(self, data: bytes, target: ScanTarget, ctx: DetectContext) -> Iterable[Finding]:
        """Findings of one file; parse failures become skips, inline ignores suppressions."""
        outcome = self.scanner.scan_bytes(target.path, data, layer=target.layer)
        ctx.skipped.extend(outcome.skipped)
        for finding, reason in outcome.suppressed:
            ctx.suppress(finding, reason)
        return outcome.findings
