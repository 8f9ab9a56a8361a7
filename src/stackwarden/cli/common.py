"""What every command shares: one-line errors with documented exit codes, safe output files."""

from __future__ import annotations

import os
import stat
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.console import Console

from stackwarden.core.errors import ReportError, StackWardenError, UsageError

EXIT_OK, EXIT_GATE, EXIT_USAGE, EXIT_ERROR = 0, 1, 2, 3
stderr = Console(stderr=True, highlight=False)
F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str, code: int) -> typer.Exit:
    """Print `error: message` on stderr and return the Exit to raise."""
    stderr.print(f"[red]error:[/red] {message}", markup=True, highlight=False, soft_wrap=True)
    return typer.Exit(code)


def handle_errors(func: F) -> F:
    """Turn StackWardenError into one line on stderr and exit 2 (usage) or 3 (scan error)."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except UsageError as exc:
            raise fail(_escape(str(exc)), EXIT_USAGE) from None
        except StackWardenError as exc:
            raise fail(_escape(str(exc)), EXIT_ERROR) from None
        except KeyboardInterrupt:
            raise fail("interrupted", 130) from None

    return wrapper  # type: ignore[return-value]


DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str, source: str) -> float:
    """`90`, `90s`, `15m`, `1h`, `7d` -> seconds (a UsageError naming `source` otherwise)."""
    raw = text.strip().lower()
    try:
        if raw[-1:] in DURATION_UNITS:
            return float(raw[:-1]) * DURATION_UNITS[raw[-1]]
        return float(raw)
    except ValueError:
        raise UsageError(f"{text!r} is not a duration (e.g. 90s, 15m, 1h, 7d)",
                         source=source) from None


def _escape(text: str) -> str:
    return text.replace("[", r"\[")


def write_output(data: bytes, path: Path | None) -> None:
    """Write to stdout, or atomically to `path` (nothing partial is left on failure)."""
    write_outputs([(data, path)])


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _stage(data: bytes, path: Path) -> str:
    """Write `data` to a temporary file beside `path` (synced); return its name."""
    directory = path.parent if str(path.parent) else Path(".")
    fd, tmp = -1, ""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
        os.fchmod(fd, 0o666 & ~_umask())  # a report reads like any file the user writes
        with os.fdopen(fd, "wb") as handle:
            fd = -1
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        return tmp
    except OSError as exc:
        if fd >= 0:
            os.close(fd)
        if tmp:
            Path(tmp).unlink(missing_ok=True)
        raise ReportError(f"cannot write the report: {exc.strerror or exc}",
                          source=str(path)) from exc


def _special(path: Path) -> bool:
    """An existing path that is not a regular file (a device such as /dev/null, a FIFO): a
    rename over it would replace it (as root, /dev/null would become a regular file)."""
    try:
        return not stat.S_ISREG(path.stat().st_mode)
    except OSError:
        return False


def check_output_paths(paths: list[Path | None]) -> None:
    """Fail fast (usage error) when a report could never be written there: no such directory,
    or the name is a directory. Checked before a long scan; writing can still fail later."""
    for path in paths:
        if path is None or str(path) == "-":
            continue
        parent = path.parent if str(path.parent) else Path(".")
        if not parent.is_dir():
            raise UsageError(f"no such directory {str(parent)!r} for the report",
                             source=str(path))
        if path.is_dir():
            raise UsageError("is a directory, not a report file", source=str(path))


def write_outputs(outputs: list[tuple[bytes, Path | None]]) -> None:
    """Write several reports: every file is staged (written and synced beside its target) first,
    then all are renamed into place, then stdout is written. If any file cannot be staged, no
    report is written; a target name never holds a partial report. A target that exists and
    is not a regular file (`/dev/null`, a fifo) is written to in place, never replaced."""
    staged: list[tuple[str, Path]] = []
    special: list[tuple[bytes, Path]] = []
    try:
        for data, path in outputs:
            if path is not None and str(path) != "-":
                if path.is_dir():
                    raise ReportError("cannot write the report: it is a directory",
                                      source=str(path))
                if _special(path):  # /dev/null, a FIFO: write into it, never replace it
                    special.append((data, path))
                    continue
                staged.append((_stage(data, path), path))
        for tmp, path in staged:
            try:
                os.replace(tmp, path)
            except OSError as exc:
                raise ReportError(f"cannot write the report: {exc.strerror or exc}",
                                  source=str(path)) from exc
    finally:
        for tmp, _ in staged:
            Path(tmp).unlink(missing_ok=True)
    for data, path in special:
        try:
            with path.open("wb") as handle:
                handle.write(data)
        except OSError as exc:
            raise ReportError(f"cannot write the report: {exc.strerror or exc}",
                              source=str(path)) from exc
    for data, path in outputs:
        if path is None or str(path) == "-":
            sys.stdout.buffer.write(data)
            sys.stdout.flush()


@contextmanager
def progress_status(enabled: bool) -> Iterator[Callable[[str, int, int], None] | None]:
    """A spinner on stderr showing the current step (only when stderr is a terminal)."""
    if not enabled or not stderr.is_terminal:
        yield None
        return
    with stderr.status("starting…") as status:
        def update(message: str, done: int, total: int) -> None:
            status.update(f"{message} ({done + 1}/{total})" if total else message)

        yield update
