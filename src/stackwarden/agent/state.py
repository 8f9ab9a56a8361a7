"""The agent's state directory: who it is (server, agent id, credential), its cached
configuration, its event queue, each collector's own state, and its last status.

    /var/lib/stackwarden-agent/        mode 0700
      agent.json                       server URL, agent id, host, CA file (0600)
      credential                       the agent's API token (0600, never logged)
      config.json                      the last good configuration and its ETag (0600)
      queue.db                         events not yet acknowledged (agent/transport.py)
      status.json                      what `stackwarden agent status` shows
      collectors/NAME/                 each collector's state (offsets, baselines…)

Every file is written whole (temporary file, fsync, rename) with mode 0600.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from stackwarden.core.errors import StackWardenError, UsageError

DEFAULT_STATE_DIR = Path("/var/lib/stackwarden-agent")
STATE_DIR_ENV = "STACKWARDEN_AGENT_STATE_DIR"


class AgentStateError(StackWardenError):
    """The state directory is unusable, or the agent is not enrolled."""


def now_iso() -> str:
    """Now as ISO 8601 UTC, to the second (the status file's timestamps)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def default_state_dir() -> Path:
    """$STACKWARDEN_AGENT_STATE_DIR, else /var/lib/stackwarden-agent."""
    return Path(os.environ.get(STATE_DIR_ENV) or DEFAULT_STATE_DIR)


def write_private(path: Path, data: bytes) -> None:
    """Write `data` to `path` atomically with mode 0600 (whatever the umask)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise AgentStateError(f"cannot write: {exc.strerror or exc}", source=str(path)) from exc


def read_json(path: Path) -> Any:
    """A JSON file of the state directory, or None when absent (an error naming it if broken)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise AgentStateError(f"unreadable ({exc})", source=str(path)) from None


@dataclass(frozen=True, slots=True)
class Identity:
    """What enrollment gave the agent (the credential is kept apart, in its own file)."""

    server: str
    agent_id: int
    agent_uid: str
    asset_id: int
    hostname: str
    enrolled_at: str
    ca_cert: str | None = None  # a CA bundle to verify the server with (private PKI)
    allow_http: bool = False


class StateDir:
    """One agent's state directory."""

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path) if path is not None else default_state_dir()

    @property
    def identity_file(self) -> Path:
        """agent.json"""
        return self.path / "agent.json"

    @property
    def credential_file(self) -> Path:
        """The credential (0600)."""
        return self.path / "credential"

    @property
    def config_file(self) -> Path:
        """The cached configuration."""
        return self.path / "config.json"

    @property
    def queue_file(self) -> Path:
        """The event queue."""
        return self.path / "queue.db"

    @property
    def status_file(self) -> Path:
        """The last status the running agent wrote."""
        return self.path / "status.json"

    @property
    def lock_file(self) -> Path:
        """Held by the running agent."""
        return self.path / "agent.lock"

    def collector_dir(self, name: str) -> Path:
        """A collector's own state directory (created)."""
        path = self.path / "collectors" / name
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        return path

    def ensure(self) -> None:
        """Create the directory (0700); refuse one that others can write to."""
        try:
            self.path.mkdir(parents=True, exist_ok=True, mode=0o700)
            st = self.path.stat()
        except OSError as exc:
            raise AgentStateError(f"cannot create the state directory: "
                                  f"{exc.strerror or exc}", source=str(self.path)) from exc
        if not stat.S_ISDIR(st.st_mode):
            raise AgentStateError("not a directory", source=str(self.path))
        if st.st_mode & 0o022:
            raise AgentStateError(f"the state directory is writable by others (mode "
                                  f"{stat.S_IMODE(st.st_mode):04o}); chmod 700 it",
                                  source=str(self.path))

    def enrolled(self) -> bool:
        """Whether an identity and a credential are here."""
        return self.identity_file.is_file() and self.credential_file.is_file()

    def save_identity(self, identity: Identity, credential: str) -> None:
        """Store what enrollment returned (credential first: an identity without one is
        never left behind)."""
        self.ensure()
        write_private(self.credential_file, credential.encode() + b"\n")
        write_private(self.identity_file, json.dumps(asdict(identity), indent=2).encode())

    def identity(self) -> Identity:
        """The enrolled identity (an error telling how to enroll when there is none)."""
        raw = read_json(self.identity_file)
        if raw is None or not self.credential_file.exists():
            raise UsageError(f"this agent is not enrolled (no {self.identity_file.name} in "
                             f"{self.path}); run `stackwarden agent enroll --server URL "
                             "--token TOKEN`")
        try:
            return Identity(**raw)
        except TypeError:
            raise AgentStateError("not an agent identity file", source=str(self.identity_file)
                                  ) from None

    def credential(self) -> str:
        """The credential; refused when others can read the file (like ssh refuses keys)."""
        path = self.credential_file
        try:
            st = path.stat()
            if st.st_mode & 0o077:
                raise AgentStateError(f"the credential file is readable by others (mode "
                                      f"{stat.S_IMODE(st.st_mode):04o}); chmod 600 it",
                                      source=str(path))
            token = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise AgentStateError(f"cannot read the credential: {exc.strerror or exc}",
                                  source=str(path)) from exc
        if not token:
            raise AgentStateError("the credential file is empty", source=str(path))
        return token

    def cached_config(self) -> tuple[dict[str, Any], str] | None:
        """(document, etag) of the last good configuration, if any."""
        raw = read_json(self.config_file)
        if not isinstance(raw, dict) or not isinstance(raw.get("document"), dict):
            return None
        return raw["document"], str(raw.get("etag", ""))

    def save_config(self, document: dict[str, Any], etag: str) -> None:
        """Cache a configuration that validated."""
        write_private(self.config_file, json.dumps({"etag": etag, "document": document},
                                                   indent=2, sort_keys=True).encode())

    def status(self) -> dict[str, Any] | None:
        """The last status the running agent wrote."""
        raw = read_json(self.status_file)
        return raw if isinstance(raw, dict) else None

    def save_status(self, status: dict[str, Any]) -> None:
        """Write the status (often: no fsync needed, it is only informative)."""
        tmp = self.status_file.with_name(".status.json.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(status, handle, indent=2, sort_keys=True, default=str)
            os.replace(tmp, self.status_file)
        except OSError:
            tmp.unlink(missing_ok=True)  # status is best effort; the agent's work goes on
