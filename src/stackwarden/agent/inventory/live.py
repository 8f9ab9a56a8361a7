"""The running host (psutil and /proc): processes with their executable's hash and package,
listening sockets with their process, loaded kernel modules."""

from __future__ import annotations

import hashlib
import os
import socket
from typing import Any

from stackwarden.agent.inventory.packages import FileOwners

MAX_HASH_BYTES = 512 * 1024 * 1024  # an executable bigger than this is not hashed


class ExecutableHashes:
    """SHA-256 of executables, hashed once per (device, inode, size, mtime)."""

    def __init__(self) -> None:
        self._cache: dict[tuple[int, int, int, int], str | None] = {}

    def digest(self, pid: int, exe: str) -> tuple[str | None, str | None]:
        """(sha256, problem) of a process's executable, read through /proc/PID/exe so a
        deleted or replaced binary is still the one that runs."""
        path = f"/proc/{pid}/exe"
        try:
            st = os.stat(path)
        except OSError as exc:
            return None, f"cannot stat {exe or path}: {exc.strerror}"
        key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        if key in self._cache:
            return self._cache[key], None
        if st.st_size > MAX_HASH_BYTES:
            return None, f"larger than {MAX_HASH_BYTES} bytes"
        try:
            with open(path, "rb", buffering=0) as handle:
                value = hashlib.file_digest(handle, "sha256").hexdigest()
        except OSError as exc:
            return None, f"cannot read {exe or path}: {exc.strerror}"
        self._cache[key] = value
        return value, None


def processes(owners: FileOwners, hashes: ExecutableHashes | None = None
              ) -> list[dict[str, Any]]:
    """Every process: pid, ppid, name, user, command line, executable, its hash and package."""
    import psutil

    hashes = hashes or ExecutableHashes()
    items = []
    attrs = ["pid", "ppid", "name", "username", "exe", "cmdline", "create_time"]
    for proc in psutil.process_iter(attrs):
        info = proc.info
        if info["pid"] == 0:
            continue
        exe = info.get("exe") or ""
        item: dict[str, Any] = {
            "pid": info["pid"], "ppid": info.get("ppid"), "name": info.get("name") or "",
            "user": info.get("username"), "cmdline": " ".join(info.get("cmdline") or [])[:2000],
            "exe": exe or None, "started": round(info.get("create_time") or 0.0, 2),
            "sha256": None, "package": None}
        if exe:
            deleted = exe.endswith(" (deleted)")
            real = exe[:-len(" (deleted)")] if deleted else exe
            item["exe"] = real
            item["exe_deleted"] = deleted  # replaced or removed since it started
            item["sha256"], problem = hashes.digest(info["pid"], real)
            if problem:
                item["problem"] = problem
            item["package"] = owners.owner(real)
        items.append(item)
    return sorted(items, key=lambda i: i["pid"])


_PROTOCOLS = {(socket.AF_INET, socket.SOCK_STREAM): "tcp", (socket.AF_INET6, socket.SOCK_STREAM):
              "tcp6", (socket.AF_INET, socket.SOCK_DGRAM): "udp",
              (socket.AF_INET6, socket.SOCK_DGRAM): "udp6"}


def listening(procs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """TCP sockets in LISTEN and unconnected UDP sockets, with the process that holds them."""
    import psutil

    by_pid = {p["pid"]: p for p in procs}
    items = []
    seen = set()
    for conn in psutil.net_connections(kind="inet"):
        proto = _PROTOCOLS.get((conn.family, conn.type))
        if proto is None or not conn.laddr:
            continue
        if proto.startswith("tcp") and conn.status != psutil.CONN_LISTEN:
            continue
        if proto.startswith("udp") and conn.raddr:
            continue
        key = (proto, conn.laddr.ip, conn.laddr.port, conn.pid)
        if key in seen:
            continue
        seen.add(key)
        proc = by_pid.get(conn.pid) if conn.pid else None
        items.append({"proto": proto, "address": conn.laddr.ip, "port": conn.laddr.port,
                      "pid": conn.pid, "process": proc["name"] if proc else None,
                      "exe": proc["exe"] if proc else None,
                      "user": proc["user"] if proc else None})
    return sorted(items, key=lambda i: (i["proto"], i["port"], i["address"], i["pid"] or 0))


def kernel_modules(proc_modules: str = "/proc/modules") -> list[dict[str, Any]]:
    """Loaded kernel modules: name, size, use count, users, state, and the source version."""
    items = []
    with open(proc_modules, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            fields = line.split()
            if len(fields) < 5:
                continue
            name = fields[0]
            used_by = [u for u in fields[3].strip(",").split(",") if u and u != "-"]
            items.append({"name": name, "size": int(fields[1]) if fields[1].isdigit() else None,
                          "refcount": int(fields[2]) if fields[2].isdigit() else None,
                          "used_by": used_by, "state": fields[4],
                          "srcversion": first_line(f"/sys/module/{name}/srcversion")})
    return sorted(items, key=lambda i: i["name"])


def first_line(path: str) -> str | None:
    """The first line of a small file, stripped (None when unreadable or empty)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.readline().strip() or None
    except OSError:
        return None
