"""Package-manager changes: a file the package manager wrote (its content matches what dpkg or
rpm records for it now) is labelled package_update; the same file changed by hand is not."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from stackwarden.agent.fim import Baseline, FimOptions, check
from tests.helpers.env import unavailable


def _run(cmd: list[str], **kwargs: object) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False,
                          stdin=subprocess.DEVNULL, **kwargs)  # type: ignore[call-overload]
    assert done.returncode == 0, f"{cmd[0]} failed: {done.stderr[-800:]}"


def build_deb(work: Path, version: str) -> Path:
    """A tiny .deb (a script, a data file that changes, one that does not)."""
    tree = work / f"pkg-{version}"
    (tree / "DEBIAN").mkdir(parents=True)
    (tree / "usr/bin").mkdir(parents=True)
    (tree / "usr/share/swdemo").mkdir(parents=True)
    (tree / "DEBIAN/control").write_text(
        f"Package: swdemo\nVersion: {version}\nArchitecture: all\n"
        "Maintainer: StackWarden tests <tests@example.invalid>\nDescription: FIM test\n")
    (tree / "usr/bin/swdemo").write_text(f"#!/bin/sh\necho {version}\n")
    (tree / "usr/bin/swdemo").chmod(0o755)
    (tree / "usr/share/swdemo/data").write_text(f"data of {version}\n")
    (tree / "usr/share/swdemo/same").write_text("same in every version\n")
    out = work / f"swdemo_{version}.deb"
    _run(["dpkg-deb", "--root-owner-group", "-b", str(tree), str(out)])
    return out


def dpkg_install(root: Path, deb: Path) -> None:
    _run(["dpkg", f"--root={root}", "--force-not-root", "--force-script-chrootless",
          "--force-depends", "--log=/dev/null", "-i", str(deb)])


def test_dpkg_upgrade_is_labelled_and_tampering_is_not(tmp_path: Path) -> None:
    if not shutil.which("dpkg") or not shutil.which("dpkg-deb"):
        unavailable("dpkg and dpkg-deb are needed to install a real package")
    root = tmp_path / "root"
    for sub in ("var/lib/dpkg/info", "var/lib/dpkg/updates", "var/lib/dpkg/triggers"):
        (root / sub).mkdir(parents=True)
    (root / "var/lib/dpkg/status").write_text("")
    dpkg_install(root, build_deb(tmp_path, "1.0"))
    db = tmp_path / "fim.db"
    Baseline.build([str(root / "usr")], db, FimOptions(root=str(root)))
    dpkg_install(root, build_deb(tmp_path, "2.0"))
    with (root / "usr/share/swdemo/data").open("a") as handle:  # by hand, after the upgrade
        handle.write("tampered\n")
    changes = {c.path[len(str(root)):]: c for c in check(str(db)).changes}
    script, data = changes["/usr/bin/swdemo"], changes["/usr/share/swdemo/data"]
    assert (str(script.change), script.label) == ("modified", "package_update")
    assert script.package == {"manager": "dpkg", "name": "swdemo", "version": "2.0"}
    assert (str(data.change), data.label) == ("modified", None)
    assert data.package is not None and data.package["name"] == "swdemo"
    same = changes.get("/usr/share/swdemo/same")
    if same is not None:  # dpkg replaced it (new inode) with identical bytes
        assert (str(same.change), same.label) == ("metadata", "package_update")
    os.chmod(root / "usr/bin/swdemo", 0o4755)  # setuid added to a package file: not an update
    (root / "usr/bin/swdemo").write_text("#!/bin/sh\necho evil\n")
    script = next(c for c in check(str(db)).changes if c.path.endswith("/usr/bin/swdemo"))
    assert script.label is None and "mode" in script.fields


RPM_SPEC = """\
%define debug_package %{{nil}}
Name: swdemo
Version: {version}
Release: 1
Summary: FIM test
License: MIT
BuildArch: noarch
%description
FIM test.
%install
mkdir -p %{{buildroot}}/usr/bin %{{buildroot}}/usr/share/swdemo
printf '#!/bin/sh\\necho {version}\\n' > %{{buildroot}}/usr/bin/swdemo
chmod 755 %{{buildroot}}/usr/bin/swdemo
echo 'data of {version}' > %{{buildroot}}/usr/share/swdemo/data
%files
/usr/bin/swdemo
/usr/share/swdemo/data
"""


def test_rpm_upgrade_is_labelled_and_tampering_is_not(tmp_path: Path) -> None:
    if not shutil.which("rpm") or not shutil.which("rpmbuild"):
        unavailable("rpm and rpmbuild (Debian package rpm) are needed to install a real rpm")
    top = tmp_path / "rpmbuild"
    rpms = {}
    for version in ("1.0", "2.0"):
        spec = tmp_path / f"swdemo-{version}.spec"
        spec.write_text(RPM_SPEC.format(version=version))
        _run(["rpmbuild", "--define", f"_topdir {top}", "--define", "_build_id_links none",
              "-bb", str(spec)])
        rpms[version] = next(top.glob(f"RPMS/noarch/swdemo-{version}-1.noarch.rpm"))
    root = tmp_path / "root"
    root.mkdir()
    base = ["rpm", "--root", str(root), "--dbpath", "/var/lib/rpm",
            "--define", "_db_backend sqlite"]
    rpm = [*base, "--nodeps", "--noscripts", "--nosignature"]
    _run([*base, "--initdb"])
    _run([*rpm, "-i", str(rpms["1.0"])])
    db = tmp_path / "fim.db"
    Baseline.build([str(root / "usr")], db, FimOptions(root=str(root)))
    _run([*rpm, "-U", str(rpms["2.0"])])
    with (root / "usr/share/swdemo/data").open("a") as handle:
        handle.write("tampered\n")
    changes = {c.path[len(str(root)):]: c for c in check(str(db)).changes}
    script, data = changes["/usr/bin/swdemo"], changes["/usr/share/swdemo/data"]
    assert (str(script.change), script.label) == ("modified", "package_update")
    assert script.package == {"manager": "rpm", "name": "swdemo", "version": "2.0-1"}
    assert (str(data.change), data.label) == ("modified", None)


@pytest.mark.parametrize("line", ["garbage", "0123  ", "  usr/bin/x", ""])
def test_malformed_md5sums_lines_are_ignored(tmp_path: Path, line: str) -> None:
    from stackwarden.agent.fim.packages import PackageDigests

    info = tmp_path / "var/lib/dpkg/info"
    info.mkdir(parents=True)
    (info / "p.md5sums").write_text(f"{line}\n{'a' * 32}  usr/bin/ok\n")
    digests = PackageDigests(str(tmp_path))
    assert digests.lookup("/usr/bin/ok") is not None
    assert digests.lookup("/bin/ok") is not None  # usr-merged alias
    assert digests.lookup("/usr/bin/x") is None
