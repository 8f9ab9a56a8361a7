"""systemd services: unit file states (enabled, disabled, static, masked, alias) from the unit
directories, the way `systemctl list-unit-files` decides them, plus the running state when
systemd runs this host."""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import Any

UNIT_DIRS = ("/etc/systemd/system", "/usr/local/lib/systemd/system", "/usr/lib/systemd/system",
             "/lib/systemd/system")
_DEPENDENCY_DIRS = (".wants", ".requires", ".upholds")
_INSTALL_KEYS = ("WantedBy", "RequiredBy", "UpheldBy", "Alias")


def _host(root: str, path: str) -> str:
    return os.path.join(root, path.lstrip("/"))


def _instances(template: str, enabled: set[str]) -> set[str]:
    prefix = template[:-len(".service")]  # "getty@"
    return {n for n in enabled if n.startswith(prefix) and n != template}


def _install_keys(path: str) -> dict[str, str]:
    keys: dict[str, str] = {}
    section = ""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            for raw in handle:
                line = raw.strip()
                if line.startswith("["):
                    section = line
                elif section == "[Install]" and "=" in line:
                    key, _, value = line.partition("=")
                    if value.strip():
                        keys[key.strip()] = value.strip()
    except OSError:
        pass
    return keys


def unit_file_states(root: str) -> dict[str, dict[str, Any]]:
    """name -> {state, path} for every *.service unit file under the root."""
    dirs = []
    for directory in UNIT_DIRS:
        host = _host(root, directory)
        if os.path.isdir(host) and not any(os.path.samefile(host, d) for _, d in dirs):
            dirs.append((directory, host))
    units: dict[str, dict[str, Any]] = {}
    for directory, host in dirs:
        for name in sorted(os.listdir(host)):
            if not name.endswith(".service") or name in units:
                continue
            full = os.path.join(host, name)
            if os.path.islink(full):
                target = os.readlink(full)
                if target == "/dev/null":
                    units[name] = {"state": "masked", "path": f"{directory}/{name}"}
                    continue
                if os.path.basename(target) != name:
                    units[name] = {"state": "alias", "path": f"{directory}/{name}",
                                   "alias_of": os.path.basename(target)}
                    continue
            units[name] = {"state": None, "path": f"{directory}/{name}", "_file": full}
    enabled = _enabled_names(_host(root, "/etc/systemd/system"))
    for name, unit in units.items():
        if unit["state"] is not None:
            continue
        full = unit.pop("_file")
        keys = _install_keys(full)
        instances = _instances(name, enabled) if name.endswith("@.service") else set()
        if name in enabled or (keys.get("DefaultInstance") is not None and
                               name.replace("@.", f"@{keys['DefaultInstance']}.") in instances):
            unit["state"] = "enabled"
        elif instances:
            unit["state"] = "indirect"  # only other instances of the template are enabled
        elif set(keys) & set(_INSTALL_KEYS):
            unit["state"] = "disabled"
        elif "Also" in keys:
            unit["state"] = "indirect"
        else:
            unit["state"] = "static"
    return units


def _enabled_names(etc: str) -> set[str]:
    found: set[str] = set()
    try:
        entries = os.listdir(etc)
    except OSError:
        return found
    for entry in entries:
        if entry.endswith(_DEPENDENCY_DIRS):
            try:
                found.update(os.listdir(os.path.join(etc, entry)))
            except OSError:
                continue
    return found


def running_states(timeout: float = 30.0) -> dict[str, dict[str, str]] | None:
    """name -> {active, sub} from the running systemd (None when systemd does not run here)."""
    systemctl = shutil.which("systemctl")
    if not systemctl or not os.path.isdir("/run/systemd/system"):
        return None
    done = subprocess.run([systemctl, "list-units", "--type=service", "--all", "--no-legend",
                           "--plain", "--no-pager"], capture_output=True, text=True,
                          timeout=timeout, check=False, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        return None
    states = {}
    for line in done.stdout.splitlines():
        fields = line.split(None, 4)
        if len(fields) >= 4 and fields[0].endswith(".service"):
            states[fields[0]] = {"load": fields[1], "active": fields[2], "sub": fields[3]}
    return states


def services(root: str, notes: list[str], *, live: bool) -> list[dict[str, Any]]:
    """Every service unit: its unit-file state, and (live, systemd running) its run state."""
    units = unit_file_states(root)
    running = running_states() if live else None
    if live and running is None:
        notes.append("services: systemd is not running here; unit file states only")
    items = []
    for name in sorted(set(units) | set(running or {})):
        unit = units.get(name, {"state": None, "path": None})
        item = {"name": name, "state": unit["state"], "path": unit["path"]}
        if "alias_of" in unit:
            item["alias_of"] = unit["alias_of"]
        if running is not None:
            run = running.get(name, {})
            item["active"] = run.get("active")
            item["sub"] = run.get("sub")
        items.append(item)
    return items
