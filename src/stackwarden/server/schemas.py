"""The shape a submitted scan report must have (pydantic, at the API edge only).

Unknown keys are accepted and kept: the report format grows (docs/scanning.md), and a newer
scanner must still be able to upload to an older server.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from stackwarden.core.findings import Severity

SeverityName = Literal["critical", "high", "medium", "low", "negligible", "unknown"]
AssetKind = Literal["image", "repository", "host", "cluster", "filesystem"]


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class ReportPackage(_Open):
    """The package a finding is about."""

    name: str = Field(max_length=300)
    version: str = Field("", max_length=200)
    type: str = Field("", max_length=50)
    purl: str | None = Field("", max_length=1000)


class ReportFinding(_Open):
    """One finding as `report/findings_dict.py` writes it."""

    kind: str = Field(min_length=1, max_length=32, pattern=r"^[a-z][a-z0-9_-]*$")
    id: str = Field(min_length=1, max_length=200)
    title: str = Field("", max_length=5000)
    severity: SeverityName
    fingerprint: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9:._-]+$")
    package: ReportPackage | None = None
    fixed_versions: list[str] = Field(default_factory=list, max_length=1000)
    location: dict[str, Any] = Field(default_factory=dict)
    kev: dict[str, Any] | None = None
    epss: dict[str, Any] | None = None

    @property
    def severity_rank(self) -> int:
        """Higher is worse."""
        return Severity(self.severity).rank


class ReportArtifact(_Open):
    """What was scanned."""

    kind: str = Field(min_length=1, max_length=32)
    reference: str = Field("", max_length=1000)
    name: str = Field("", max_length=500)
    digest: str | None = Field(None, max_length=100)
    config_digest: str | None = Field(None, max_length=100)
    repo_tags: list[str] = Field(default_factory=list, max_length=1000)


class AssetOverride(BaseModel):
    """Name the asset explicitly (hosts, clusters), instead of deriving it from the artifact."""

    model_config = ConfigDict(extra="forbid")
    kind: AssetKind
    name: str = Field(min_length=1, max_length=500)


class ScanReport(_Open):
    """A StackWarden scan report (`stackwarden scan -f json`), schema version 1.x."""

    schema_version: str = Field(max_length=20)
    tool: dict[str, Any] = Field(default_factory=dict)
    created: str = Field("", max_length=40)
    target: str = Field("", max_length=1000)
    artifact: ReportArtifact
    scanners: list[str] = Field(default_factory=list, max_length=50)
    findings: list[ReportFinding]
    asset: AssetOverride | None = None

    @field_validator("schema_version")
    @classmethod
    def _major_one(cls, value: str) -> str:
        if value.split(".")[0] != "1":
            raise ValueError(f"unsupported schema_version {value!r} (this server reads 1.x)")
        return value
