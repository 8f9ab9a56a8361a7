"""The agent's `host_vulnerabilities` collector: the host's packages, inventoried by the same
catalogers as images (`stackwarden sbom rootfs:/`), shipped as a `host.sbom` event; the server
matches it against its vulnerability database (the same matcher as images) and the matches
become the host's findings.

The inventory runs in a child process (niced, with a time limit): walking a whole root
filesystem takes memory and time the long-running agent should not keep. `collect()` only
starts it and, on later calls, picks up its result, so the agent's loop never waits for it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from pydantic import Field

from stackwarden.agent.interface import (
    Collection,
    Collector,
    CollectorContext,
    CollectorSettings,
)

NICE = 10


class HostVulnSettings(CollectorSettings):
    """`collectors.host_vulnerabilities`."""

    root: str = Field("/", min_length=1, max_length=4096)  # the root filesystem to inventory
    scan_interval: float = Field(6 * 3600, ge=60, le=30 * 86400)  # seconds between inventories
    catalogers: list[str] = Field(default_factory=list, max_length=50)  # as `sbom --catalogers`
    timeout: float = Field(3600, gt=0, le=86400)  # an inventory taking longer is stopped


class HostVulnCollector(Collector):
    """Inventories the host every `scan_interval` seconds in a child process."""

    name = "host_vulnerabilities"
    default_interval = 30.0  # how often a running inventory is checked on
    Settings = HostVulnSettings

    def __init__(self, ctx: CollectorContext) -> None:
        super().__init__(ctx)
        self.settings: HostVulnSettings = ctx.settings  # type: ignore[assignment]
        self._last_file = ctx.state_dir / "last.json"
        self._proc: subprocess.Popen[bytes] | None = None
        self._output: Path | None = None
        self._errors: Any = None
        self._started = 0.0

    def _last_run(self) -> float:
        try:
            return float(json.loads(self._last_file.read_text())["finished_at"])
        except (OSError, ValueError, KeyError, TypeError):
            return 0.0

    def collect(self) -> Collection:
        """Start an inventory when one is due; hand over the result of a finished one."""
        if self._proc is not None:
            return self._check_child()
        if time.time() - self._last_run() >= self.settings.scan_interval:
            self._spawn()
        return Collection()

    def _spawn(self) -> None:
        fd, name = tempfile.mkstemp(prefix="sbom.", suffix=".json", dir=self.ctx.state_dir)
        os.close(fd)
        self._output = Path(name)
        command = [sys.executable, "-m", "stackwarden", "sbom", f"rootfs:{self.settings.root}",
                   "--format", "json", "--output", name, "--quiet"]
        if self.settings.catalogers:
            command += ["--catalogers", ",".join(self.settings.catalogers)]
        self._errors = tempfile.TemporaryFile(dir=self.ctx.state_dir)
        self._proc = subprocess.Popen(command, stdin=subprocess.DEVNULL,
                                      stdout=subprocess.DEVNULL, stderr=self._errors)
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, self._proc.pid, NICE)
        self._started = time.time()

    def _check_child(self) -> Collection:
        assert self._proc is not None and self._output is not None
        code = self._proc.poll()
        if code is None:
            if time.time() - self._started <= self.settings.timeout:
                return Collection()
            self._stop_child()
            return self._failed(f"the inventory of {self.settings.root} took longer than "
                                f"{self.settings.timeout:g}s and was stopped")
        self._errors.seek(0)
        stderr = self._errors.read().decode("utf-8", "replace").strip().splitlines()
        output = self._output
        self._reset()
        try:
            if code != 0:
                reason = stderr[-1] if stderr else f"exit code {code}"
                return self._failed(f"the inventory of {self.settings.root} failed: {reason}")
            doc = json.loads(output.read_bytes())
        except (OSError, ValueError) as exc:
            return self._failed(f"the inventory's output is unreadable: {exc}")
        finally:
            output.unlink(missing_ok=True)
        return self._event(doc)

    def _event(self, doc: dict[str, Any]) -> Collection:
        for package in doc.get("packages") or []:
            if isinstance(package, dict):
                package.pop("files", None)  # the matcher needs none of them; they are most bytes
        packages = doc.get("packages") or []
        digest = hashlib.sha256(json.dumps(packages, sort_keys=True).encode()).hexdigest()
        now = time.time()
        event = self.event("host.sbom", {"sbom": doc, "root": self.settings.root,
                                         "packages": len(packages), "sha256": digest},
                           time=now, key=f"{digest}:{int(self._started)}")
        return Collection([event], (), {"finished_at": now, "sha256": digest})

    def _failed(self, note: str) -> Collection:
        # try again after a tenth of the interval, not at once (a broken root stays broken)
        retry = time.time() - self.settings.scan_interval * 0.9
        return Collection((), (note,), {"finished_at": retry, "sha256": None})

    def commit(self, collection: Collection) -> None:
        """Remember when the last inventory finished (so a restart does not redo it)."""
        if collection.checkpoint is not None:
            self._last_file.write_text(json.dumps(collection.checkpoint))

    def close(self) -> Collection:
        """Stop an inventory in progress (it starts again on the next run)."""
        self._stop_child()
        return Collection()

    def _stop_child(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait(timeout=30)
        if self._output is not None:
            self._output.unlink(missing_ok=True)
        self._reset()

    def _reset(self) -> None:
        if self._errors is not None:
            self._errors.close()
        self._proc, self._output, self._errors = None, None, None
