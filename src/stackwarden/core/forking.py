"""Forked worker pools that cannot hang their parent.

Scanners fork workers so the children inherit what cannot be pickled (a compiled Hyperscan
database, an open engine). Forking is only safe when the process runs no other thread: a lock
another thread holds at the fork (a queue's, logging's) stays held forever in the child. And a
child inherits the parent's signal handlers: where the parent installed a SIGTERM handler that
only sets a flag (the agent, the FIM watcher), `Pool.terminate()` could not stop a child blocked
on a lock. So: fork only from a single-threaded process, reset the signals in each child, and
end a finished pool with close/join rather than terminate.
"""

from __future__ import annotations

import multiprocessing
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def can_fork() -> bool:
    """fork exists here and no other thread runs in this process."""
    return "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1


def _child_signals() -> None:
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)


def forked_map(func: Callable[[T], R], items: Iterable[T], workers: int) -> Iterator[R]:
    """`func` over `items` in `workers` forked processes, results in completion order.
    Only call when `can_fork()`; stopping the iteration early terminates the workers."""
    with multiprocessing.get_context("fork").Pool(workers, initializer=_child_signals) as pool:
        yield from pool.imap_unordered(func, items)
        pool.close()
        pool.join()
