"""The files an installed distribution owns: wheel `RECORD` and egg `installed-files.txt`."""

from __future__ import annotations

import csv
import posixpath

MAX_OWNED_FILES = 200_000  # a RECORD beyond this is not a real distribution's


def _absolute(base: str, relative: str) -> str | None:
    """`relative` resolved against `base`; None for a path that climbs above the root."""
    if relative.startswith("/"):
        return posixpath.normpath(relative)
    joined = posixpath.normpath(posixpath.join(base, relative))
    return joined if joined.startswith("/") and not joined.startswith("//") else None


def parse_record(text: str, site_packages: str) -> list[str]:
    """RECORD is CSV (`path,hash,size`); paths are relative to the site-packages directory
    (scripts climb out with `../../../bin/x`). Returns absolute paths inside the artifact."""
    files: list[str] = []
    for row in csv.reader(text.splitlines()):
        if not row or not row[0]:
            continue
        path = _absolute(site_packages, row[0])
        if path is not None:
            files.append(path)
        if len(files) >= MAX_OWNED_FILES:
            break
    return files


def parse_installed_files(text: str, egg_info_dir: str) -> list[str]:
    """installed-files.txt lists one path per line, relative to the `.egg-info` directory."""
    files: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        path = _absolute(egg_info_dir, line)
        if path is not None:
            files.append(path)
        if len(files) >= MAX_OWNED_FILES:
            break
    return files
