"""dpkg: status files and status.d, checked against dpkg-query and Syft on a real Debian root."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from stackwarden.artifact import open_target
from stackwarden.artifact.build import ImageSpec, layer_from_dir, write_oci_layout
from stackwarden.artifact.directory import DirectoryArtifact
from stackwarden.catalog.dpkg import DpkgCataloger, copyright_licenses, parse_source
from stackwarden.catalog.engine import catalog_artifact
from tests.helpers.debian import apt_download, debootstrap_rootfs
from tests.helpers.syft import agreement, syft_packages


@pytest.mark.parametrize(
    ("field", "name", "version", "expected"),
    [
        ("", "bash", "5.2.15-2+b2", ("bash", "5.2.15-2+b2")),
        ("glibc", "libc6", "2.36-9", ("glibc", "2.36-9")),
        # binNMU: the binary carries +b1, advisories know the source version
        ("glibc (2.36-9)", "libc6", "2.36-9+b1", ("glibc", "2.36-9")),
        ("util-linux (2.38.1-5)", "bsdutils", "1:2.38.1-5+b1", ("util-linux", "2.38.1-5")),
        ("bash", "bash", "5.2.15-2+b2", ("bash", "5.2.15-2+b2")),
    ],
)
def test_parse_source(field: str, name: str, version: str, expected: tuple[str, str]) -> None:
    assert parse_source(field, name, version) == expected


def test_copyright_licenses() -> None:
    text = ("Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\n"
            "Files: *\nLicense: GPL-2+\n\nFiles: lib/*\nLicense: LGPL-2.1\n"
            " see /usr/share/common-licenses/LGPL-2.1\n")
    assert copyright_licenses(text) == ("GPL-2+", "LGPL-2.1")


STATUS = """\
Package: kept
Status: install ok installed
Architecture: amd64
Version: 1.0-1
Source: kept-src (1.0-0.1)

Package: removed
Status: deinstall ok config-files
Architecture: amd64
Version: 2.0-1

Package: unpacked
Status: install ok unpacked
Architecture: all
Version: 3.0
Description: a long
 description over
 several lines

