"""Remembered cataloger results: a rebuilt image re-parses only what changed, and the SBOM is
the one a fresh inventory gives (the oracle), also when a new layer changes a side file."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from stackwarden.artifact import open_target
from stackwarden.artifact.build import ImageSpec, LayerFile, layer_tar, write_oci_layout
from stackwarden.catalog.base import Cataloger
from stackwarden.catalog.engine import catalog_artifact
from stackwarden.catalog.registry import select_catalogers
from stackwarden.catalog.sbom import package_to_dict
from stackwarden.core.models import SBOM

SITE = "usr/lib/python3/dist-packages"
STATUS = (b"Package: bash\nStatus: install ok installed\nArchitecture: amd64\n"
          b"Version: 5.2.15-2+b2\n\nPackage: zlib1g\nStatus: install ok installed\n"
          b"Architecture: amd64\nVersion: 1:1.2.13.dfsg-1\n")


def _dist(name: str, version: str) -> list[LayerFile]:
    info = f"{SITE}/{name}-{version}.dist-info"
    return [LayerFile(f"{info}/METADATA",
                      f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()),
            LayerFile(f"{info}/RECORD", f"{name}/__init__.py,,\n".encode())]


BASE = layer_tar([LayerFile("etc/os-release", b"ID=debian\nVERSION_ID=12\n"),
                  LayerFile("var/lib/dpkg/status", STATUS),
                  *_dist("six", "1.16.0"), *_dist("idna", "3.7"), *_dist("certifi", "2024.2.2")])

TOPS = {
    "same": layer_tar([LayerFile("app/main.py", b"print(1)\n")]),
    "record-changed": layer_tar([LayerFile(f"{SITE}/six-1.16.0.dist-info/RECORD",
                                           b"six/__init__.py,,\nsix/moves.py,,\n")]),
    "record-deleted": layer_tar([LayerFile(f"{SITE}/idna-3.7.dist-info/RECORD",
                                           type="whiteout")]),
    "dist-deleted": layer_tar([LayerFile(f"{SITE}/certifi-2024.2.2.dist-info", type="whiteout")]),
    "os-changed": layer_tar([LayerFile("etc/os-release", b"ID=debian\nVERSION_ID=13\n")]),
    "status-changed": layer_tar([LayerFile("var/lib/dpkg/status", STATUS + (
        b"\nPackage: curl\nStatus: install ok installed\nArchitecture: amd64\n"
        b"Version: 7.88.1-10\n"))]),
}


def _image(tmp_path: Path, name: str, top: bytes) -> str:
    write_oci_layout(tmp_path / name, ImageSpec([BASE, top], compress=False))
    return f"oci-dir:{tmp_path / name}"


def _catalog(target: str, memo: Path | None) -> SBOM:
    with open_target(target) as art:
        return catalog_artifact(art, select_catalogers(art.info.kind), memo_dir=memo)


def _packages(sbom: SBOM) -> list[dict[str, object]]:
    return [package_to_dict(p) for p in sbom.packages]


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """How many times each file was parsed, across catalogers."""
    count: Counter[str] = Counter()
    for cataloger in select_catalogers("oci-dir"):
        original = type(cataloger).parse

        def spy(self: Cataloger, entry: object, ctx: object, _orig: object = original) -> object:
            count[entry.path] += 1  # type: ignore[attr-defined]
            return _orig(self, entry, ctx)  # type: ignore[operator]

        monkeypatch.setattr(type(cataloger), "parse", spy)
    return count


@pytest.mark.parametrize("change", sorted(TOPS))
def test_rebuilt_image_sbom_matches_a_fresh_inventory(tmp_path: Path, change: str,
                                                       parses: Counter[str]) -> None:
    memo = tmp_path / "memo"
    first = _image(tmp_path, "v1", TOPS["same"])
    rebuilt = _image(tmp_path, "v2", TOPS[change])
    _catalog(first, memo)
    assert parses["/var/lib/dpkg/status"] == 1
    parses.clear()
    remembered = _catalog(rebuilt, memo)
    fresh = _catalog(rebuilt, None)
    assert _packages(remembered) == _packages(fresh)
    assert remembered.os == fresh.os
    reparsed = {path for path in parses if parses[path] > 1}  # parsed with the memo too
    expected = {
        "same": set(),
        "record-changed": {f"/{SITE}/six-1.16.0.dist-info/METADATA"},
        "record-deleted": {f"/{SITE}/idna-3.7.dist-info/METADATA"},
        "dist-deleted": set(),
        "os-changed": {"/var/lib/dpkg/status"} | {f"/{SITE}/{d}.dist-info/METADATA" for d in (
            "six-1.16.0", "idna-3.7", "certifi-2024.2.2")},
        "status-changed": {"/var/lib/dpkg/status"},  # both copies: layer attribution
    }[change]
    assert reparsed == expected
    if change == "status-changed":  # bash from the base layer, curl from the new one
        layers = {p.name: p.layer for p in remembered.packages if p.type == "deb"}
        assert layers["bash"] != layers["curl"]
        parses.clear()
        again = _catalog(rebuilt, memo)
        assert not parses and _packages(again) == _packages(fresh)


def test_second_scan_of_the_same_image_parses_nothing(tmp_path: Path,
                                                      parses: Counter[str]) -> None:
    memo = tmp_path / "memo"
    target = _image(tmp_path, "v1", TOPS["same"])
    first = _catalog(target, memo)
    parses.clear()
    again = _catalog(target, memo)
    assert not parses
    assert _packages(again) == _packages(first)
    assert again.timings["memo_hits"] > 0 and again.timings["memo_misses"] == 0


def test_broken_memo_files_are_ignored(tmp_path: Path) -> None:
    memo = tmp_path / "memo"
    target = _image(tmp_path, "v1", TOPS["same"])
    first = _catalog(target, memo)
    for path in memo.rglob("*.json"):
        path.write_text('{"diff_id": 1, "entries": [')
    assert _packages(_catalog(target, memo)) == _packages(first)
