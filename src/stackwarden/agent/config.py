"""The agent's configuration: pushed by the server (`GET /api/v1/agents/config`, with an ETag),
validated here by the agent and by the server before it accepts a change, cached in the state
directory so the agent starts with its last good configuration when the server is away.

Keys (docs/agent.md): `heartbeat_interval`, `config_refresh_interval`, `transport.*` and one
section per collector under `collectors` (each validated by its collector's `Settings`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from stackwarden.agent.collectors import COLLECTORS, parse_settings
from stackwarden.agent.interface import CollectorError, CollectorSettings
from stackwarden.core.errors import StackWardenError

MIB = 1024 * 1024


class ConfigError(StackWardenError):
    """An agent configuration is malformed; the message names the key."""


class TransportSettings(BaseModel):
    """How events travel: batch sizes, time-outs, back-off, how much the disk queue may hold."""

    model_config = ConfigDict(extra="forbid")
    batch_max_events: int = Field(500, ge=1, le=5000)
    batch_max_bytes: int = Field(MIB, ge=1024, le=32 * MIB)  # JSON before compression
    timeout: float = Field(30.0, gt=0, le=600)
    backoff_initial: float = Field(1.0, gt=0, le=3600)
    backoff_max: float = Field(300.0, gt=0, le=86400)
    queue_max_bytes: int = Field(512 * MIB, ge=MIB)


class AgentConfigModel(BaseModel):
    """The document's top level (collector sections are checked by their collectors)."""

    model_config = ConfigDict(extra="forbid")
    schema_version: Literal[1] = 1
    heartbeat_interval: float = Field(60.0, ge=1, le=86400)
    config_refresh_interval: float = Field(300.0, ge=1, le=86400)
    transport: TransportSettings = Field(default_factory=TransportSettings)
    collectors: dict[str, dict[str, Any]] = Field(default_factory=dict)


DEFAULT_COLLECTORS: Mapping[str, Mapping[str, Any]] = {
    "logs": {"enabled": True},
    "host_vulnerabilities": {"enabled": True},
    "fim": {"enabled": True},
    "inventory": {"enabled": True},
}


@dataclass(frozen=True)
class AgentConfig:
    """A validated configuration: the top level, each known collector's settings, and what
    this agent version does not know (reported, not fatal: the server may be newer)."""

    model: AgentConfigModel
    collectors: Mapping[str, CollectorSettings]
    unknown_collectors: tuple[str, ...]
    document: Mapping[str, Any]

    @property
    def etag(self) -> str:
        """The strong ETag the server gives this document."""
        return config_etag(self.document)

    @property
    def transport(self) -> TransportSettings:
        """Transport settings."""
        return self.model.transport


def canonical(document: Mapping[str, Any]) -> bytes:
    """Stable JSON bytes (sorted keys, no spaces): what the ETag is computed over."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode()


def config_etag(document: Mapping[str, Any]) -> str:
    """`"<sha256 prefix>"` of the canonical document."""
    return '"' + hashlib.sha256(canonical(document)).hexdigest()[:32] + '"'


def default_document() -> dict[str, Any]:
    """The configuration an agent gets when the server sets nothing."""
    return {"schema_version": 1, "collectors": {k: dict(v) for k, v in DEFAULT_COLLECTORS.items()}}


def merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """`override` on top of `base`, recursively for mappings (lists and values replace)."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def parse_config(document: Any, *, strict: bool = False) -> AgentConfig:
    """Validate a configuration document. `strict` (the server) refuses collectors this version
    does not know; the agent skips them (and says so)."""
    if not isinstance(document, Mapping):
        raise ConfigError("the agent configuration is not a JSON object")
    try:
        model = AgentConfigModel.model_validate(dict(document))
    except ValidationError as exc:
        err = exc.errors(include_input=False, include_url=False)[0]
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        raise ConfigError(f"{where}: {err['msg']}") from None
    collectors: dict[str, CollectorSettings] = {}
    unknown = []
    for name, raw in sorted(model.collectors.items()):
        if name not in COLLECTORS:
            unknown.append(name)
            continue
        if not isinstance(raw, Mapping):
            raise ConfigError(f"collectors.{name}: expected an object")
        try:
            collectors[name] = parse_settings(name, raw)
        except CollectorError as exc:
            raise ConfigError(exc.message) from None
    if strict and unknown:
        raise ConfigError(f"collectors.{unknown[0]}: unknown collector (known: "
                          f"{', '.join(sorted(COLLECTORS))})")
    return AgentConfig(model, collectors, tuple(unknown), dict(document))
