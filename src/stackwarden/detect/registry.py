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


def _misconfig(options: DetectorOptions) -> Detector:
    from stackwarden.detect.misconfig.detector import MisconfigDetector

    if not options.policy_dirs:
        return MisconfigDetector()
    import hashlib

    from stackwarden.detect.misconfig.policy import load_policies
    from stackwarden.detect.misconfig.registry import builtin_checks
    from stackwarden.detect.misconfig.scanner import MisconfigScanner

    builtin = {c.id for c in builtin_checks()}
    policies = [p for d in options.policy_dirs for p in load_policies(d, builtin_ids=builtin)]
    digest = hashlib.sha256()
    for directory in options.policy_dirs:
        for path in sorted(p for p in directory.rglob("*") if p.is_file()):
            digest.update(str(path).encode() + b"\0" + path.read_bytes())
    return MisconfigDetector(MisconfigScanner(policies=policies),
                             policy_digest=digest.hexdigest())


# scanner name -> builder; adding a content scanner is one builder and one line here.
CONTENT_SCANNERS: dict[str, Callable[[DetectorOptions], Detector]] = {
    "secret": _secret,
    "malware": _malware,
    "misconfig": _misconfig,
}


def build_detectors(scanners: Sequence[str], options: DetectorOptions) -> list[Detector]:
    """The detectors for the chosen scanners (configuration errors surface here, before reading)."""
    return [CONTENT_SCANNERS[name](options) for name in scanners if name in CONTENT_SCANNERS]
