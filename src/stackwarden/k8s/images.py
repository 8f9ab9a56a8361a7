"""The image gate: which images a workload runs, and what the policy says about each.

An image is judged on its reference alone (registry allowed? digest or tag?) and on the scan
results already known for it (`ImageScan`, from `verdicts.py`): never scanned, scanned too
long ago, or findings that fail the policy's gate. Nothing here touches the network.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from stackwarden.artifact.registry import DOCKER_HUB, ImageReference, parse_reference
from stackwarden.artifact.registry_auth import HUB_HOSTS
from stackwarden.core.errors import UsageError
from stackwarden.core.findings import Finding
from stackwarden.detect.misconfig.checks.k8s_common import CONTAINER_LISTS
from stackwarden.detect.misconfig.kubernetes import POD_SPEC_PATHS
from stackwarden.k8s.policy import ImageRules
from stackwarden.policy.gate import GatePolicy, describe_findings


@dataclass(frozen=True, slots=True)
class ContainerImage:
    """One container of a workload and the image it runs."""

    container: str
    field: str  # initContainers, containers, ephemeralContainers
    image: str


@dataclass(frozen=True, slots=True)
class ImageScan:
    """What is known about one image from its latest scan, already judged by the gate."""

    digest: str | None
    scanned_at: str  # RFC 3339 (the report's `created`)
    source: str  # report file, or server asset
    failed: tuple[str, ...] = ()  # gate rules that failed, as messages
    warned: tuple[str, ...] = ()
    counts: dict[str, int] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True, slots=True)
class Reason:
    """One thing the webhook found, with the action the policy gives it."""

    action: str  # deny or warn
    source: str  # misconfig or image
    code: str  # check id, or image-unscanned, image-gate, image-registry, image-tag, …
    message: str
    severity: str = ""
    container: str = ""
    image: str = ""

    def to_dict(self) -> dict[str, str]:
        """JSON form for the decision log."""
        out = {"action": self.action, "source": self.source, "code": self.code,
               "message": self.message}
        for key in ("severity", "container", "image"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        return out


def workload_images(obj: Mapping[str, Any]) -> list[ContainerImage]:
    """Every container image of a Pod or of a workload's pod template ([] for other kinds)."""
    path = POD_SPEC_PATHS.get(str(obj.get("kind")))
    spec: Any = obj
    for key in path or ("-",):
        spec = spec.get(key) if isinstance(spec, Mapping) else None
    if not path or not isinstance(spec, Mapping):
        return []
    found = []
    for list_name in CONTAINER_LISTS:
        items = spec.get(list_name)
        for item in items if isinstance(items, list) else ():
            if isinstance(item, Mapping):
                found.append(ContainerImage(str(item.get("name") or "?"), list_name,
                                            str(item.get("image") or "")))
    return found


def normalize(value: str) -> ImageReference:
    """Parse an image as Kubernetes writes it (`nginx`, `ghcr.io/a/b:1@sha256:…`)."""
    return parse_reference(value)


def canonical_name(ref: ImageReference) -> str:
    """`registry/repository:tag` with Docker Hub spelled one way (the lookup key for tags)."""
    return f"{ref.registry}/{ref.repository}:{ref.tag or 'latest'}"


def registry_prefix(entry: str) -> str:
    """An allowed-registries entry with Docker Hub's host spelled the way references are."""
    host, slash, rest = entry.partition("/")
    if host.lower() in HUB_HOSTS:
        return DOCKER_HUB + (slash + rest if rest else "")
    return host.lower() + slash + rest


def registry_allowed(ref: ImageReference, allowed: Iterable[str]) -> bool:
    """Whether the image's `registry/repository` is under one of the allowed prefixes."""
    full = f"{ref.registry.lower()}/{ref.repository}"
    return any(full == p or full.startswith(p + "/")
               for p in (registry_prefix(e) for e in allowed))


def exempt(image: str, ref: ImageReference | None, patterns: Iterable[str]) -> bool:
    """Whether an image matches one of the policy's exempt globs (as written or canonical)."""
    names = [image] + ([str(ref), canonical_name(ref)] if ref is not None else [])
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns for name in names)


def judge_findings(findings: Iterable[Finding], gate: GatePolicy
                   ) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(failed, warned) messages of the gate's rules over an image's findings."""
    failed: list[str] = []
    warned: list[str] = []
    items = list(findings)
    for rule in gate.rules:
        hits = [f for f in items if rule.when.matches(f)]
        if hits:
            (failed if rule.action == "fail" else warned).append(
                f"{rule.name}: {describe_findings(hits)}")
    return tuple(failed), tuple(warned)


def scan_age_days(scanned_at: str, now: datetime) -> float | None:
    """Days since an RFC 3339 time (None when it cannot be read)."""
    try:
        when = datetime.fromisoformat(scanned_at)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return (now - when).total_seconds() / 86400


def reference_reasons(item: ContainerImage, rules: ImageRules
                      ) -> tuple[ImageReference | None, list[Reason]]:
    """The image's parsed reference and what its reference alone breaks (registry, digest)."""
    def reason(action: str, code: str, message: str) -> Reason:
        return Reason(action, "image", code, message, container=item.container,
                      image=item.image)

    if not item.image:
        return None, [reason("deny", "image-missing",
                             f"container {item.container} names no image")]
    try:
        ref = normalize(item.image)
    except UsageError as exc:
        return None, [reason(rules.unscanned if rules.unscanned != "allow" else "warn",
                             "image-malformed", f"image {item.image}: {exc.message}")]
    if exempt(item.image, ref, rules.exempt):
        return None, []
    out = []
    if rules.allowed_registries and not registry_allowed(ref, rules.allowed_registries):
        out.append(reason(rules.untrusted_registry, "image-registry",
                          f"image {item.image} is not from an allowed registry"))
    if ref.digest is None:
        out.append(reason(rules.tag_not_digest, "image-tag",
                          f"image {item.image} is referenced by tag, not digest"))
    return ref, [r for r in out if r.action != "allow"]


def scan_reasons(item: ContainerImage, scan: ImageScan | None, rules: ImageRules, *,
                 unknown_why: str = "", now: datetime | None = None) -> list[Reason]:
    """What the image's known scan (or the lack of one) means under the policy."""
    def reason(action: str, code: str, message: str) -> Reason:
        return Reason(action, "image", code, message, container=item.container,
                      image=item.image)

    if scan is None:
        why = f" ({unknown_why})" if unknown_why else ""
        out = [reason(rules.unscanned, "image-unscanned",
                      f"image {item.image} has no known scan{why}")]
    else:
        out = []
        age = scan_age_days(scan.scanned_at, now or datetime.now(UTC))
        limit = rules.max_scan_age_days
        if limit is not None and (age is None or age > limit):
            shown = "at an unknown time" if age is None else f"{age:.0f} days ago"
            out.append(reason(rules.unscanned, "image-stale-scan",
                              f"image {item.image} was last scanned {shown} (the policy "
                              f"allows {limit:g})"))
        out += [reason("deny", "image-gate", f"image {item.image} fails {m}")
                for m in scan.failed]
        out += [reason("warn", "image-gate", f"image {item.image}: {m}") for m in scan.warned]
    return [r for r in out if r.action != "allow"]
