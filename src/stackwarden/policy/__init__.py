"""Policy: ignore files, VEX statements and the gate, applied to a scan result.

The one call: `apply_policy(result, ignore=..., vex=..., gate=...) -> (result, decision)`;
`load_policy(...)` reads and checks the files the command line (or the working directory) names.
"""

from __future__ import annotations

from stackwarden.policy.apply import Policy, apply_policy, load_policy
from stackwarden.policy.gate import (
    GateDecision,
    GatePolicy,
    PolicyFile,
    Rule,
    RuleOutcome,
    evaluate_gate,
    load_policy_file,
    with_flags,
)
from stackwarden.policy.ignore import IgnoreEntry, IgnoreFile, load_ignore_file
from stackwarden.policy.model import PolicyError, PolicySuppressed
from stackwarden.policy.vex import VexDocument, VexStatement, load_vex, load_vex_files

__all__ = [
    "GateDecision", "GatePolicy", "IgnoreEntry", "IgnoreFile", "Policy", "PolicyError",
    "PolicyFile", "PolicySuppressed", "Rule", "RuleOutcome", "VexDocument", "VexStatement",
    "apply_policy", "evaluate_gate", "load_ignore_file", "load_policy", "load_policy_file",
    "load_vex", "load_vex_files", "with_flags",
]
