"""The gate: which findings fail the pipeline, decided by `--fail-on` and `stackwarden.yaml` rules.

The gate reads only the findings left after suppression; it never changes them. Its decision
names every rule that failed, with the findings that made it fail. The policy file schema is
documented in docs/ci.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from stackwarden.core.findings import Finding, FindingKind, Severity
from stackwarden.policy.loader import Fields, load_yaml, parse_severity
from stackwarden.policy.match import (
    FILE_TYPES,
    file_type,
    id_matches,
    package_matches,
    path_matches,
)
from stackwarden.report.text import subject_text
from stackwarden.scan import ScanResult, database_age_days

DEFAULT_POLICY_FILE = "stackwarden.yaml"
DEFAULT_EXIT_CODE = 1
_WHEN_KEYS = ("kind", "severity", "min_severity", "ids", "kev", "fix_available", "epss_min",
              "paths", "file_type", "packages")


@dataclass(frozen=True, slots=True)
class Condition:
    """What a finding must be for a rule to count it (every given field must hold)."""

    kinds: tuple[str, ...] = ()
    severities: tuple[Severity, ...] = ()
    min_severity: Severity | None = None
    ids: tuple[str, ...] = ()
    kev: bool | None = None
    fix_available: bool | None = None
    epss_min: float | None = None
    paths: tuple[str, ...] = ()
    file_types: tuple[str, ...] = ()
    packages: tuple[str, ...] = ()

    def matches(self, f: Finding) -> bool:
        """Whether the finding meets every condition."""
        return (
            (not self.kinds or str(f.kind) in self.kinds)
            and (not self.severities or f.severity in self.severities)
            and (self.min_severity is None or f.severity.rank >= self.min_severity.rank)
            and (not self.ids or any(id_matches(i, f) for i in self.ids))
            and (self.kev is None or f.in_kev == self.kev)
            and (self.fix_available is None or bool(f.fixed_versions) == self.fix_available)
            and (self.epss_min is None or (f.epss is not None and f.epss[0] >= self.epss_min))
            and (not self.paths or any(path_matches(p, f.location.path) for p in self.paths))
            and (not self.file_types or file_type(f) in self.file_types)
            and (not self.packages or any(package_matches(p, f.package) for p in self.packages))
        )


@dataclass(frozen=True, slots=True)
class Rule:
    """A named gate rule: any finding meeting `when` fails the gate (or only warns)."""

    name: str
    when: Condition
    action: str = "fail"  # "fail" or "warn"
    description: str = ""
    origin: str = ""  # file:line, or the flag that made it


@dataclass(frozen=True, slots=True)
class GatePolicy:
    """Everything the gate decides with."""

    rules: tuple[Rule, ...] = ()
    max_db_age_days: float | None = None
    exit_code: int = DEFAULT_EXIT_CODE
    origin: str = ""  # the policy file, when one was read

    @property
    def empty(self) -> bool:
        """True when nothing can fail the gate."""
        return not self.rules and self.max_db_age_days is None


@dataclass(frozen=True, slots=True)
class PolicyFile:
    """A parsed `stackwarden.yaml`: the gate, plus the ignore file and VEX documents it names."""

    path: Path
    gate: GatePolicy
    ignore_file: Path | None = None
    vex: tuple[Path, ...] = ()


@dataclass(frozen=True, slots=True)
class RuleOutcome:
    """One rule that failed (or warned), why, and the findings that made it."""

    rule: str
    message: str
    origin: str = ""
    findings: tuple[Finding, ...] = ()


@dataclass(frozen=True, slots=True)
class GateDecision:
    """Passed or failed, with the rules that failed; `exit_code` is what the CLI exits with."""

    passed: bool
    exit_code: int
    failed: tuple[RuleOutcome, ...] = ()
    warned: tuple[RuleOutcome, ...] = field(default=())

    @property
    def rule(self) -> str | None:
        """The first rule that failed."""
        return self.failed[0].rule if self.failed else None

    def to_dict(self) -> dict[str, Any]:
        """The decision as the server stores it (`gate` key of an uploaded report)."""
        return {"passed": self.passed, "failed": [
            {"rule": o.rule, "message": o.message, "origin": o.origin,
             "findings": len(o.findings)} for o in self.failed]}

    def summary(self) -> list[str]:
        """One line per failed rule, for the terminal."""
        return [f"gate failed: {o.rule}" + (f" ({o.origin})" if o.origin else "")
                + f": {o.message}" for o in self.failed]


def fail_on_rule(severity: Severity, origin: str = "--fail-on") -> Rule:
    """The rule `--fail-on SEVERITY` stands for: any finding at or above it."""
    return Rule(name=f"fail-on-{severity}", when=Condition(min_severity=severity),
                description=f"any finding of severity {severity} or worse", origin=origin)


def _condition(fields: Fields) -> Condition:
    fields.only(_WHEN_KEYS)
    kinds = tuple(k.lower() for k in fields.texts("kind"))
    valid = {k.value for k in FindingKind}
    for kind in kinds:
        if kind not in valid:
            fields.fail(f"unknown kind {kind!r} (choose from {', '.join(sorted(valid))})", "kind")
    file_types = tuple(t.lower() for t in fields.texts("file_type"))
    for name in file_types:
        if name not in FILE_TYPES:
            fields.fail(f"unknown file_type {name!r} (choose from {', '.join(FILE_TYPES)})",
                        "file_type")
    return Condition(kinds=kinds, severities=fields.severities("severity"),
                     min_severity=fields.severity("min_severity"), ids=fields.texts("ids"),
                     kev=fields.flag("kev"), fix_available=fields.flag("fix_available"),
                     epss_min=fields.number("epss_min", maximum=1.0),
                     paths=fields.texts("paths"), file_types=file_types,
                     packages=fields.texts("packages"))


def _rule(path: Path, raw: object, line: int, names: set[str]) -> Rule:
    fields = Fields(path, raw, "a gate rule", line)
    fields.only(("name", "description", "action", "when"))
    name = fields.text("name", required=True)
    if name in names:
        fields.fail(f"two rules are named {name!r}", "name")
    names.add(name)
    action = fields.text("action", default="fail").lower()
    if action not in ("fail", "warn"):
        fields.fail("'action' must be fail or warn", "action")
    when = fields.node.get("when")
    condition = Condition() if when is None else _condition(
        Fields(path, when, f"the 'when' of rule {name!r}", fields.line))
    return Rule(name=name, when=condition, action=action,
                description=fields.text("description"), origin=fields.where())


def load_policy_file(path: Path) -> PolicyFile:
    """Parse `stackwarden.yaml`; a bad one is a PolicyError naming the file and line."""
    doc = load_yaml(path, "policy file")
    if doc is None:
        return PolicyFile(path, GatePolicy(origin=str(path)))
    top = Fields(path, doc, "the policy file")
    top.only(("version", "gate", "ignore_file", "vex"))
    top.number("version", minimum=1, maximum=1, integer=True)
    base = path.parent
    ignore_file = top.text("ignore_file")
    vex = tuple(base / v for v in top.texts("vex"))
    gate_raw = top.node.get("gate")
    policy = GatePolicy(origin=str(path)) if gate_raw is None else \
        parse_gate_section(path, gate_raw, top.line)
    return PolicyFile(path, policy, base / ignore_file if ignore_file else None, vex)


def parse_gate_section(path: Path, raw: object, parent_line: int = 0, *,
                       keys: tuple[str, ...] = ("fail_on", "exit_code", "max_db_age_days",
                                                "rules")) -> GatePolicy:
    """A `gate:` mapping (`fail_on`, `rules`, …) of a policy file; errors name `file:line`.

    `keys` narrows what the mapping may hold (the admission policy's image gate has no
    exit code or database age)."""
    gate = Fields(path, raw, "the 'gate' section", parent_line)
    gate.only(keys)
    rules: list[Rule] = []
    fail_on = gate.severity("fail_on")
    if fail_on is not None:
        rules.append(fail_on_rule(fail_on, gate.where("fail_on")))
    names: set[str] = {r.name for r in rules}
    rules += [_rule(path, item, line, names) for item, line in gate.items("rules")]
    exit_code = gate.number("exit_code", minimum=0, maximum=255, integer=True)
    return GatePolicy(rules=tuple(rules), max_db_age_days=gate.number("max_db_age_days"),
                      exit_code=DEFAULT_EXIT_CODE if exit_code is None else int(exit_code),
                      origin=str(path))


def with_flags(policy: GatePolicy, *, fail_on: str | None = None,
               exit_code: int | None = None) -> GatePolicy:
    """The gate after `--fail-on` (replaces the file's fail_on) and `--exit-code`.

    `--exit-code N` alone, with nothing else that could fail the gate, means "fail on any
    finding" (as in Trivy): otherwise the flag would do nothing.
    """
    rules = policy.rules
    if fail_on is not None:
        severity = parse_severity(fail_on, "--fail-on")
        rules = tuple(r for r in rules if not r.name.startswith("fail-on-")) \
            + (fail_on_rule(severity),)
    if exit_code is not None and not (0 <= exit_code <= 255):
        from stackwarden.policy.model import PolicyError

        raise PolicyError("must be between 0 and 255", source="--exit-code")
    gate = replace(policy, rules=rules,
                   exit_code=policy.exit_code if exit_code is None else exit_code)
    if exit_code is not None and gate.empty:
        gate = replace(gate, rules=(fail_on_rule(Severity.UNKNOWN, "--exit-code"),))
    return gate


def describe_findings(findings: list[Finding]) -> str:
    """`N findings: ID (subject), …` (the first three), for gate messages."""
    shown = ", ".join(f"{f.id} ({subject_text(f)})" for f in findings[:3])
    more = f" and {len(findings) - 3} more" if len(findings) > 3 else ""
    return f"{len(findings)} finding{'s' if len(findings) != 1 else ''}: {shown}{more}"


def evaluate_gate(result: ScanResult, policy: GatePolicy,
                  now: datetime | None = None) -> GateDecision:
    """Decide pass or fail for a (policy-applied) scan result."""
    failed: list[RuleOutcome] = []
    warned: list[RuleOutcome] = []
    for rule in policy.rules:
        hits = [f for f in result.findings if rule.when.matches(f)]
        if hits:
            outcome = RuleOutcome(rule.name, describe_findings(hits), rule.origin, tuple(hits))
            (failed if rule.action == "fail" else warned).append(outcome)
    if policy.max_db_age_days is not None and ("vuln" in result.scanners or result.database):
        built = result.database.get("built_at", "")
        age = database_age_days(built, now or datetime.now(UTC))
        if age is None:
            failed.append(RuleOutcome("max_db_age_days", "the vulnerability database has no "
                                      "readable build time", policy.origin))
        elif age > policy.max_db_age_days:
            failed.append(RuleOutcome(
                "max_db_age_days", f"the vulnerability database is {age:.1f} days old (built "
                f"{built}; the policy allows {policy.max_db_age_days:g})", policy.origin))
    passed = not failed
    return GateDecision(passed=passed, exit_code=0 if passed else policy.exit_code,
                        failed=tuple(failed), warned=tuple(warned))
