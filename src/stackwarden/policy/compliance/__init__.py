"""Compliance frameworks as data: each YAML file in `frameworks/` maps a framework's controls
to the evidence checks that decide them (docs/compliance.md). This module loads and validates
them and holds the result model; the server evaluates the checks against its records
(`stackwarden.server.compliance`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from stackwarden.core.errors import UsageError

FRAMEWORKS_DIR = Path(__file__).parent / "frameworks"
STATUSES = ("pass", "fail", "not_assessed")
# Each check type and the parameters it takes (anything else in the YAML is an error).
CHECK_PARAMS: dict[str, frozenset[str]] = {
    "scanner_ran": frozenset({"kind", "within_days"}),
    "scan_coverage": frozenset({"kind", "within_days", "asset_kinds"}),
    "inventory": frozenset({"within_days"}),
    "no_open_findings": frozenset({"kind", "min_severity", "older_than_days", "fix_available",
                                   "kev", "controls"}),
    "audit_trail": frozenset({"actions", "within_days"}),
    "audit_chain": frozenset({"checkpoint_within_days"}),
    "agents_reporting": frozenset({"collector", "within_days"}),
}


@dataclass(frozen=True, slots=True)
class EvidenceSpec:
    """One check that decides (part of) a control."""

    check: str
    params: dict[str, Any] = field(hash=False)


@dataclass(frozen=True, slots=True)
class Control:
    """A control of a framework and the checks that decide it."""

    id: str
    title: str
    evidence: tuple[EvidenceSpec, ...]


@dataclass(frozen=True, slots=True)
class Framework:
    """A framework: its id (the file name), name and controls in document order."""

    id: str
    name: str
    url: str
    controls: tuple[Control, ...]


@dataclass(frozen=True, slots=True)
class Evidence:
    """What one check found: its status, a sentence, the data's date and the query it ran."""

    check: str
    status: str
    detail: str
    as_of: str | None  # ISO date of the newest data the check looked at
    query: dict[str, Any] = field(hash=False)
    items: tuple[str, ...] = ()  # examples (failing assets, findings, problems)


@dataclass(frozen=True, slots=True)
class ControlResult:
    """A control's status, decided from its evidence."""

    control: Control
    status: str
    evidence: tuple[Evidence, ...]


def combine(statuses: list[str]) -> str:
    """fail if any check failed; pass if the rest passed and one did; else not assessed."""
    if "fail" in statuses:
        return "fail"
    return "pass" if "pass" in statuses else "not_assessed"


def framework_ids() -> list[str]:
    """The frameworks shipped, by id."""
    return sorted(p.stem for p in FRAMEWORKS_DIR.glob("*.yaml"))


def load_framework(name: str) -> Framework:
    """A shipped framework by id (e.g. `pci-dss-4`), or a YAML file path."""
    path = Path(name) if name.endswith((".yaml", ".yml")) else FRAMEWORKS_DIR / f"{name}.yaml"
    if not path.is_file():
        raise UsageError(f"unknown framework {name!r} (known: {', '.join(framework_ids())})",
                         source="--framework")
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise UsageError(f"cannot read the framework: {exc}", source=str(path)) from None
    return parse_framework(doc, str(path))


def parse_framework(doc: Any, source: str) -> Framework:
    """Validate a framework document; every problem names the control and the field."""
    if not isinstance(doc, dict) or not isinstance(doc.get("controls"), list):
        raise UsageError("a framework is a mapping with `id`, `name` and a `controls` list",
                         source=source)
    controls = []
    seen: set[str] = set()
    for i, raw in enumerate(doc["controls"]):
        where = f"controls[{i}]"
        if not isinstance(raw, dict) or not raw.get("id") or not raw.get("title"):
            raise UsageError(f"{where}: a control needs `id` and `title`", source=source)
        cid = str(raw["id"])
        if cid in seen:
            raise UsageError(f"{where}: control {cid} appears twice", source=source)
        seen.add(cid)
        specs = []
        for j, ev in enumerate(raw.get("evidence") or []):
            check = ev.get("check") if isinstance(ev, dict) else None
            if check not in CHECK_PARAMS:
                raise UsageError(f"{where} ({cid}) evidence[{j}]: unknown check {check!r} "
                                 f"(one of {', '.join(CHECK_PARAMS)})", source=source)
            params = {k: v for k, v in ev.items() if k != "check"}
            unknown = sorted(set(params) - CHECK_PARAMS[check])
            if unknown:
                raise UsageError(f"{where} ({cid}) evidence[{j}]: {check} takes no "
                                 f"{', '.join(unknown)}", source=source)
            specs.append(EvidenceSpec(check, params))
        if not specs:
            raise UsageError(f"{where} ({cid}): no evidence checks", source=source)
        controls.append(Control(cid, str(raw["title"]), tuple(specs)))
    return Framework(str(doc.get("id") or Path(source).stem), str(doc.get("name") or ""),
                     str(doc.get("url") or ""), tuple(controls))
