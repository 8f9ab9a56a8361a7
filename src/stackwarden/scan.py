"""The pipeline: target -> artifact -> SBOM -> match + detectors (one walk) -> the report model."""

from __future__ import annotations

import time
from collections.abc import Callable, Container, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from stackwarden import __version__
from stackwarden.artifact.base import Artifact
from stackwarden.artifact.targets import TargetOptions
from stackwarden.core.errors import UsageError
from stackwarden.core.findings import Finding, FindingKind
from stackwarden.core.models import SBOM, Skipped
from stackwarden.detect.base import DetectContext, Detector
from stackwarden.detect.cache import ImageResultCache
from stackwarden.detect.license import LicensePolicy, check_licenses
from stackwarden.detect.registry import DetectorOptions, build_detectors

SCANNERS = ("vuln", "secret", "malware", "misconfig", "license")
DEFAULT_SCANNERS = SCANNERS
DEFAULT_MAX_DB_AGE_DAYS = 7.0


@dataclass(frozen=True, slots=True)
class Suppressed:
    """A finding that is not reported as a problem, and why (never silently dropped)."""

    finding: Finding
    reason: str


@dataclass
class ScanResult:
    """Everything one scan produced, ready for any report format."""

    target: str
    sbom: SBOM
    findings: list[Finding]
    suppressed: list[Suppressed] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    scanners: tuple[str, ...] = ()
    database: dict[str, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    created: str = ""
    tool_version: str = __version__


def parse_scanners(values: Sequence[str]) -> tuple[str, ...]:
    """`--scanners vuln,secret` -> ("vuln", "secret"), refusing unknown names."""
    names = tuple(dict.fromkeys(v.strip() for value in values for v in value.split(",")
                                if v.strip()))
    unknown = [n for n in names if n not in SCANNERS]
    if unknown:
        raise UsageError(f"unknown scanner(s) {', '.join(unknown)} (available: "
                         f"{', '.join(SCANNERS)})", source="--scanners")
    return names or DEFAULT_SCANNERS


def database_age_days(built_at: str, now: datetime | None = None) -> float | None:
    """How old a database is, in days, from its `built_at` metadata."""
    try:
        built = datetime.strptime(built_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None
    return ((now or datetime.now(UTC)) - built).total_seconds() / 86400


@dataclass(frozen=True)
class GitHistory:
    """Which commits `repo:PATH` scans for secrets."""

    branch: str | None = None
    all_branches: bool = False
    since: str | None = None


@dataclass(frozen=True)
class ScanOptions:
    """How to scan, beyond the target: database, caches, scanner settings."""

    db_path: Path | None = None
    ignore_unfixed: bool = False
    max_db_age_days: float = DEFAULT_MAX_DB_AGE_DAYS
    catalogers: tuple[str, ...] = ()
    detectors: DetectorOptions = field(default_factory=DetectorOptions)
    licenses: LicensePolicy = field(default_factory=LicensePolicy)
    cache_dir: Path | None = None
    use_cache: bool = True
    workers: int | None = None
    git: GitHistory | None = None  # repo:PATH: which history to read for secrets
    files: tuple[str, ...] = ()  # several file paths (pre-commit): scan just these


def _open(target: str, opts: ScanOptions, target_options: TargetOptions) -> Artifact:
    """The artifact to scan: a list of files when the options name several, else the target."""
    if opts.files:
        from stackwarden.artifact.directory import FileListArtifact

        return FileListArtifact(Path.cwd(), list(opts.files))
    from stackwarden.artifact.targets import open_target

    return open_target(target, target_options)


def _open_database(options: ScanOptions, warnings: list[str]) -> tuple[object, dict[str, str]]:
    from stackwarden.vulndb.store import VulnDB, default_db_path

    db = VulnDB(options.db_path or default_db_path())
    age = database_age_days(db.meta.get("built_at", ""))
    if age is not None and age > options.max_db_age_days:
        warnings.append(f"the vulnerability database is {age:.1f} days old (built "
                        f"{db.meta.get('built_at')}); run `stackwarden db update`")
    return db, {"path": str(db.path), **db.meta}


def scan(target: str, *, scanners: Sequence[str] = DEFAULT_SCANNERS,
         db_path: Path | None = None, options: TargetOptions | None = None,
         catalogers: Sequence[str] = (), ignore_unfixed: bool = False,
         max_db_age_days: float = DEFAULT_MAX_DB_AGE_DAYS, scan_options: ScanOptions | None = None,
         progress: Callable[[str, int, int], None] | None = None) -> ScanResult:
    """Scan a target with the chosen scanners and return the result model.

    The artifact is opened once: catalogers read the files they want, then every content
    scanner reads each file copy in the same pass (layers cached by diff_id). Configuration
    errors (database, rules, blocklists) are raised before the target is read.
    """
    started = time.perf_counter()
    target_options = options or TargetOptions()
    opts = scan_options or ScanOptions(db_path=db_path, ignore_unfixed=ignore_unfixed,
                                       max_db_age_days=max_db_age_days,
                                       catalogers=tuple(catalogers))
    timings: dict[str, float] = {}
    warnings: list[str] = []
    database: dict[str, str] = {}
    findings: list[Finding] = []
    suppressed: list[Suppressed] = []
    skipped: list[Skipped] = []
    detectors = build_detectors(scanners, opts.detectors)
    for detector in detectors:
        warnings.extend(getattr(detector, "warnings", None) or [])
    db = None
    if "vuln" in scanners:
        db, database = _open_database(opts, warnings)
    try:
        repo = None
        if target.startswith("repo:"):
            repo = Path(target[len("repo:"):])
            target_for_files = f"dir:{repo}"
        else:
            target_for_files = target
        if target.startswith("sbom:"):
            if detectors:
                warnings.append("an SBOM holds no file contents: "
                                f"{', '.join(d.name for d in detectors)} skipped")
            sbom = load_target_sbom(target, target_options, opts.catalogers, progress)
        else:
            from stackwarden.catalog.engine import catalog_artifact
            from stackwarden.catalog.registry import select_catalogers

            lazy = replace(target_options, lazy=opts.use_cache,
                           index_cache=_cache_root(opts, "index") if opts.use_cache else None)
            with _open(target_for_files, opts, lazy) as artifact:
                chosen = select_catalogers(artifact.info.kind, opts.catalogers)
                key = _image_key(artifact, chosen, detectors, target_options) \
                    if opts.use_cache else None
                images = ImageResultCache(opts.cache_dir) if key else None
                hit = images.get(key) if images is not None and key else None
                if hit is not None:
                    sbom, content, cached_suppressed, cached_skips = _from_image_cache(
                        hit, artifact)
                    findings += content
                    suppressed += cached_suppressed
                    skipped += cached_skips
                    timings["cached_image"] = 1.0
                else:
                    sbom = catalog_artifact(
                        artifact, chosen, limits=target_options.limits, progress=progress,
                        memo_dir=_cache_root(opts, "catalog") if opts.use_cache else None)
                    timings["inventory"] = time.perf_counter() - started
                    content = []
                    content_suppressed: list[Suppressed] = []
                    if detectors:
                        t0 = time.perf_counter()
                        content = _content_findings(artifact, detectors, opts, skipped,
                                                    content_suppressed, timings, progress)
                        content += _config_checks(artifact, detectors, opts, skipped)
                        timings["content"] = time.perf_counter() - t0
                    findings += content
                    suppressed += content_suppressed
                    if images is not None and key:
                        images.put(key, _image_cache_doc(sbom, content, content_suppressed,
                                                         skipped))
            if repo is not None and "secret" in scanners:
                t0 = time.perf_counter()
                findings = _with_history(findings, repo, opts, skipped, warnings)
                timings["git"] = time.perf_counter() - t0
        skipped[:0] = list(sbom.skipped)
        if db is not None:
            from stackwarden.vulndb.match import match_sbom

            t0 = time.perf_counter()
            if progress:
                progress(f"matching {len(sbom.packages)} packages", 0, 0)
            matched = match_sbom(sbom, db, ignore_unfixed=opts.ignore_unfixed)  # type: ignore[arg-type]
            findings.extend(matched.findings)
            suppressed.extend(Suppressed(f, reason) for f, reason in matched.ignored)
            timings["vuln"] = time.perf_counter() - t0
        if "license" in scanners:
            findings.extend(check_licenses(sbom.packages, opts.licenses))
    finally:
        if db is not None:
            db.close()  # type: ignore[attr-defined]
    timings["total"] = time.perf_counter() - started
    findings.sort(key=lambda f: (-f.severity.rank, str(f.kind), f.id, f.location.path))
    return ScanResult(target=target, sbom=sbom, findings=findings, suppressed=suppressed,
                      skipped=list(dict.fromkeys(skipped)), warnings=warnings,
                      scanners=tuple(scanners), database=database, timings=timings,
                      created=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))


def _content_findings(artifact: object, detectors: list[Detector], opts: ScanOptions,
                      skipped: list[Skipped], suppressed: list[Suppressed],
                      timings: dict[str, float],
                      progress: Callable[[str, int, int], None] | None) -> list[Finding]:
    from stackwarden.detect.cache import LayerResultCache
    from stackwarden.detect.walk import walk_content

    cache = LayerResultCache(opts.cache_dir) if opts.use_cache else None
    walked = walk_content(artifact, detectors, cache=cache, workers=opts.workers,  # type: ignore[arg-type]
                          ctx=DetectContext(show_secrets=opts.detectors.show_secrets),
                          progress=progress)
    skipped.extend(walked.skipped)
    visible = _visible(artifact)  # type: ignore[arg-type]
    suppressed.extend(Suppressed(f, reason) for f, reason in
                      mark_deleted(visible, [f for f, _ in walked.suppressed], reasons=[
                          r for _, r in walked.suppressed]))
    timings["files"] = float(walked.files)
    timings["bytes"] = float(walked.bytes)
    for name, count in walked.calls.items():
        timings[f"calls:{name}"] = float(count)
    for name, count in walked.cached_layers.items():
        timings[f"cached_layers:{name}"] = float(count)
    return [f for f, _ in mark_deleted(visible, [f for found in walked.findings.values()
                                                 for f in found])]


def _cache_root(opts: ScanOptions, name: str) -> Path:
    """A folder of the scan cache (`--cache-dir`, else the default) for one kind of entry."""
    from stackwarden.detect.cache import default_cache_root

    return (opts.cache_dir or default_cache_root()) / name


def _image_key(artifact: Artifact, catalogers: Sequence[object],
               detectors: Sequence[Detector], target_options: TargetOptions) -> str | None:
    """What decides a whole image's results, or None when they must not be cached (not an
    image, or a scanner whose results cannot be cached)."""
    info = artifact.info
    if not info.layers or not info.config_digest:
        return None
    keys = [d.cache_key() for d in detectors]
    if any(k is None for k in keys):
        return None
    parts = [__version__, info.config_digest, *(layer.diff_id for layer in info.layers),
             *sorted(f"{type(c).__name__}:{getattr(c, 'version', 0)}" for c in catalogers),
             *sorted(str(k) for k in keys), repr(target_options.limits)]
    return "\0".join(parts)


def _image_cache_doc(sbom: SBOM, content: list[Finding], suppressed: list[Suppressed],
                     skipped: list[Skipped]) -> dict[str, object]:
    from stackwarden.catalog.sbom import sbom_to_dict
    from stackwarden.report.findings_dict import finding_to_dict

    return {"sbom": sbom_to_dict(sbom), "findings": [finding_to_dict(f) for f in content],
            "suppressed": [{"reason": s.reason, "finding": finding_to_dict(s.finding)}
                           for s in suppressed],
            "skipped": [{"path": s.path, "reason": s.reason, "by": s.by} for s in skipped]}


def _from_image_cache(doc: dict[str, object], artifact: Artifact
                      ) -> tuple[SBOM, list[Finding], list[Suppressed], list[Skipped]]:
    from stackwarden.catalog.sbom import sbom_from_dict
    from stackwarden.report.findings_dict import finding_from_dict

    sbom = replace(sbom_from_dict(doc["sbom"]), artifact=artifact.info)  # type: ignore[arg-type]
    content = [finding_from_dict(f) for f in doc["findings"]]  # type: ignore[attr-defined]
    skips = [Skipped(s["path"], s["reason"], s.get("by", ""))
             for s in doc["skipped"]]  # type: ignore[attr-defined]
    kept = [Suppressed(finding_from_dict(s["finding"]), s["reason"])
            for s in doc.get("suppressed", [])]  # type: ignore[attr-defined]
    return sbom, content, kept, skips


class _FinalView:
    """Whether a (layer diff_id, path) file copy is the one the final view shows, looked up
    per finding (no set of every file)."""

    def __init__(self, artifact: Artifact) -> None:
        self.artifact = artifact

    def __contains__(self, item: object) -> bool:
        layer, path = item  # type: ignore[misc]
        entry = self.artifact.exact(path)
        return entry is not None and entry.is_file and \
            self.artifact.layer_digest(entry.layer) == layer


def _visible(artifact: Artifact) -> Container[tuple[str | None, str]] | None:
    """(layer, path) of every file in the final view; None for artifacts without layers."""
    if not artifact.info.layers:
        return None
    return _FinalView(artifact)


def mark_deleted(visible: Container[tuple[str | None, str]] | None, findings: list[Finding], *,
                 reasons: list[str] | None = None) -> list[tuple[Finding, str]]:
    """Say which findings sit in a file copy a later layer deleted or replaced; drop the
    misconfigurations among them (only what the image runs can be misconfigured).

    Decided here, not by the detectors, because a layer's cached results must not depend on
    the layers above it (a rebuilt image may delete what the cached layer still holds).
    Returns (finding, reason) pairs, the reasons passed through.
    """
    reasons = reasons if reasons is not None else [""] * len(findings)
    if visible is None:
        return list(zip(findings, reasons, strict=True))
    marked = []
    for finding, reason in zip(findings, reasons, strict=True):
        base = finding.location.path.split("!", 1)[0]  # archive members: the archive's copy
        deleted = (finding.location.layer, base) not in visible
        if deleted and finding.kind is FindingKind.MISCONFIGURATION:
            continue
        evidence = {k: v for k, v in finding.evidence.items()
                    if k not in ("deleted_in_later_layer", "removed_in_later_layer")}
        if deleted:
            evidence["deleted_in_later_layer"] = True
        marked.append((replace(finding, evidence=evidence), reason))
    return marked


def _config_checks(artifact: Artifact, detectors: list[Detector], opts: ScanOptions,
                   skipped: list[Skipped]) -> list[Finding]:
    """The image's own configuration: secrets in ENV/labels/history, misconfigurations."""
    found = _config_secrets(artifact, detectors, opts, skipped)
    if artifact.info.config and any(d.name == "misconfig" for d in detectors):
        from stackwarden.detect.misconfig import check_image_config

        # A stable location (as the config secrets have): the same image under another reference
        # or from the whole-image cache gives the same findings and fingerprints.
        found += check_image_config(artifact.info.config, source="image-config/config.json")
    return found


def _config_secrets(artifact: Artifact, detectors: list[Detector], opts: ScanOptions,
                    skipped: list[Skipped]) -> list[Finding]:
    """Secrets in the image's own config: ENV, labels, history `created_by`."""
    config = artifact.info.config
    secret = next((d for d in detectors if d.name == "secret"), None)
    if secret is None or not config:
        return []
    from stackwarden.detect.secrets.image import scan_image_config

    ctx = DetectContext(show_secrets=opts.detectors.show_secrets)
    found = list(scan_image_config(secret, config, ctx))  # type: ignore[arg-type]
    skipped.extend(ctx.skipped)
    return found


def _with_history(findings: list[Finding], repo: Path, opts: ScanOptions,
                  skipped: list[Skipped], warnings: list[str]) -> list[Finding]:
    """Add secrets from every commit's added lines; one finding per secret (the commit wins)."""
    from stackwarden.detect.secrets.git import GitOptions, scan_git_history

    history = opts.git or GitHistory()
    configs = (opts.detectors.secret_config,) if opts.detectors.secret_config else ()
    result = scan_git_history(repo, options=GitOptions(branch=history.branch,
                                                        all_branches=history.all_branches,
                                                        since=history.since),
                              configs=configs, show_secrets=opts.detectors.show_secrets)
    skipped.extend(result.skipped)
    warnings.extend(w for w in result.warnings if w not in warnings)
    seen = {f.fingerprint for f in result.findings}
    return [f for f in findings if f.fingerprint not in seen] + list(result.findings)


def load_target_sbom(target: str, options: TargetOptions, catalogers: Sequence[str],
                     progress: Callable[[str, int, int], None] | None) -> SBOM:
    """The SBOM for a target: read from `sbom:FILE`, or inventoried from the artifact."""
    if target.startswith("sbom:"):
        from stackwarden.catalog.sbom_import import read_sbom_file

        return read_sbom_file(Path(target[len("sbom:"):]))
    from stackwarden.catalog.sbom import generate_sbom

    return generate_sbom(target, options=options, catalogers=catalogers, progress=progress)
