"""Generated file trees and recorded changes for file integrity tests and the AIDE benchmark.

Every file and directory gets a fixed old mtime (whole seconds), so any later change moves it
by at least a second: AIDE compares mtimes in whole seconds and must see what we see.
"""

from __future__ import annotations

import os
import random
import struct
from dataclasses import dataclass
from pathlib import Path

OLD_TIME = 1_600_000_000  # 2020-09-13: every generated entry starts here
CAP_NET_RAW = 13


@dataclass(frozen=True)
class Applied:
    """One change made to the tree, and how a checker must report it."""

    path: str
    kind: str  # added, modified, deleted, metadata
    what: str  # content, same-size, mode, owner, add, delete, touch, retarget, xattr, caps…


def _size(rng: random.Random) -> int:
    roll = rng.random()
    if roll < 0.80:
        return rng.randint(0, 4096)
    if roll < 0.99:
        return rng.randint(4096, 65536)
    return rng.randint(65536, 1 << 20)


def make_tree(root: Path, files: int, *, seed: int = 1, per_dir: int = 100,
              symlink_every: int = 50) -> list[Path]:
    """`files` regular files (sizes like /usr: mostly small) in directories of `per_dir`,
    some symlinks; all with fixed old mtimes. Returns the regular files."""
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    made: list[Path] = []
    dirs: list[Path] = []
    for index in range(files):
        if index % per_dir == 0:
            top = root / f"d{index // (per_dir * 20):03d}"
            directory = top / f"s{index // per_dir:05d}"
            directory.mkdir(parents=True, exist_ok=True)
            dirs += [top, directory]
        path = directory / f"f{index:06d}.{'conf' if index % 7 == 0 else 'bin'}"
        size = _size(rng)
        path.write_bytes(rng.randbytes(size) if index % 7 else
                         b"".join(b"key%d = value%d\n" % (i, rng.randint(0, 9999))
                                  for i in range(max(1, size // 20))))
        os.utime(path, (OLD_TIME, OLD_TIME))
        made.append(path)
        if index % symlink_every == symlink_every - 1:
            link = directory / f"l{index:06d}"
            link.symlink_to(path.name)
            os.utime(link, (OLD_TIME, OLD_TIME), follow_symlinks=False)
    for directory in [*dict.fromkeys(dirs), root]:
        os.utime(directory, (OLD_TIME, OLD_TIME))
    return made


def caps_xattr(bit: int, effective: bool = True) -> bytes:
    """A VFS_CAP_REVISION_2 `security.capability` value permitting one capability."""
    return struct.pack("<IIIII", 0x02000000 | (1 if effective else 0), 1 << bit, 0, 0, 0)


def apply_changes(root: Path, count: int, *, seed: int = 2, chown: bool = True) -> list[Applied]:
    """Apply `count` generated changes of every kind to a tree made by make_tree; each file is
    touched at most once. Parent directories of added/deleted/retargeted entries change too
    (mtime): they are returned as metadata changes, as a checker must report them."""
    rng = random.Random(seed)
    files = sorted(p for p in root.rglob("f*") if p.is_file() and not p.is_symlink())
    links = sorted(p for p in root.rglob("l*") if p.is_symlink())
    rng.shuffle(files)
    rng.shuffle(links)
    kinds = ["content", "same-size", "mode", "owner", "add", "delete", "touch", "retarget",
             "xattr", "caps"]
    if not chown:
        kinds.remove("owner")
    applied: list[Applied] = []
    parents: set[Path] = set()
    for number in range(count):
        what = kinds[number % len(kinds)]
        if what == "retarget":
            if not links:
                continue
            link = links.pop()
            link.unlink()
            link.symlink_to(f"retargeted-{number}")
            applied.append(Applied(str(link), "modified", what))
            parents.add(link.parent)
            continue
        target = files.pop()
        if what == "content":
            with target.open("ab") as handle:
                handle.write(b"changed %d\n" % number)
            applied.append(Applied(str(target), "modified", what))
        elif what == "same-size":
            st = target.stat()
            data = bytearray(target.read_bytes() or b"\0")
            data[0] ^= 0xFF
            target.write_bytes(bytes(data[:max(st.st_size, 1)]))
            os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))  # mtime preserved
            applied.append(Applied(str(target), "modified", what))
        elif what == "mode":
            target.chmod(0o600 if target.stat().st_mode & 0o044 else 0o644)
            applied.append(Applied(str(target), "metadata", what))
        elif what == "owner":
            os.chown(target, 1000 + number, 1000 + number)
            applied.append(Applied(str(target), "metadata", what))
        elif what == "add":
            added = target.with_name(f"new-{number}.txt")
            added.write_bytes(rng.randbytes(rng.randint(0, 2000)))
            applied.append(Applied(str(added), "added", what))
            parents.add(target.parent)
        elif what == "delete":
            target.unlink()
            applied.append(Applied(str(target), "deleted", what))
            parents.add(target.parent)
        elif what == "touch":
            os.utime(target, (OLD_TIME + 3600 + number, OLD_TIME + 3600 + number))
            applied.append(Applied(str(target), "metadata", what))
        elif what == "xattr":
            os.setxattr(target, "user.stackwarden", b"v%d" % number)
            applied.append(Applied(str(target), "metadata", what))
        elif what == "caps":
            os.setxattr(target, "security.capability", caps_xattr(CAP_NET_RAW))
            applied.append(Applied(str(target), "metadata", what))
    applied += [Applied(str(p), "metadata", "parent") for p in sorted(parents)]
    return applied
