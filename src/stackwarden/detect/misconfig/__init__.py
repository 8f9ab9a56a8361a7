"""Misconfiguration scanning: Dockerfiles, image configs, Kubernetes, Compose, Terraform,
CloudFormation, GitHub Actions and GitLab CI, with built-in checks and CEL policies.

Entry points:
- `scan_config(path, policy_dir=None)`: a file or directory tree (the CLI calls this).
- `MisconfigDetector`: the per-file Detector the scan pipeline runs.
- `check_kubernetes_object(obj)`: one Kubernetes object in memory (admission webhook).
- `check_image_config(config)`: an image's config blob.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from stackwarden.core.findings import Finding
from stackwarden.detect.misconfig.detector import MisconfigDetector
from stackwarden.detect.misconfig.engine import Outcome
from stackwarden.detect.misconfig.model import ConfigParseError, MisconfigError, PolicyError
from stackwarden.detect.misconfig.scanner import MisconfigScanner

__all__ = [
    "ConfigParseError", "MisconfigDetector", "MisconfigError", "MisconfigScanner", "Outcome",
    "PolicyError", "build_scanner", "check_image_config", "check_kubernetes_object",
    "scan_config",
]


@cache
def _default_scanner() -> MisconfigScanner:
    return MisconfigScanner()


def build_scanner(policy_dir: Path | None = None) -> MisconfigScanner:
    """A scanner with the built-in checks plus the CEL policies under `policy_dir` (raises
    PolicyError, naming the file and expression, when a policy is invalid)."""
    if policy_dir is None:
        return _default_scanner()
    from stackwarden.detect.misconfig.policy import load_policies
    from stackwarden.detect.misconfig.registry import builtin_checks

    policies = load_policies(policy_dir, builtin_ids={c.id for c in builtin_checks()})
    return MisconfigScanner(policies=policies)


def scan_config(path: Path, *, policy_dir: Path | None = None) -> Outcome:
    """Scan a configuration file or every configuration file under a directory."""
    if not path.exists():
        raise MisconfigError("no such file or directory", source=str(path))
    return build_scanner(policy_dir).scan_path(path)


def check_kubernetes_object(obj: Mapping[str, Any], *,
                            scanner: MisconfigScanner | None = None) -> list[Finding]:
    """Findings for one Kubernetes object held in memory (no parsing, no I/O); raises
    ConfigParseError when `obj` is not a Kubernetes object."""
    return (scanner or _default_scanner()).check_object(obj)


def check_image_config(config: Mapping[str, Any], *, source: str = "",
                       scanner: MisconfigScanner | None = None) -> list[Finding]:
    """Findings for an image's config blob (`config.User`, `ExposedPorts`, `Env`,
    `Healthcheck`, `history`); `source` names the image in the finding location."""
    from stackwarden.detect.misconfig.image_config import config_document

    doc = config_document(config, path=source, name=source or "image config")
    return (scanner or _default_scanner()).check_documents([doc]).findings
