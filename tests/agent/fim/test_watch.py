"""Realtime watching: changes arrive through inotify once each; at the watch limit the watcher
says so and falls back to scheduled checks."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from stackwarden.agent.fim import Baseline, Change, check
from stackwarden.agent.fim.watch import FimWatcher, Notice
from tests.helpers.env import unavailable


def wait_for(predicate, timeout: float = 15.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_realtime_changes_reported_once(tmp_path: Path) -> None:
    root = tmp_path / "t"
    (root / "dir").mkdir(parents=True)
    (root / "dir" / "a").write_text("a\n")
    (root / "gone").write_text("g\n")
    db = tmp_path / "fim.db"
    Baseline.build([str(root)], db)
    seen: list[Change] = []
    notices: list[Notice] = []
    watcher = FimWatcher(str(db), seen.append, on_notice=notices.append, debounce=0.2)
    thread = threading.Thread(target=watcher.run, kwargs={"duration": 30})
    thread.start()
    try:
        assert wait_for(lambda: watcher.mode == "inotify")
        (root / "dir" / "a").write_text("changed\n")
        (root / "gone").unlink()
        (root / "new").mkdir()
        (root / "new" / "inside").write_text("n\n")
        os.chmod(root / "dir", 0o700)
        wanted = {(str(root / "dir" / "a"), "modified"), (str(root / "gone"), "deleted"),
                  (str(root / "new"), "added"), (str(root / "new" / "inside"), "added"),
                  (str(root / "dir"), "metadata")}
        assert wait_for(lambda: wanted <= {(c.path, str(c.change)) for c in seen}), seen
        time.sleep(0.5)
    finally:
        watcher.stop()
        thread.join(timeout=20)
    assert not thread.is_alive()
    assert len({c.id for c in seen}) == len(seen)  # no change reported twice
    assert {c.path for c in seen} <= {p for p, _ in wanted} | {str(root)}
    assert [n.level for n in notices] == ["info"]
    assert check(str(db)).changes == []  # accepted into the baseline as they were reported


def test_scheduled_checks_without_realtime(tmp_path: Path) -> None:
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "a").write_text("a\n")
    db = tmp_path / "fim.db"
    Baseline.build([str(tmp_path / "t")], db)
    seen: list[Change] = []
    notices: list[Notice] = []
    watcher = FimWatcher(str(db), seen.append, on_notice=notices.append, realtime=False,
                         fallback_interval=0.3)
    thread = threading.Thread(target=watcher.run, kwargs={"duration": 20})
    thread.start()
    try:
        (tmp_path / "t" / "a").write_text("b\n")
        assert wait_for(lambda: any(c.path.endswith("/t/a") for c in seen))
    finally:
        watcher.stop()
        thread.join(timeout=20)
    assert notices[0].level == "warning" and "scheduled full checks every 0.3s" in \
        notices[0].message


def test_watch_limit_falls_back_and_says_so(tmp_path: Path) -> None:
    """In a user namespace whose inotify watch limit is 3, a tree of 6 directories cannot be
    watched: the watcher says so, then still reports a change through a scheduled check."""
    if not shutil.which("unshare"):
        unavailable("unshare (util-linux) is not installed")
    probe = subprocess.run(["unshare", "--user", "--map-root-user", "true"],
                           capture_output=True, timeout=30, check=False)
    if probe.returncode != 0:
        unavailable(f"no user namespaces here: {probe.stderr.decode().strip()}")
    root = tmp_path / "t"
    for index in range(5):
        (root / f"d{index}").mkdir(parents=True)
    (root / "d0" / "f").write_text("x\n")
    db = tmp_path / "fim.db"
    Baseline.build([str(root)], db)
    # Only the new namespace's own limit (user.max_inotify_watches) is lowered.
    script = (f"echo 3 > /proc/sys/user/max_inotify_watches && exec {sys.executable} -m "
              f"stackwarden fim watch --db {db} --fallback-interval 0.5 --duration 20 "
              "--format json")
    proc = subprocess.Popen(["unshare", "--user", "--map-root-user", "sh", "-c", script],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL,
                            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    try:
        line = proc.stderr.readline()  # type: ignore[union-attr]
        assert "inotify watch limit reached" in line and "user.max_inotify_watches=3" in line
        assert "falling back to scheduled full checks every 0.5s" in line
        (root / "d0" / "f").write_text("changed\n")
        out = proc.stdout.readline()  # type: ignore[union-attr]
        assert f'"path": "{root}/d0/f"' in out and '"change": "modified"' in out
    finally:
        proc.terminate()
        proc.wait(timeout=20)
