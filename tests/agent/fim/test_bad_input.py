"""Bad input: unreadable paths, files vanishing mid-scan, sockets and fifos, devices, loops,
broken databases. One clear note or error, the rest recorded, no hang, no traceback."""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from stackwarden.agent.fim import Baseline, FimError, check
from stackwarden.agent.fim.scan import record_raw
from stackwarden.agent.fim.store import BaselineStore
from tests.helpers.env import unavailable


def run_as_nobody(func) -> dict:  # type: ignore[no-untyped-def]
    """Run `func()` in a forked child with uid/gid 65534; return what it returned (JSON)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.close(read)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            payload = json.dumps(func()).encode()
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            payload = json.dumps({"error": repr(exc)}).encode()
        with os.fdopen(write, "wb") as out:
            out.write(payload)
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as handle:
        data = handle.read()
    os.waitpid(pid, 0)
    return json.loads(data)


@pytest.fixture()
def shared_dir() -> Iterator[Path]:
    """A directory another user can reach (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="stackwarden-fim-"))
    path.chmod(0o777)
    yield path
    for sub in path.rglob("*"):
        if sub.is_dir() and not sub.is_symlink():
            sub.chmod(0o755)
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.usefixtures("as_root")
def test_unreadable_paths_are_noted_and_the_rest_recorded(shared_dir: Path) -> None:
    tmp_path = shared_dir
    root = tmp_path / "t"
    (root / "closed").mkdir(parents=True)
    (root / "closed" / "inside").write_text("x\n")
    (root / "secret").write_text("s\n")
    (root / "open").write_text("o\n")
    (root / "secret").chmod(0o600)
    (root / "closed").chmod(0o700)
    root.chmod(0o755)
    db = tmp_path / "fim.db"

    def build() -> dict:
        result = Baseline.build([str(root), str(tmp_path / "missing")], db, pool="serial")
        return {"files": result.files, "notes": [str(n) for n in result.notes],
                "changes": [c.path for c in check(str(db)).changes],
                "check_notes": [str(n) for n in check(str(db)).notes]}

    done = run_as_nobody(build)
    assert "error" not in done, done
    assert done["files"] == 4  # root, closed (its metadata), secret (metadata only), open
    assert sorted(done["notes"]) == sorted([
        f"{root}/closed: cannot list: Permission denied",
        f"{root}/secret: cannot open: Permission denied",
        f"{tmp_path}/missing: cannot read: No such file or directory"])
    assert done["changes"] == []  # unreadable is not "changed", and not "deleted"
    with BaselineStore(db) as store:
        secret = store.get(f"{root}/secret")
    assert secret is not None and secret.sha256 is None and secret.mode == 0o600


def test_nothing_readable_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FimError, match="none of the paths could be read"):
        Baseline.build([str(tmp_path / "nope")], tmp_path / "fim.db")
    assert not (tmp_path / "fim.db").exists()
    assert list(tmp_path.iterdir()) == []  # no temporary database left behind


def test_vanished_path_is_a_note_not_a_crash(tmp_path: Path) -> None:
    path, row, content, note = record_raw(str(tmp_path / "gone"), 0, True, regular=True)
    assert (row, content, note) == (None, None, "vanished during the scan")


def test_files_vanishing_during_the_scan(tmp_path: Path) -> None:
    """A thread deletes and recreates files while baseline and check run: every path ends up
    recorded, reported as a change, or noted; nothing raises."""
    root = tmp_path / "t"
    root.mkdir()
    names = [root / f"f{i:04d}" for i in range(3000)]
    for path in names:
        path.write_bytes(b"x" * 100)
    stop = threading.Event()

    def churn() -> None:
        while not stop.is_set():
            for path in names[::7]:
                path.unlink(missing_ok=True)
                path.write_bytes(b"y" * 100)

    worker = threading.Thread(target=churn)
    worker.start()
    try:
        result = Baseline.build([str(root)], tmp_path / "fim.db", pool="thread")
        checked = check(str(tmp_path / "fim.db"), pool="thread")
    finally:
        stop.set()
        worker.join()
    assert result.files + sum("vanished" in n.reason for n in result.notes) >= len(names)
    assert {c.path for c in checked.changes} <= {str(p) for p in names[::7]} | {str(root)}


def test_sockets_fifos_and_devices_are_recorded_not_opened(tmp_path: Path) -> None:
    root = tmp_path / "t"
    root.mkdir()
    os.mkfifo(root / "fifo")
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(root / "sock"))
    kinds = {"fifo": "fifo", "sock": "socket"}
    if os.geteuid() == 0:
        os.mknod(root / "null", stat.S_IFCHR | 0o600, os.makedev(1, 3))
        kinds["null"] = "char-device"
    try:
        Baseline.build([str(root)], tmp_path / "fim.db")  # a fifo opened for reading would hang
        with BaselineStore(tmp_path / "fim.db") as store:
            found = {r.path.rsplit("/", 1)[-1]: (r.type, r.sha256) for r in store.records()
                     if r.path != str(root)}
    finally:
        server.close()
    assert found == {name: (kind, None) for name, kind in kinds.items()}


def test_symlink_loops_are_not_followed(tmp_path: Path) -> None:
    root = tmp_path / "t"
    (root / "sub").mkdir(parents=True)
    (root / "a").symlink_to("b")
    (root / "b").symlink_to("a")
    (root / "sub" / "up").symlink_to("..")
    (root / "self").symlink_to(".")
    result = Baseline.build([str(root)], tmp_path / "fim.db")
    assert result.files == 6 and result.notes == []
    assert check(str(tmp_path / "fim.db")).changes == []


@pytest.mark.usefixtures("as_root")
def test_bind_mount_loop_is_walked_once(tmp_path: Path) -> None:
    """A directory bind-mounted below itself (in a private mount namespace) is not walked
    again and again: one note, and the walk ends."""
    if not shutil.which("unshare"):
        unavailable("unshare (util-linux) is not installed")
    root = tmp_path / "t"
    (root / "sub" / "loop").mkdir(parents=True)
    (root / "sub" / "file").write_text("x\n")
    db = tmp_path / "fim.db"
    script = (f"mount --bind {root} {root}/sub/loop && "
              f"{sys.executable} -m stackwarden fim baseline {root} --db {db} --format json")
    done = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                          capture_output=True, text=True, timeout=120, check=False,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    if done.returncode != 0 and "mount" in done.stderr and "permission" in done.stderr.lower():
        unavailable(f"cannot bind-mount here: {done.stderr.strip()}")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["notes"] == [f"{root}/sub/loop: directory already walked (bind mount loop); "
                               "not descended again"]
    assert report["files"] == 4  # t, sub, sub/file and sub/loop (whose content is t again)


def test_foreign_database_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "fim.db"
    bad.write_text("not a database at all\n" * 100)
    with pytest.raises(FimError, match="not a StackWarden baseline database"):
        check(str(bad))
    with pytest.raises(FimError, match="no baseline database here"):
        check(str(tmp_path / "missing.db"))
    with pytest.raises(FimError, match="no such directory"):
        Baseline.build([str(tmp_path)], tmp_path / "no" / "fim.db")
