"""A recorded set of changes applied to a tree: every one is reported, exactly as what it is."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from stackwarden.agent.fim import Baseline, ChangeKind, FimOptions, check, scan
from stackwarden.agent.fim.attrs import decode_capabilities
from tests.agent.fim.conftest import user_xattrs_supported
from tests.helpers.env import unavailable
from tests.helpers.fimtree import OLD_TIME, apply_changes, caps_xattr


def reported(db: Path) -> dict[str, tuple[str, tuple[str, ...]]]:
    return {c.path: (str(c.change), c.fields) for c in check(str(db)).changes}


@pytest.mark.usefixtures("as_root")
@pytest.mark.parametrize("pool", ["serial", "thread", "process", "process-threaded"])
def test_generated_changes_all_reported(tree: Path, tmp_path: Path, pool: str,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    if not user_xattrs_supported(tmp_path):
        unavailable("the test filesystem does not take user.* xattrs")
    monkeypatch.setattr(scan, "SMALL_POOL_FILES", 50)  # use the pool even on a small tree
    if pool == "process-threaded":  # as when other threads run: workers from a fork server
        pool = "process"
        monkeypatch.setattr(scan, "_fork_safe", lambda: False)
    db = tmp_path / "fim.db"
    options = FimOptions(workers=2)
    Baseline.build([str(tree)], db, options, pool=pool)
    assert reported(db) == {}
    applied = apply_changes(tree, 60)
    expected = {a.path: a.kind for a in applied}
    result = check(str(db), pool=pool)
    assert {c.path: str(c.change) for c in result.changes} == expected
    assert result.notes == []
    whats = {a.path: a.what for a in applied}
    for change in result.changes:  # the attributes named are the ones that moved
        fields = set(change.fields)
        what = whats[change.path]
        if what == "mode":
            assert fields == {"mode"}
        elif what == "owner":
            assert fields == {"uid", "gid"}
        elif what == "touch":
            assert fields == {"mtime_ns"}
        elif what == "xattr":
            assert fields == {"xattrs"} and change.after is not None
            assert dict(change.after.xattrs)["user.stackwarden"].startswith("v")
        elif what == "caps":
            assert fields == {"caps"} and change.after.caps == "cap_net_raw=ep"
        elif what == "same-size":
            assert fields == {"sha256"}  # same size, same mtime, same inode: only the hash
        elif what == "retarget":
            assert "link" in fields and change.after.link.startswith("retargeted-")
        elif what == "content":
            assert {"sha256", "size", "mtime_ns"} <= fields
        elif what == "parent":
            assert fields == {"mtime_ns"} and change.after.type == "dir"


def test_each_kind_before_and_after(tmp_path: Path) -> None:
    root = tmp_path / "t"
    root.mkdir()
    (root / "content").write_text("one\n")
    (root / "gone").write_text("bye\n")
    (root / "mode").write_text("m\n")
    (root / "touched").write_text("t\n")
    (root / "target-a").write_text("a\n")
    (root / "link").symlink_to("target-a")
    for path in root.iterdir():
        os.utime(path, (OLD_TIME, OLD_TIME), follow_symlinks=False)
    os.utime(root, (OLD_TIME, OLD_TIME))
    db = tmp_path / "fim.db"
    Baseline.build([str(root)], db)
    before = {c.path for c in check(str(db)).changes}
    assert before == set()

    (root / "content").write_text("two\n")
    (root / "gone").unlink()
    (root / "mode").chmod(0o4755)
    os.utime(root / "touched", (OLD_TIME + 10, OLD_TIME + 10))
    (root / "link").unlink()
    (root / "link").symlink_to("elsewhere")
    (root / "new").write_text("hello\n")
    changes = {c.path.rsplit("/", 1)[-1]: c for c in check(str(db)).changes}
    assert {k: str(c.change) for k, c in changes.items()} == {
        "t": "metadata", "content": "modified", "gone": "deleted", "mode": "metadata",
        "touched": "metadata", "link": "modified", "new": "added"}
    assert changes["mode"].before.mode == 0o644 and changes["mode"].after.mode == 0o4755
    assert changes["gone"].after is None and changes["gone"].before.size == 4
    assert changes["new"].before is None and changes["new"].after.sha256 == (
        "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03")
    assert (changes["link"].before.link, changes["link"].after.link) == ("target-a", "elsewhere")
    doc = changes["mode"].to_dict()
    assert doc["before"]["mode"] == "0644" and doc["after"]["mode"] == "4755"
    assert set(doc) >= {"path", "change", "before", "after"}


@pytest.mark.usefixtures("as_root")
def test_inode_only_change_is_metadata(tmp_path: Path) -> None:
    """The same bytes, mode and mtime written to a new inode (what `cp -p` over it does)."""
    root = tmp_path / "t"
    root.mkdir()
    target = root / "f"
    target.write_bytes(b"same bytes\n")
    db = tmp_path / "fim.db"
    Baseline.build([str(root)], db)
    st = target.stat()
    replacement = tmp_path / "f.new"
    replacement.write_bytes(b"same bytes\n")
    os.utime(replacement, ns=(st.st_atime_ns, st.st_mtime_ns))
    replacement.chmod(st.st_mode & 0o7777)
    os.replace(replacement, target)
    os.utime(root, ns=(root.stat().st_atime_ns, root.stat().st_mtime_ns))
    found = [c for c in check(str(db)).changes if c.path == str(target)]
    assert [(str(c.change), c.fields) for c in found] == [("metadata", ("inode",))]


@pytest.mark.usefixtures("as_root")
def test_capabilities_match_getcap(tmp_path: Path) -> None:
    """Decoded capabilities read as getcap prints them (setcap and getcap as the oracle)."""
    if not shutil.which("setcap") or not shutil.which("getcap"):
        unavailable("setcap/getcap (Debian libcap2-bin) are not installed")
    target = tmp_path / "bin"
    target.write_bytes(b"#!/bin/sh\n")
    for spec in ["cap_net_raw+ep", "cap_net_admin,cap_net_raw+ep", "cap_sys_nice+i",
                 "cap_chown+p", "cap_setuid,cap_setgid+eip", "cap_bpf,cap_perfmon+ep"]:
        subprocess.run(["setcap", spec, str(target)], check=True, timeout=10)
        shown = subprocess.run(["getcap", str(target)], capture_output=True, text=True,
                               check=True, timeout=10).stdout.split(None, 1)[1].strip()
        ours = decode_capabilities(os.getxattr(target, "security.capability"))
        assert ours == shown, spec


def test_capability_decoding_edges() -> None:
    assert decode_capabilities(caps_xattr(13)) == "cap_net_raw=ep"
    assert decode_capabilities(caps_xattr(13, effective=False)) == "cap_net_raw=p"
    v3 = bytes.fromhex("01000003") + (1 << 10).to_bytes(4, "little") + bytes(12) + \
        (100000).to_bytes(4, "little")
    assert decode_capabilities(v3) == "cap_net_bind_service=ep [rootid=100000]"
    assert decode_capabilities(b"\x01\x02") == "invalid:0102"
    assert decode_capabilities(bytes.fromhex("000000ff") + bytes(8)) .startswith("invalid:")
    assert decode_capabilities(bytes.fromhex("00000002") + (1 << 45).to_bytes(8, "little")[:4]
                               + bytes(4) + (1 << 13).to_bytes(4, "little") + bytes(4)) == \
        "cap_45=p"


def test_update_accepts_changes(tmp_path: Path) -> None:
    root = tmp_path / "t"
    root.mkdir()
    (root / "a").write_text("1\n")
    db = tmp_path / "fim.db"
    Baseline.build([str(root)], db)
    (root / "a").write_text("2\n")
    assert [c.path for c in check(str(db), update=True).changes] == [str(root / "a")]
    assert check(str(db)).changes == []


def test_ignore_patterns(tmp_path: Path) -> None:
    root = tmp_path / "t"
    (root / "cache").mkdir(parents=True)
    (root / "keep").write_text("k\n")
    db = tmp_path / "fim.db"
    Baseline.build([str(root)], db, FimOptions(ignore=(f"{root}/cache", "*.swp")))
    (root / "cache" / "x").write_text("ignored: under an ignored directory\n")
    (root / "edit.swp").write_text("ignored by name\n")
    (root / "keep").write_text("changed\n")
    os.utime(root, (OLD_TIME, OLD_TIME))
    assert [(c.path, str(c.change)) for c in check(str(db)).changes] == [
        (str(root), "metadata"), (str(root / "keep"), "modified")]


def test_database_inside_the_tree_is_not_monitored(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x\n")
    db = tmp_path / "fim.db"
    Baseline.build([str(tmp_path)], db)
    Baseline.build([str(tmp_path)], db)  # the old database is in the tree while this runs
    for _ in range(2):
        # Writing the database (its journal) moves the directory's mtime, nothing else shows.
        assert [c.path for c in check(str(db), update=True).changes] in ([], [str(tmp_path)])
    assert ChangeKind.ADDED == "added"
