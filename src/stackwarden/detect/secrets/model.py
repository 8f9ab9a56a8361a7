"""The secret rule model: rules, allowlists, composite requirements and the loaded rule set."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from stackwarden.core.config import MiB
from stackwarden.core.errors import UsageError
from stackwarden.core.findings import Severity
from stackwarden.detect.secrets.patterns import Translated

# Inline markers that silence a finding on their line (ours, gitleaks' and detect-secrets').
INLINE_ALLOW = (b"stackwarden:allow", b"gitleaks:allow", b"pragma: allowlist secret")


class SecretConfigError(UsageError):
    """A secret rule file is malformed; the message names the file, the rule and the field."""


@dataclass(frozen=True, slots=True)
class Allowlist:
    """Conditions under which a match is not reported (any of them, or all with `match_all`)."""

    description: str = ""
    match_all: bool = False  # gitleaks' condition = "AND"
    regexes: tuple[re.Pattern[bytes], ...] = ()
    regex_target: str = "secret"  # secret | match | line
    stopwords: tuple[bytes, ...] = ()  # lower-case substrings of the secret
    paths: tuple[re.Pattern[str], ...] = ()
    commits: tuple[str, ...] = ()
    target_rules: tuple[str, ...] = ()  # global allowlists only: limit to these rules

    def applies_to(self, rule_id: str) -> bool:
        """Whether this (global) allowlist covers `rule_id`."""
        return not self.target_rules or rule_id in self.target_rules

    def allows_path(self, path: str) -> bool:
        """True when the path alone decides (an OR allowlist with a matching path)."""
        return (not self.match_all and any(p.search(path) for p in self.paths))

    def allows(self, *, path: str, commit: str | None, secret: bytes, match: bytes,
               line: bytes) -> bool:
        """Whether this allowlist suppresses one match."""
        checks: list[bool] = []
        if self.commits:
            checks.append(bool(commit) and commit in self.commits)
        if self.paths:
            checks.append(any(p.search(path) for p in self.paths))
        if self.regexes:
            target = {"secret": secret, "match": match}.get(self.regex_target, line)
            checks.append(any(r.search(target) for r in self.regexes))
        if self.stopwords:
            lowered = secret.lower()
            checks.append(any(word in lowered for word in self.stopwords))
        if not checks:
            return False
        return all(checks) if self.match_all else any(checks)


@dataclass(frozen=True, slots=True)
class Required:
    """A composite rule's condition: another rule must match nearby."""

    rule_id: str
    within_lines: int | None = None
    within_columns: int | None = None


@dataclass(frozen=True, slots=True)
class Rule:
    """One secret type: how to find it, how to confirm it, how bad it is, where it is documented."""

    id: str
    title: str
    severity: Severity
    pattern: Translated | None  # None: a path- or magic-only rule (a whole file is the secret)
    regex: re.Pattern[bytes] | None
    secret_group: int = 0  # 0: the first non-empty group, else the whole match
    keywords: tuple[bytes, ...] = ()  # lower-case; the file must contain one (if any given)
    entropy: float = 0.0  # minimum Shannon entropy of the secret, bits per byte
    path: re.Pattern[str] | None = None  # only files whose path matches
    validate: str | None = None  # a name in validators.VALIDATORS
    magic: str | None = None  # a name in validators.MAGIC (binary files)
    reference: str = ""  # the provider's token-format documentation
    description: str = ""
    remediation: str = ""
    tags: tuple[str, ...] = ()
    allowlists: tuple[Allowlist, ...] = ()
    required: tuple[Required, ...] = ()
    skip_report: bool = False  # only feeds composite rules
    priority: int = 0  # overlapping matches keep the highest priority (generic rules < 0)
    source: str = ""  # the file that defined (or last changed) the rule


@dataclass(frozen=True, slots=True)
class Settings:
    """Limits for one scan (overridable in a rule file's [settings] table)."""

    max_file_bytes: int = 10 * MiB  # larger files are skipped, with a reason
    max_match_bytes: int = 8 * 1024  # confirmation window for unbounded user patterns
    binary_probe_bytes: int = 8 * 1024  # a NUL byte in this prefix marks a binary file


@dataclass(frozen=True, slots=True)
class RuleSet:
    """The rules in force, the global allowlists, the limits and what loading had to say."""

    rules: tuple[Rule, ...]
    allowlists: tuple[Allowlist, ...] = ()
    settings: Settings = field(default_factory=Settings)
    warnings: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()

    def rule(self, rule_id: str) -> Rule:
        """The rule with this id (KeyError if there is none)."""
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)

    def path_allowed(self, path: str) -> bool:
        """Whether a global allowlist drops this path before it is read."""
        return any(a.allows_path(path) for a in self.allowlists if not a.target_rules)
