"""Java archives that are broken or hostile: each is skipped with one reason, never a crash,
and the other archives are still read."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from stackwarden.catalog.java import zipsafe
from stackwarden.core.config import Limits
from tests.helpers.java_archives import catalog, identities, manifest, pom_properties, zip_bytes

MANIFEST = "META-INF/MANIFEST.MF"
GOOD = zip_bytes({MANIFEST: manifest(),
                  "META-INF/maven/org.example/good/pom.properties":
                      pom_properties("org.example", "good", "1.0")})
ZEROS = b"\0" * (8 * 1024 * 1024)  # deflates about 1000:1


def _nested(levels: int) -> bytes:
    """A jar holding a jar holding a jar... each a package named level<n>."""
    data = zip_bytes({MANIFEST: manifest(Implementation_Version="1.0")})
    for level in range(levels - 1, 0, -1):
        data = zip_bytes({MANIFEST: manifest(Implementation_Version="1.0"),
                          f"lib/level{level + 1}-1.0.jar": data})
    return data


def _huge_directory() -> bytes:
    """A small zip whose end record claims a 2 GiB central directory."""
    data = bytearray(zip_bytes({MANIFEST: manifest()}))
    end = data.rfind(b"PK\x05\x06")
    data[end + 12:end + 16] = (0x7FFFFFFF).to_bytes(4, "little")
    return bytes(data)


def _patched_member(name: str, *, flags: int | None = None, method: int | None = None) -> bytes:
    """A WAR whose member `name` claims other flags or another compression method."""
    data = bytearray(zip_bytes({MANIFEST: manifest(), name: GOOD,
                                "WEB-INF/lib/good-1.0.jar": GOOD}))
    central = data.find(b"PK\x01\x02")
    while central >= 0:
        length = int.from_bytes(data[central + 28:central + 30], "little")
        if data[central + 46:central + 46 + length] == name.encode():
            local = int.from_bytes(data[central + 42:central + 46], "little")
            if flags is not None:
                data[central + 8:central + 10] = flags.to_bytes(2, "little")
                data[local + 6:local + 8] = flags.to_bytes(2, "little")
            if method is not None:
                data[central + 10:central + 12] = method.to_bytes(2, "little")
                data[local + 8:local + 10] = method.to_bytes(2, "little")
        central = data.find(b"PK\x01\x02", central + 4)
    return bytes(data)


APP = {("java-archive", "app", "1.0"), ("java-archive", "good", "1.0")}


@pytest.mark.parametrize(
    ("files", "expected", "reason"),
    [
        ({"corrupt-1.0.jar": b"PK\x03\x04 this is not really a zip"}, set(), "not a zip archive"),
        ({"truncated-1.0.jar": GOOD[: len(GOOD) // 2]}, set(), "not a zip archive"),
        ({"garbage-1.0.jar": b"\x7fELF" + b"\0" * 100}, set(), "not a zip archive"),
        ({"empty-1.0.jar": b""}, set(), "not a zip archive"),
        # a member that inflates a thousandfold, posing as a nested jar
        ({"bomb-1.0.war": zip_bytes({MANIFEST: manifest(), "WEB-INF/lib/evil-1.0.jar": ZEROS})},
         {("java-archive", "bomb", "1.0")}, "compression ratio 1"),
        ({"huge-1.0.jar": zip_bytes({MANIFEST: ZEROS})}, set(), "compression ratio"),
        ({"many-1.0.jar": _huge_directory()}, set(), "central directory is 2147483647 bytes"),
        # five levels of nesting: the fifth is past max_archive_depth=4 and is skipped
        ({"level1-1.0.jar": _nested(6)},
         {("java-archive", f"level{n}", "1.0") for n in range(1, 6)}, "nested deeper than 4"),
        # nested members that cannot be read are skipped; their siblings are still read
        ({"app-1.0.war": zip_bytes({MANIFEST: manifest(), "WEB-INF/lib/broken-1.0.jar": b"nope",
                                    "WEB-INF/lib/good-1.0.jar": GOOD})}, APP, "not a zip archive"),
        ({"app-1.0.war": _patched_member("WEB-INF/lib/secret-1.0.jar", flags=0x1)}, APP,
         "member is encrypted"),
        ({"app-1.0.war": _patched_member("WEB-INF/lib/odd-1.0.jar", method=9)}, APP,
         "unreadable member (NotImplementedError"),
    ],
)
def test_bad_archives_are_skipped_with_a_reason(tmp_path: Path, files: dict[str, bytes],
                                                expected: set[tuple[str, str, str]],
                                                reason: str) -> None:
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / "good-1.0.jar").write_bytes(GOOD)
    sbom = catalog(tmp_path)
    assert identities(sbom) == expected | {("java-archive", "good", "1.0")}
    assert len(sbom.skipped) == 1 and reason in sbom.skipped[0].reason, sbom.skipped
    assert sbom.skipped[0].by == "java-archive-cataloger"


def test_duplicate_manifests_refuse_the_archive(tmp_path: Path) -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr(MANIFEST, manifest())
        with pytest.warns(UserWarning):
            z.writestr(MANIFEST, manifest(Implementation_Version="2"))
    (tmp_path / "twice-1.0.jar").write_bytes(out.getvalue())
    sbom = catalog(tmp_path)
    assert not sbom.packages
    assert [s.reason for s in sbom.skipped] == ["2 copies of META-INF/MANIFEST.MF"]


def test_archives_without_identity_yield_nothing(tmp_path: Path) -> None:
    (tmp_path / "1.0.jar").write_bytes(zip_bytes({MANIFEST: manifest()}))
    (tmp_path / "no-manifest-1.0.jar").write_bytes(
        zip_bytes({"META-INF/maven/g/a/pom.properties": pom_properties("g", "a", "1")}))
    (tmp_path / "weave-1.0.jar").write_bytes(zip_bytes({MANIFEST: manifest(Weave_Classes="x")}))
    (tmp_path / "Rar-1.0.rar").write_bytes(b"Rar!\x1a\x07\x01\x00 a real RAR archive")
    sbom = catalog(tmp_path)
    assert not sbom.packages and not sbom.skipped


def test_nested_bytes_limit(tmp_path: Path) -> None:
    (tmp_path / "app-1.0.war").write_bytes(
        zip_bytes({MANIFEST: manifest(), "WEB-INF/lib/good-1.0.jar": GOOD}))
    sbom = catalog(tmp_path, Limits(max_nested_archive_bytes=100))
    assert identities(sbom) == {("java-archive", "app", "1.0")}
    assert "over the 100-byte limit" in sbom.skipped[0].reason


def test_entry_count_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(zipsafe, "MAX_ENTRIES", 1)
    (tmp_path / "two-1.0.jar").write_bytes(GOOD)
    sbom = catalog(tmp_path)
    assert not sbom.packages
    assert sbom.skipped[0].reason == "archive declares 2 entries, over the 1 limit"
