"""Forked pools never hang their parent: not with a flag-only SIGTERM handler inherited from
the parent (the agent installs one), not when the caller stops early, and a process running
other threads does not fork at all."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading

from stackwarden.core.forking import can_fork

SCRIPT = textwrap.dedent("""
    import signal, time
    from stackwarden.core.forking import forked_map

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))  # only a flag, as the agent does

    def slow(n):
        time.sleep(0.2 * n)
        return n

    results = forked_map(slow, range(1, 9), 2)
    print("first", next(results))
    results.close()  # stop early: the pool is terminated with work still queued
    print("all", sorted(forked_map(slow, [1, 2, 3], 2)))
""")


def test_workers_stop_even_with_a_flag_only_sigterm_handler() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    assert "first 1" in done.stdout and "all [1, 2, 3]" in done.stdout


def test_a_process_running_threads_does_not_fork() -> None:
    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    try:
        assert not can_fork()
    finally:
        release.set()
        other.join()