Package: broken-no-version
Status: install ok installed
"""


def _root(tmp_path: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def test_status_states_and_source(tmp_path: Path) -> None:
    root = _root(tmp_path, {"var/lib/dpkg/status": STATUS,
                            "var/lib/dpkg/info/kept.list": "/.\n/usr\n/usr/bin/kept\n",
                            "etc/os-release": "ID=debian\nVERSION_ID=12\n"})
    sbom = catalog_artifact(DirectoryArtifact(root, kind="rootfs"), [DpkgCataloger()])
    got = {p.name: p for p in sbom.packages}
    assert set(got) == {"kept", "unpacked"}
    kept = got["kept"]
    assert (kept.source_name, kept.source_version) == ("kept-src", "1.0-0.1")
    assert kept.purl == ("pkg:deb/debian/kept@1.0-1?arch=amd64&distro=debian-12"
                         "&upstream=kept-src%401.0-0.1")
    assert kept.files == ("/usr", "/usr/bin/kept")


def test_distroless_status_d(tmp_path: Path) -> None:
    root = _root(tmp_path, {
        "var/lib/dpkg/status.d/base": "Package: base-files\nVersion: 12.4\n"
                                      "Architecture: amd64\n",
        "var/lib/dpkg/status.d/base.md5sums": "d41d8cd98f00b204e9800998ecf8427e  etc/issue\n",
        "var/lib/dpkg/status.d/tzdata": "Package: tzdata\nVersion: 2024a-0+deb12u1\n"
                                        "Architecture: all\n",
    })
    sbom = catalog_artifact(DirectoryArtifact(root), [DpkgCataloger()])
    got = {p.name: p for p in sbom.packages}
    assert set(got) == {"base-files", "tzdata"}
    assert got["base-files"].files == ("/etc/issue",)


def test_garbage_status_is_skipped_with_a_reason(tmp_path: Path) -> None:
    root = tmp_path / "r"
    (root / "var/lib/dpkg").mkdir(parents=True)
    (root / "var/lib/dpkg/status").write_bytes(b"\x00\xff garbage \x00" * 100)
    sbom = catalog_artifact(DirectoryArtifact(root), [DpkgCataloger()])
    assert sbom.packages == ()
    assert [(s.path, s.by) for s in sbom.skipped] == [("/var/lib/dpkg/status",
                                                       "dpkg-db-cataloger")]


def _dpkg_query(root: Path) -> dict[str, tuple[str, str, str]]:
    fmt = "${db:Status-Status}\\t${Package}\\t${Version}\\t${source:Package}\\t${source:Version}\\n"
    out = subprocess.run(["dpkg-query", f"--admindir={root}/var/lib/dpkg", "-W", "-f", fmt],
                         capture_output=True, text=True, check=True).stdout
    rows = [line.split("\t") for line in out.splitlines()]
    return {r[1]: (r[2], r[3], r[4]) for r in rows if r[0] in ("installed", "unpacked",
                                                               "half-configured")}


@pytest.mark.slow
def test_real_rootfs_matches_dpkg_query_and_syft() -> None:
    root = debootstrap_rootfs()
    sbom = catalog_artifact(DirectoryArtifact(root, kind="rootfs"), [DpkgCataloger()])
    ours = {p.name: p for p in sbom.packages}
    oracle = _dpkg_query(root)
    assert len(ours) > 80
    assert {n: (p.version, p.source_name, p.source_version) for n, p in ours.items()} == oracle
    # owned files agree with `dpkg-query -L` for a few packages
    for name in ("bash", "coreutils", "libc6"):
        listed = subprocess.run(["dpkg-query", f"--admindir={root}/var/lib/dpkg", "-L", name],
                                capture_output=True, text=True, check=True).stdout.split("\n")
        assert set(ours[name].files) == {p for p in listed if p and p != "/."}
    assert sbom.os is not None and (sbom.os.id, sbom.os.version_id) == ("debian", "12")
    theirs = syft_packages(f"dir:{root}", catalogers="image", types={"deb"})
    mine = {(str(p.type), p.name, p.version) for p in sbom.packages}
    assert agreement(mine, theirs) >= 0.99, sorted(mine ^ theirs)
    assert "GPL-2+" in ours["bash"].licenses or "GPL-3+" in ours["bash"].licenses


def _install_layer(base: Path, work: Path, debs: list[Path]) -> Path:
    """Run real dpkg (unpack) into a copy of `base`; return a directory with what changed."""
    after = work / "after"
    if after.exists():
        shutil.rmtree(after)
    shutil.copytree(base, after, symlinks=True)
    subprocess.run(["dpkg", f"--root={after}", "--force-depends", "--force-script-chrootless",
                    "--no-triggers", "--unpack", *map(str, debs)], capture_output=True,
                   check=True)
    changed = work / f"layer-{len(list(work.glob('layer-*')))}"
    for path in after.rglob("*"):
        rel = path.relative_to(after)
        old = base / rel
        if path.is_dir() and not path.is_symlink():
            continue
        if old.exists() and not path.is_symlink() and path.read_bytes() == old.read_bytes():
            continue
        target = changed / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target, follow_symlinks=False)
    shutil.rmtree(base)
    after.rename(base)
    return changed


@pytest.mark.slow
def test_each_package_is_attributed_to_the_layer_that_installed_it(tmp_path: Path) -> None:
    root = debootstrap_rootfs()
    state = tmp_path / "state"
    (state / "var/lib").mkdir(parents=True)
    shutil.copytree(root / "var/lib/dpkg", state / "var/lib/dpkg")
    (state / "usr/lib").mkdir(parents=True)
    shutil.copy(root / "usr/lib/os-release", state / "usr/lib/os-release")
    layers = [layer_from_dir(state)]
    onig, libjq, jq = apt_download("libonig5", "libjq1", "jq")
    layers.append(layer_from_dir(_install_layer(state, tmp_path, [onig])))
    layers.append(layer_from_dir(_install_layer(state, tmp_path, [libjq, jq])))
    write_oci_layout(tmp_path / "image", ImageSpec(layers, compress=False))
    with open_target(f"oci-dir:{tmp_path / 'image'}") as art:
        sbom = catalog_artifact(art, [DpkgCataloger()])
        diff_ids = [layer.diff_id for layer in art.info.layers]
    layer_of = {p.name: diff_ids.index(p.layer) for p in sbom.packages}
    assert layer_of["libonig5"] == 1
    assert layer_of["jq"] == 2 and layer_of["libjq1"] == 2
    assert layer_of["bash"] == 0 and layer_of["libc6"] == 0
    assert {n for n, i in layer_of.items() if i == 0} == \
        set(layer_of) - {"libonig5", "jq", "libjq1"}
    libjq1 = next(p for p in sbom.packages if p.name == "libjq1")
    assert libjq1.source_name == "jq"
    assert any(f.endswith("/libjq.so.1") for f in libjq1.files)
