"""Which content scanners exist and how to build them from the scan's options."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from stackwarden.detect.base import Detector


@dataclass(frozen=True)
class DetectorOptions:
    """Settings the content scanners take from the command line or a policy file."""

    yara_rules: tuple[Path, ...] = ()
    blocklists: tuple[Path, ...] = ()
    clamd: str | None = None
    secret_config: Path | None = None
    show_secrets: bool = False
    policy_dirs: tuple[Path, ...] = ()
    extra: dict[str, object] = field(default_factory=dict)


def _malware(options: DetectorOptions) -> Detector:
    from stackwarden.detect.malware import MalwareConfig, MalwareDetector

    return MalwareDetector(MalwareConfig(yara_rule_dirs=options.yara_rules,
                                         blocklists=options.blocklists, clamd=options.clamd))


def _secret(options: DetectorOptions) -> Detector:
    from stackwarden.detect.secrets.detector import SecretDetector

    configs = (options.secret_config,) if options.secret_config else ()
    return SecretDetector(configs=configs)


# scanner name -> builder; adding a content scanner is one builder and one line here.
CONTENT_SCANNERS: dict[str, Callable[[DetectorOptions], Detector]] = {
    "secret": _secret,
    "malware": _malware,
}


def build_detectors(scanners: Sequence[str], options: DetectorOptions) -> list[Detector]:
    """The detectors for the chosen scanners (configuration errors surface here, before reading)."""
    return [CONTENT_SCANNERS[name](options) for name in scanners if name in CONTENT_SCANNERS]
