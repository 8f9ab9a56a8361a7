"""The admission policy file: what the webhook denies, warns about, or lets through.

```yaml
version: 1
mode: audit                      # or enforce (the --mode flag wins)
exclude_namespaces: [kube-system]
misconfig:
  deny: high                     # checks of this severity or worse deny (`none`: never)
  warn: medium                   # below `deny`, this severity or worse warns (`none`: never)
  skip: [SW-K8S-042]             # check ids (globs) not applied
  policy_dir: policies           # CEL checks, relative to this file
images:
  allowed_registries: [ghcr.io/acme, registry.internal:5000]
  exempt: ["registry.k8s.io/pause:*"]
  untrusted_registry: deny       # deny | warn | allow
  tag_not_digest: warn
  unscanned: deny
  max_scan_age_days: 30
  gate: {fail_on: critical, rules: [...]}   # as in stackwarden.yaml
```

Every problem is a PolicyError naming `file:line` (exit 2 at start): a typo must never turn
a control off silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from stackwarden.core.findings import Severity
from stackwarden.policy.gate import GatePolicy, fail_on_rule, parse_gate_section
from stackwarden.policy.loader import Fields, load_yaml
from stackwarden.policy.model import PolicyError

MODES = ("enforce", "audit")
ACTIONS = ("deny", "warn", "allow")
_TOP = ("version", "mode", "exclude_namespaces", "misconfig", "images")
_MISCONFIG = ("deny", "warn", "skip", "policy_dir")
_IMAGES = ("allowed_registries", "exempt", "untrusted_registry", "tag_not_digest", "unscanned",
           "max_scan_age_days", "gate")


@dataclass(frozen=True, slots=True)
class MisconfigRules:
    """Which misconfiguration findings deny and which warn."""

    deny: Severity | None = Severity.HIGH
    warn: Severity | None = Severity.MEDIUM
    skip: tuple[str, ...] = ()
    policy_dir: Path | None = None

    def action(self, severity: Severity) -> str:
        """deny, warn or allow for a finding of this severity."""
        if self.deny is not None and severity.rank >= self.deny.rank:
            return "deny"
        if self.warn is not None and severity.rank >= self.warn.rank:
            return "warn"
        return "allow"


@dataclass(frozen=True, slots=True)
class ImageRules:
    """The image gate: registries, digests, scan results."""

    allowed_registries: tuple[str, ...] = ()
    exempt: tuple[str, ...] = ()
    untrusted_registry: str = "deny"
    tag_not_digest: str = "warn"
    unscanned: str = "deny"
    max_scan_age_days: float | None = None
    gate: GatePolicy = field(default_factory=lambda: GatePolicy(
        rules=(fail_on_rule(Severity.CRITICAL, "default"),)))


@dataclass(frozen=True, slots=True)
class AdmissionPolicy:
    """Everything the webhook decides with (defaults when no file is given)."""

    mode: str = "audit"
    exclude_namespaces: tuple[str, ...] = ()
    misconfig: MisconfigRules = field(default_factory=MisconfigRules)
    images: ImageRules = field(default_factory=ImageRules)
    origin: str = "built-in defaults"

    def with_mode(self, mode: str | None) -> AdmissionPolicy:
        """The policy with `mode` replaced (the --mode flag)."""
        if mode is None:
            return self
        if mode not in MODES:
            raise PolicyError(f"unknown mode {mode!r} (choose from {', '.join(MODES)})",
                              source="--mode")
        return replace(self, mode=mode)


def _severity_or_none(fields: Fields, key: str, default: Severity | None) -> Severity | None:
    if key not in fields.node:
        return default
    if str(fields.node[key]).strip().lower() == "none":
        return None
    return fields.severity(key)


def _action(fields: Fields, key: str, default: str) -> str:
    value = fields.text(key, default=default).lower()
    if value not in ACTIONS:
        fields.fail(f"{key!r} must be one of {', '.join(ACTIONS)}", key)
    return value


def _misconfig(path: Path, raw: object, line: int) -> MisconfigRules:
    fields = Fields(path, raw, "the 'misconfig' section", line)
    fields.only(_MISCONFIG)
    base = MisconfigRules()
    policy_dir = fields.text("policy_dir")
    rules = MisconfigRules(deny=_severity_or_none(fields, "deny", base.deny),
                           warn=_severity_or_none(fields, "warn", base.warn),
                           skip=fields.texts("skip"),
                           policy_dir=(path.parent / policy_dir) if policy_dir else None)
    if rules.policy_dir is not None and not rules.policy_dir.is_dir():
        fields.fail(f"policy_dir {str(rules.policy_dir)!r} is not a directory", "policy_dir")
    return rules


def _images(path: Path, raw: object, line: int) -> ImageRules:
    fields = Fields(path, raw, "the 'images' section", line)
    fields.only(_IMAGES)
    base = ImageRules()
    gate_raw = fields.node.get("gate")
    gate = base.gate if gate_raw is None else parse_gate_section(
        path, gate_raw, fields.line, keys=("fail_on", "rules"))
    registries = fields.texts("allowed_registries")
    for entry in registries:
        if "://" in entry or entry.endswith("/"):
            fields.fail(f"allowed registry {entry!r}: give HOST[:PORT][/PATH] without a scheme "
                        "or a trailing slash", "allowed_registries")
    return ImageRules(allowed_registries=registries, exempt=fields.texts("exempt"),
                      untrusted_registry=_action(fields, "untrusted_registry",
                                                 base.untrusted_registry),
                      tag_not_digest=_action(fields, "tag_not_digest", base.tag_not_digest),
                      unscanned=_action(fields, "unscanned", base.unscanned),
                      max_scan_age_days=fields.number("max_scan_age_days"), gate=gate)


def load_admission_policy(path: Path) -> AdmissionPolicy:
    """Parse an admission policy file; a bad one is a PolicyError naming the file and line."""
    doc = load_yaml(path, "admission policy")
    if doc is None:
        return AdmissionPolicy(origin=str(path))
    top = Fields(path, doc, "the admission policy")
    top.only(_TOP)
    top.number("version", minimum=1, maximum=1, integer=True)
    mode = top.text("mode", default="audit").lower()
    if mode not in MODES:
        top.fail(f"'mode' must be one of {', '.join(MODES)}", "mode")
    misconfig_raw, images_raw = top.node.get("misconfig"), top.node.get("images")
    return AdmissionPolicy(
        mode=mode, exclude_namespaces=top.texts("exclude_namespaces"),
        misconfig=MisconfigRules() if misconfig_raw is None else _misconfig(
            path, misconfig_raw, top.line),
        images=ImageRules() if images_raw is None else _images(path, images_raw, top.line),
        origin=str(path))
