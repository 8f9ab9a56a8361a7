"""Apply policy to a scan result: VEX, then the ignore file, then the gate.

Policy never changes a finding. A finding a VEX statement or ignore entry covers moves, unchanged,
from `findings` to `suppressed` with the reason and where it came from; expired ignore entries
become warnings; the gate then decides on what is left.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from stackwarden.core.findings import Finding
from stackwarden.policy.gate import (
    DEFAULT_POLICY_FILE,
    GateDecision,
    GatePolicy,
    evaluate_gate,
    load_policy_file,
    with_flags,
)
from stackwarden.policy.ignore import DEFAULT_IGNORE_FILE, IgnoreFile, load_ignore_file
from stackwarden.policy.model import PolicyError, PolicySuppressed
from stackwarden.policy.vex import VexDocument, decide, load_vex_files
from stackwarden.scan import ScanResult, Suppressed


@dataclass(frozen=True, slots=True)
class Policy:
    """Everything `apply_policy` needs, loaded and checked up front."""

    ignore: IgnoreFile | None = None
    vex: tuple[VexDocument, ...] = ()
    gate: GatePolicy = field(default_factory=GatePolicy)


def _suppression(f: Finding, result: ScanResult, ignore: IgnoreFile | None,
                 vex: Sequence[VexDocument], now: datetime) -> Suppressed | None:
    statement = decide(f, result.sbom.artifact, vex) if vex else None
    if statement is not None and statement.suppresses:
        return PolicySuppressed(f, statement.reason(), source="vex", origin=statement.origin,
                                status=statement.status, justification=statement.justification)
    entry = ignore.match(f, now) if ignore else None
    if entry is not None:
        return PolicySuppressed(f, f"ignored: {entry.reason}", source="ignore",
                                origin=entry.origin,
                                expires=entry.expires.date().isoformat() if entry.expires
                                else "")
    return None


def apply_policy(result: ScanResult, *, ignore: IgnoreFile | None = None,
                 vex: Sequence[VexDocument] = (), gate: GatePolicy | None = None,
                 now: datetime | None = None) -> tuple[ScanResult, GateDecision]:
    """The result with policy applied (a new object; the input is untouched) and the decision."""
    now = now or datetime.now(UTC)
    kept: list[Finding] = []
    suppressed: list[Suppressed] = list(result.suppressed)
    for f in result.findings:
        suppression = _suppression(f, result, ignore, vex, now)
        if suppression is None:
            kept.append(f)
        else:
            suppressed.append(suppression)
    warnings = list(result.warnings)
    if ignore is not None:
        warnings += ignore.expiry_warnings(result.findings, now)
    applied = replace(result, findings=kept, suppressed=suppressed, warnings=warnings)
    decision = evaluate_gate(applied, gate or GatePolicy(), now)
    if decision.warned:
        applied.warnings.extend(f"policy rule {o.rule}: {o.message}" for o in decision.warned)
    return applied, decision


def _existing(path: Path | None) -> Path | None:
    return path if path is not None and path.is_file() else None


def load_policy(*, policy_file: Path | None = None, ignore_file: Path | None = None,
                vex_files: Sequence[Path] = (), fail_on: str | None = None,
                exit_code: int | None = None, cwd: Path | None = None) -> Policy:
    """Load what the command line names, falling back to `stackwarden.yaml` and
    `.stackwardenignore` in the working directory; any bad file is a PolicyError (exit 2)."""
    cwd = cwd or Path.cwd()
    if policy_file is not None and not policy_file.is_file():
        raise PolicyError("no such policy file", source=str(policy_file))
    if ignore_file is not None and not ignore_file.is_file():
        raise PolicyError("no such ignore file", source=str(ignore_file))
    for path in vex_files:
        if not path.is_file():
            raise PolicyError("no such VEX document", source=str(path))
    chosen = policy_file or _existing(cwd / DEFAULT_POLICY_FILE)
    parsed = load_policy_file(chosen) if chosen else None
    gate = parsed.gate if parsed else GatePolicy()
    named_ignore = ignore_file or (parsed.ignore_file if parsed else None)
    if named_ignore is not None and not named_ignore.is_file():
        raise PolicyError("no such ignore file (named by the policy file)",
                          source=str(named_ignore))
    ignore_path = named_ignore or _existing(cwd / DEFAULT_IGNORE_FILE)
    vex_paths = [*(parsed.vex if parsed else ()), *vex_files]
    for path in vex_paths:
        if not path.is_file():
            raise PolicyError("no such VEX document (named by the policy file)", source=str(path))
    return Policy(ignore=load_ignore_file(ignore_path) if ignore_path else None,
                  vex=tuple(load_vex_files(vex_paths)),
                  gate=with_flags(gate, fail_on=fail_on, exit_code=exit_code))
