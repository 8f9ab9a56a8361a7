"""Server configuration: defaults, then a TOML file, then STACKWARDEN_SERVER_* variables."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from stackwarden.core.errors import UsageError

CONFIG_ENV = "STACKWARDEN_SERVER_CONFIG"


def default_data_dir() -> Path:
    """Where the embedded database and the signing key live ($XDG_DATA_HOME/stackwarden)."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(Path.home(), ".local", "share")
    return Path(base) / "stackwarden" / "server"


class ServerSettings(BaseSettings):
    """Every server setting; each is also `STACKWARDEN_SERVER_<NAME>` (docs/server.md)."""

    model_config = SettingsConfigDict(env_prefix="STACKWARDEN_SERVER_", extra="forbid")

    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 8080
    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: str = ""  # empty: SQLite file data_dir/stackwarden.db
    broker_url: str = ""  # empty: in-process jobs; redis://… : Celery
    job_queue: str = "stackwarden"  # the Celery queue the API sends to and workers read
    signing_key: Path | None = None  # empty: data_dir/audit-signing-key.pem
    trusted_public_keys: list[Path] = []  # earlier signing keys whose checkpoints still count
    migrate_on_start: bool = True
    max_report_bytes: Annotated[int, Field(gt=0)] = 64 * 1024 * 1024
    checkpoint_every: Annotated[int, Field(gt=0)] = 100  # sign a tree head every N audit entries
    login_max_failures: Annotated[int, Field(gt=0)] = 5
    login_window_seconds: Annotated[int, Field(gt=0)] = 300
    session_hours: Annotated[float, Field(gt=0)] = 12.0
    job_threads: Annotated[int, Field(gt=0)] = 2  # in-process runner
    vulndb_path: Path | None = None  # for re-matching SBOMs; empty: the scanner's default
    log_level: str = "info"
    # registry monitoring (docs/registry-monitoring.md)
    credentials_key: str = Field("", repr=False)  # base64 AES-256 key; empty: the key file
    credentials_key_file: Path | None = None  # empty: data_dir/registry-credentials.key
    registry_watch: bool = True  # the API process queues due sweeps and re-matches
    registry_tick_seconds: Annotated[float, Field(gt=0)] = 30.0
    registry_timeout: Annotated[float, Field(gt=0)] = 30.0  # seconds, connect and each read
    registry_retries: Annotated[int, Field(ge=0, le=10)] = 3  # after errors, 429 and 5xx
    registry_backoff: Annotated[float, Field(ge=0)] = 1.0  # first wait; doubles each retry
    scan_cache_dir: Path | None = None  # per-layer scan cache; empty: data_dir/scan-cache
    # host agents (docs/agent.md)
    agent_silent_seconds: Annotated[int, Field(gt=0)] = 300  # no word for this long: silent
    agent_watch_seconds: Annotated[float, Field(gt=0)] = 30.0  # how often silence is checked
    incident_window_seconds: Annotated[int, Field(gt=0)] = 3600  # alerts this close: one incident
    # dashboard and notifications (docs/dashboard.md, docs/notifications.md)
    public_url: str = ""  # how people reach the dashboard: links in notifications
    cookie_secure: bool = True  # false only for plain-HTTP trials: browsers then send it in clear
    notify_poll_seconds: Annotated[float, Field(gt=0)] = 5.0
    notify_retry_seconds: Annotated[float, Field(gt=0)] = 30.0  # first back-off; x4 each retry
    notify_max_attempts: Annotated[int, Field(gt=0, le=20)] = 6
    notify_timeout_seconds: Annotated[float, Field(gt=0)] = 10.0

    def resolved_database_url(self) -> str:
        """The database URL, defaulting to the embedded SQLite file."""
        return self.database_url or f"sqlite:///{self.data_dir / 'stackwarden.db'}"

    def signing_key_path(self) -> Path:
        """The Ed25519 key file that signs audit checkpoints."""
        return self.signing_key or self.data_dir / "audit-signing-key.pem"

    def credentials_key_path(self) -> Path:
        """The file holding the key that seals registry credentials (made on first use)."""
        return self.credentials_key_file or self.data_dir / "registry-credentials.key"

    def scan_cache_path(self) -> Path:
        """Where registry scans keep per-layer results (shared by workers on one host)."""
        return self.scan_cache_dir or self.data_dir / "scan-cache"

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings],
                                   init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource,
                                   dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource,
                                   ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Command-line flags beat environment variables, which beat the config file."""
        config = os.environ.get(CONFIG_ENV)
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if config:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(config)))
        return tuple(sources)


def load_settings(config: Path | None = None, **overrides: Any) -> ServerSettings:
    """Settings from the file (`config` or $STACKWARDEN_SERVER_CONFIG), env and `overrides`."""
    given = {k: v for k, v in overrides.items() if v is not None}
    previous = os.environ.get(CONFIG_ENV)
    try:
        if config is not None:
            if not config.is_file():
                raise UsageError("configuration file not found", source=str(config))
            os.environ[CONFIG_ENV] = str(config)
        elif previous and not Path(previous).is_file():
            raise UsageError("configuration file not found", source=previous)
        return ServerSettings(**given)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                             for e in exc.errors())
        raise UsageError(f"invalid server configuration: {problems}") from None
    except ValueError as exc:  # a TOML syntax error
        raise UsageError(f"invalid configuration file: {exc}",
                         source=str(config or previous)) from None
    finally:
        if config is not None:
            if previous is None:
                os.environ.pop(CONFIG_ENV, None)
            else:
                os.environ[CONFIG_ENV] = previous
