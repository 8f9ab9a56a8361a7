"""Golden images: which images are golden, and what changed between two consecutive builds.

A diff is a pure function of the two builds' packages, active findings and image configs:
packages added, removed, upgraded (or downgraded, by the ecosystem's own version scheme);
findings new and fixed; configuration drift in what decides how the image runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

# Image config fields whose change alters how a container runs (OCI image-spec `config`).
DRIFT_FIELDS = ("User", "ExposedPorts", "Entrypoint", "Cmd", "WorkingDir", "Volumes",
                "StopSignal", "Healthcheck")


@dataclass(frozen=True, slots=True)
class Rule:
    """A golden rule: repository and tag globs."""

    id: int
    repository: str
    tag: str

    def matches(self, repository: str, tag: str) -> bool:
        """Whether `repository:tag` is golden under this rule."""
        return fnmatchcase(repository, self.repository) and fnmatchcase(tag, self.tag)


def golden_tags(rules: Sequence[Rule], repository: str, tags: Iterable[str]) -> list[str]:
    """The tags of an image that make it golden, sorted."""
    return sorted({t for t in tags for r in rules if r.matches(repository, t)})


def _compare(purl: str, old: str, new: str) -> int:
    """-1/0/1 by the package's own version scheme; plain string order when it has none."""
    from stackwarden.core.errors import StackWardenError
    from stackwarden.vulndb.versions import scheme_for

    kind = purl[4:].split("/", 1)[0] if purl.startswith("pkg:") else ""
    try:
        return scheme_for(kind).compare(old, new)
    except (StackWardenError, ValueError, TypeError):
        return (old > new) - (old < new)


def _packages(packages: Iterable[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for pkg in packages:
        if isinstance(pkg, dict) and pkg.get("name"):
            found[(str(pkg.get("type", "")), str(pkg["name"]))] = pkg
    return found


def diff_packages(old: Iterable[dict[str, Any]], new: Iterable[dict[str, Any]]
                  ) -> dict[str, list[dict[str, Any]]]:
    """Packages added, removed, upgraded and downgraded between two SBOM package lists."""
    before, after = _packages(old), _packages(new)
    out: dict[str, list[dict[str, Any]]] = {"added": [], "removed": [], "upgraded": [],
                                            "downgraded": []}
    for key in sorted(after.keys() - before.keys()):
        out["added"].append({"type": key[0], "name": key[1], "version": after[key]["version"]})
    for key in sorted(before.keys() - after.keys()):
        out["removed"].append({"type": key[0], "name": key[1],
                               "version": before[key]["version"]})
    for key in sorted(before.keys() & after.keys()):
        was, now = str(before[key].get("version", "")), str(after[key].get("version", ""))
        if was == now:
            continue
        order = _compare(str(after[key].get("purl") or ""), was, now)
        bucket = "downgraded" if order > 0 else "upgraded"
        out[bucket].append({"type": key[0], "name": key[1], "from": was, "to": now})
    return out


def _finding_key(f: dict[str, Any]) -> tuple[str, str, str, str]:
    # Fingerprints carry layer digests, which change with every build: compare what the
    # finding is about instead.
    return (str(f.get("kind", "")), str(f.get("id", "")), str(f.get("package", "")),
            str(f.get("path", "")) if f.get("kind") != "vulnerability" else "")


def diff_findings(old: Iterable[dict[str, Any]], new: Iterable[dict[str, Any]]
                  ) -> dict[str, list[dict[str, Any]]]:
    """Findings new in the later build and fixed since the earlier one."""
    before = {_finding_key(f): f for f in old}
    after = {_finding_key(f): f for f in new}
    order = sorted  # deterministic output
    return {"new": [after[k] for k in order(after.keys() - before.keys())],
            "fixed": [before[k] for k in order(before.keys() - after.keys())]}


def diff_config(old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
    """Configuration drift: run-time fields that changed; Env and Labels by name only."""
    drift = []
    for name in DRIFT_FIELDS:
        if old.get(name) != new.get(name):
            drift.append({"field": name, "before": old.get(name), "after": new.get(name)})
    for name in ("Env", "Labels"):
        was, now = _named(old.get(name)), _named(new.get(name))
        added, removed = sorted(now.keys() - was.keys()), sorted(was.keys() - now.keys())
        changed = sorted(k for k in was.keys() & now.keys() if was[k] != now[k])
        if added or removed or changed:
            # values may be secrets: name them, never show them
            drift.append({"field": name, "added": added, "removed": removed,
                          "changed": changed})
    return drift


def _named(value: Any) -> dict[str, str]:
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    if isinstance(value, list):
        return dict(str(item).partition("=")[::2] for item in value)  # type: ignore[misc]
    return {}


def diff_builds(old_packages: Iterable[dict[str, Any]], new_packages: Iterable[dict[str, Any]],
                old_findings: Iterable[dict[str, Any]], new_findings: Iterable[dict[str, Any]],
                old_config: dict[str, Any], new_config: dict[str, Any]) -> dict[str, Any]:
    """The whole diff between two builds, with a summary of counts."""
    packages = diff_packages(old_packages, new_packages)
    findings = diff_findings(old_findings, new_findings)
    config = diff_config(old_config, new_config)
    summary = {**{f"packages_{k}": len(v) for k, v in packages.items()},
               "findings_new": len(findings["new"]), "findings_fixed": len(findings["fixed"]),
               "config_drift": len(config)}
    return {"summary": summary, "packages": packages, "findings": findings, "config": config}


def is_noteworthy(summary: dict[str, int]) -> bool:
    """Whether a diff is worth an alert (anything but an identical rebuild)."""
    return any(summary.values())
