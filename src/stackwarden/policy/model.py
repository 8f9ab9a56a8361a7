"""What policy adds to a scan result: annotated suppressions, and the error for bad policy files."""

from __future__ import annotations

from dataclasses import dataclass

from stackwarden.core.errors import UsageError
from stackwarden.scan import Suppressed


class PolicyError(UsageError):
    """A policy, ignore or VEX file cannot be read or is invalid (source is `file:line`)."""


@dataclass(frozen=True, slots=True)
class PolicySuppressed(Suppressed):
    """A finding suppressed by an ignore entry or a VEX statement, with where that came from."""

    source: str = ""  # "ignore" or "vex"
    origin: str = ""  # the file (and line) holding the entry or statement
    status: str = ""  # VEX status: "not_affected" or "fixed"
    justification: str = ""  # VEX justification (OpenVEX or CycloneDX vocabulary)
    expires: str = ""  # ignore entries: the last day (or moment) the entry suppresses
