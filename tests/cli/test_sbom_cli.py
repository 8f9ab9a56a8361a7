"""`stackwarden sbom` as a user runs it: output, exit codes, one-line errors, safe files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from stackwarden.artifact.build import ImageSpec, LayerFile, layer_tar, write_oci_layout

CLI = [sys.executable, "-m", "stackwarden"]


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, input=stdin,
                          timeout=120, check=False)


@pytest.fixture()
def image(tmp_path: Path) -> Path:
    layer = layer_tar([
        LayerFile("etc/os-release", b"ID=debian\nVERSION_ID=12\n"),
        LayerFile("var/lib/dpkg/status", b"Package: bash\nStatus: install ok installed\n"
                                         b"Architecture: amd64\nVersion: 5.2.15-2+b2\n"),
    ])
    write_oci_layout(tmp_path / "img", ImageSpec([layer]))
    return tmp_path / "img"


def test_json_to_file(image: Path, tmp_path: Path) -> None:
    out = tmp_path / "sbom.json"
    done = run("sbom", f"oci-dir:{image}", "-f", "json", "-o", str(out), "-q")
    assert done.returncode == 0, done.stderr
    doc = json.loads(out.read_text())
    assert [p["name"] for p in doc["packages"]] == ["bash"]
    assert doc["artifact"]["kind"] == "oci-dir" and doc["artifact"]["digest"].startswith("sha256:")


def test_table_to_stdout(image: Path) -> None:
    done = run("sbom", str(image), "-q")
    assert done.returncode == 0
    assert "bash" in done.stdout and "5.2.15-2+b2" in done.stdout


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["sbom", "/no/such/dir"], 2, "no such file"),
        (["sbom", "dir:/no/such/dir"], 3, "not a directory"),
        (["sbom", ".", "-f", "nonsense"], 2, "unknown format"),
        (["sbom", ".", "--catalogers", "nonsense"], 2, "no cataloger or tag"),
    ],
)
def test_errors_are_one_line(args: list[str], code: int, needle: str) -> None:
    done = run(*args)
    assert done.returncode == code, done.stderr
    assert needle in done.stderr
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_corrupt_image_is_exit_3(image: Path) -> None:
    (image / "index.json").write_text("{")
    done = run("sbom", f"oci-dir:{image}")
    assert done.returncode == 3
    assert "index.json" in done.stderr and "Traceback" not in done.stderr


def test_output_into_missing_directory_is_exit_3(image: Path, tmp_path: Path) -> None:
    done = run("sbom", str(image), "-o", str(tmp_path / "missing" / "sbom.json"))
    assert done.returncode == 3
    assert "cannot write" in done.stderr
    assert not (tmp_path / "missing").exists()


def test_every_command_has_help() -> None:
    for command in ("sbom", "demo", "version"):
        done = run(command, "--help")
        assert done.returncode == 0 and "Usage:" in done.stdout


def test_output_file_has_the_usual_permissions(image: Path, tmp_path: Path) -> None:
    import os

    out = tmp_path / "sbom.json"
    assert run("sbom", str(image), "-f", "json", "-o", str(out), "-q").returncode == 0
    mask = os.umask(0)
    os.umask(mask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~mask
