"""Take a snapshot of a host: each section collected on its own, a failure is a note."""

from __future__ import annotations

import os
import platform
import socket
import time
from collections.abc import Callable, Sequence
from typing import Any

from stackwarden.agent.inventory import accounts, live
from stackwarden.agent.inventory.docker import docker_inventory, docker_socket
from stackwarden.agent.inventory.model import (
    LIVE_SECTIONS,
    SECTIONS,
    InventoryError,
    Snapshot,
)
from stackwarden.agent.inventory.packages import FileOwners, os_sbom, package_items
from stackwarden.agent.inventory.services import services
from stackwarden.core.errors import StackWardenError, UsageError


def _host_info(root: str, is_live: bool) -> dict[str, Any]:
    if not is_live:
        return {"hostname": live.first_line(os.path.join(root, "etc/hostname"))}
    import psutil

    return {"hostname": socket.gethostname(), "kernel": platform.release(),
            "arch": platform.machine(),
            "boot_time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(psutil.boot_time())),
            "cpus": os.cpu_count(), "memory_bytes": psutil.virtual_memory().total}


def choose_sections(wanted: Sequence[str] | None) -> tuple[str, ...]:
    """Validate a section list (None: all)."""
    if not wanted:
        return SECTIONS
    unknown = [s for s in wanted if s not in SECTIONS]
    if unknown:
        raise UsageError(f"unknown inventory section(s) {', '.join(unknown)}; choose from "
                         f"{', '.join(SECTIONS)}")
    return tuple(s for s in SECTIONS if s in wanted)


def take_snapshot(root: str = "/", *, sections: Sequence[str] | None = None,
                  all_packages: bool = False) -> Snapshot:
    """Inventory `root` (the running host when it is "/"): every chosen section, or a note
    saying why it is missing. Processes, sockets, kernel modules and Docker are live only."""
    root = os.path.abspath(root)
    if not os.path.isdir(root):
        raise InventoryError("not a directory", source=root)
    chosen = choose_sections(sections)
    is_live = root == "/"
    notes: list[str] = []
    snap = Snapshot(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), root,
                    _host_info(root, is_live), None, {}, notes)
    sbom = None
    if "packages" in chosen or "processes" in chosen:
        sbom = _guarded("packages", notes, lambda: os_sbom(root, all_packages=all_packages))
        if sbom is not None:
            if sbom.os is not None:
                snap.os = {"id": sbom.os.id, "version_id": sbom.os.version_id,
                           "pretty_name": sbom.os.pretty_name,
                           "codename": sbom.os.version_codename}
            notes.extend(f"packages: {s.path}: {s.reason}" for s in sbom.skipped[:20])
    owners = FileOwners(sbom.packages if sbom else ())
    collectors: dict[str, Callable[[], list[dict[str, Any]]]] = {
        "packages": lambda: package_items(sbom.packages) if sbom else [],
        "processes": lambda: live.processes(owners),
        "users": lambda: accounts.users(root, notes),
        "groups": lambda: accounts.groups(root, notes),
        "sudoers": lambda: accounts.sudoers(root, notes),
        "kernel_modules": live.kernel_modules,
        "services": lambda: services(root, notes, live=is_live),
    }
    for name in chosen:
        if name in LIVE_SECTIONS and not is_live:
            notes.append(f"{name}: only on the running host (root /), not on {root}")
            continue
        if name in collectors:
            found = _guarded(name, notes, collectors[name])
            if found is not None:
                snap.sections[name] = found
    if "listening" in chosen and is_live:
        procs = snap.sections.get("processes") or _guarded(
            "listening", notes, lambda: live.processes(owners)) or []
        found = _guarded("listening", notes, lambda: live.listening(procs))
        if found is not None:
            snap.sections["listening"] = found
    if is_live and ("containers" in chosen or "images" in chosen):
        path = docker_socket()
        if path is None:
            notes.append("containers: no Docker socket (set DOCKER_HOST=unix://PATH if it "
                         "lives elsewhere)")
        else:
            found = docker_inventory(path, notes)
            if found is not None:
                for name, items in zip(("containers", "images"), found, strict=True):
                    if name in chosen:
                        snap.sections[name] = items
    return snap


def _guarded(name: str, notes: list[str], collect: Callable[[], Any]) -> Any:
    """Run one collector; an OS or parse error becomes a note and the snapshot goes on."""
    import psutil

    try:
        return collect()
    except (OSError, ValueError, UnicodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        where = getattr(exc, "filename", None)
        notes.append(f"{name}: {where + ': ' if where else ''}{reason}")
        return None
    except (StackWardenError, psutil.Error) as exc:
        notes.append(f"{name}: {exc}")
        return None
