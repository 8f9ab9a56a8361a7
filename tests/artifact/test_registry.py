"""Registry targets against a real docker-registry: pull by tag and digest, platforms, tampering."""

from __future__ import annotations

import json
import os
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from stackwarden.artifact import TargetOptions, open_target
from stackwarden.artifact.build import ImageSpec, LayerFile, layer_tar, write_oci_layout
from stackwarden.artifact.image import OCI_INDEX, OCI_MANIFEST, default_platform
from stackwarden.artifact.registry import (
    DOCKER_HUB,
    ImageReference,
    RegistryClient,
    parse_reference,
    push_oci_layout,
)
from stackwarden.core.config import Limits
from stackwarden.core.errors import (
    ArtifactError,
    DigestMismatch,
    LimitExceeded,
    RegistryError,
    UsageError,
)
from tests.helpers.registry import Registry, run_registry

BASE = layer_tar([
    LayerFile("etc", type="dir", mode=0o755),
    LayerFile("etc/os-release", b"ID=alpine\nVERSION_ID=3.20.0\n"),
    LayerFile("app/secret.txt", b"password=hunter2\n"),
])
TOP = layer_tar([
    LayerFile("app/secret.txt", type="whiteout"),
    LayerFile("app/main.py", b"print('hi')\n"),
])


def _arch_spec(arch: str, variant: str | None = None) -> ImageSpec:
    return ImageSpec([BASE, layer_tar([LayerFile("etc/arch", arch.encode())])],
                     architecture=arch, variant=variant, history=["ADD base", f"ADD {arch}"])


def _unique_spec(marker: str) -> ImageSpec:
    """An image whose blobs no other test shares (registry storage is content-addressed)."""
    return ImageSpec([layer_tar([LayerFile("marker", marker.encode() * 64)])])


@dataclass
class Pushed:
    """The registry the module's tests share, with what was pushed to it."""

    registry: Registry
    layouts: Path
    single: str  # manifest digest of single:v1
    multi: str  # index digest of multi:v1


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pushed]:
    root = tmp_path_factory.mktemp("registry")
    layouts = root / "layouts"
    write_oci_layout(layouts / "single", ImageSpec([BASE, TOP], history=["ADD", "RUN"]))
    write_oci_layout(layouts / "multi", [_arch_spec("amd64"), _arch_spec("arm64", "v8")],
                     multiarch=True)
    with run_registry(root / "plain") as registry:
        single = push_oci_layout(layouts / "single", f"{registry.host}/single:v1")
        for tag in ("v2", "v3", "latest"):
            push_oci_layout(layouts / "single", f"{registry.host}/single:{tag}")
        multi = push_oci_layout(layouts / "multi", f"{registry.host}/multi:v1")
        yield Pushed(registry, layouts, single, multi)


def _layout_manifest(layout: Path, digest: str) -> dict:
    return json.loads((layout / "blobs" / digest.replace(":", "/")).read_text())


def test_pull_by_tag_matches_the_layout(plain: Pushed) -> None:
    host = plain.registry.host
    with open_target(f"registry:{host}/single:v1") as pulled, \
            open_target(f"oci-dir:{plain.layouts / 'single'}") as local:
        assert pulled.info.kind == "registry"
        assert pulled.info.reference == f"registry:{host}/single:v1"
        assert pulled.info.name == f"{host}/single:v1"
        assert pulled.info.repo_tags == (f"{host}/single:v1",)
        assert pulled.info.digest == plain.single == local.info.digest
        assert pulled.info.config_digest == local.info.config_digest
        assert pulled.info.layers == local.info.layers
        assert {e.path for e in pulled.files()} == {e.path for e in local.files()}
        assert "/app/secret.txt" not in {e.path for e in pulled.files()}
        assert pulled.read("/app/main.py") == b"print('hi')\n"
        assert pulled.history("/app/secret.txt")[0].layer == 0  # deleted, still reachable


@pytest.mark.parametrize(("platform", "arch"), [
    ("linux/arm64", "arm64"),
    ("linux/arm64/v8", "arm64"),
    ("linux/amd64", "amd64"),
    (None, default_platform().split("/")[1]),
])
def test_platform_picks_the_image_from_the_index(plain: Pushed, platform: str | None,
                                                 arch: str) -> None:
    with open_target(f"registry:{plain.registry.host}/multi:v1",
                     TargetOptions(platform=platform)) as art:
        assert art.read("/etc/arch") == arch.encode()
        assert art.info.platform is not None and art.info.platform.split("/")[1] == arch
        index = _layout_manifest(plain.layouts / "multi", plain.multi)
        chosen = [m["digest"] for m in index["manifests"]
                  if m["platform"]["architecture"] == arch]
        assert art.info.digest == chosen[0]  # the platform manifest is the identity


def test_platform_missing_from_the_index_lists_what_exists(plain: Pushed) -> None:
    with pytest.raises(ArtifactError, match=r"no image for platform linux/s390x \(available: "
                                            r"linux/amd64, linux/arm64/v8\)") as caught:
        open_target(f"registry:{plain.registry.host}/multi:v1",
                    TargetOptions(platform="linux/s390x"))
    assert f"{plain.registry.host}/multi:v1" in str(caught.value)


def test_pull_by_digest(plain: Pushed) -> None:
    host = plain.registry.host
    with open_target(f"registry:{host}/single@{plain.single}") as art:
        assert art.info.digest == plain.single
        assert art.info.repo_tags == ()
        assert art.info.name == f"{host}/single@{plain.single}"
    with open_target(f"registry:{host}/multi@{plain.multi}",
                     TargetOptions(platform="linux/arm64")) as art:
        assert art.read("/etc/arch") == b"arm64"


def test_a_digest_the_registry_does_not_hold_fails_clearly(plain: Pushed) -> None:
    target = f"registry:{plain.registry.host}/single@sha256:{'0' * 64}"
    with pytest.raises(RegistryError, match=r"HTTP 404.*MANIFEST_UNKNOWN") as caught:
        open_target(target)
    assert str(caught.value).startswith(target + ": fetching manifest sha256:000")


def test_unknown_tag_and_repository_fail_clearly(plain: Pushed) -> None:
    host = plain.registry.host
    with pytest.raises(RegistryError, match="HTTP 404.*MANIFEST_UNKNOWN"):
        open_target(f"registry:{host}/single:nope")
    with pytest.raises(RegistryError, match="HTTP 404.*MANIFEST_UNKNOWN"):
        open_target(f"registry:{host}/nobody/here:v1")


def _push_unique(plain: Pushed, name: str) -> tuple[str, dict]:
    layout = plain.layouts / name
    digest = write_oci_layout(layout, _unique_spec(name))
    push_oci_layout(layout, f"{plain.registry.host}/{name}:v1")
    return digest, _layout_manifest(layout, digest)


def _flip_byte(path: Path, offset: int = -1) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def test_a_tampered_layer_blob_is_a_digest_mismatch(plain: Pushed) -> None:
    _, manifest = _push_unique(plain, "tampered-layer")
    _flip_byte(plain.registry.blob_path(manifest["layers"][0]["digest"]), 20)
    with pytest.raises(DigestMismatch, match="hashes to"):
        open_target(f"registry:{plain.registry.host}/tampered-layer:v1")


def test_a_tampered_config_blob_is_a_digest_mismatch(plain: Pushed) -> None:
    _, manifest = _push_unique(plain, "tampered-config")
    path = plain.registry.blob_path(manifest["config"]["digest"])
    path.write_bytes(path.read_bytes().replace(b'"amd64"', b'"arm64"'))
    with pytest.raises(DigestMismatch):
        open_target(f"registry:{plain.registry.host}/tampered-config:v1")


@pytest.mark.parametrize("by", ["tag", "digest"])
def test_a_tampered_manifest_is_a_digest_mismatch(plain: Pushed, by: str) -> None:
    name = f"tampered-manifest-{by}"
    digest, _ = _push_unique(plain, name)
    path = plain.registry.blob_path(digest)
    data = bytearray(path.read_bytes())
    end = data.rfind(b'"size":') + len(b'"size":')
    while chr(data[end]).isdigit():
        end += 1
    data[end - 1] ^= 0x01  # the last digit of a layer size: still valid JSON, other bytes
    path.write_bytes(bytes(data))
    ref = "v1" if by == "tag" else digest
    sep = ":" if by == "tag" else "@"
    with pytest.raises(DigestMismatch, match="hashes to"):
        open_target(f"registry:{plain.registry.host}/{name}{sep}{ref}")


def test_a_manifest_pointing_at_a_missing_blob_fails_clearly(plain: Pushed) -> None:
    _, manifest = _push_unique(plain, "missing-blob")
    layer = manifest["layers"][0]["digest"]
    os.unlink(plain.registry.blob_path(layer))
    target = f"registry:{plain.registry.host}/missing-blob:v1"
    with pytest.raises(RegistryError, match=f"fetching blob {layer} failed: HTTP 404") as caught:
        open_target(target)
    assert str(caught.value).startswith(target)


def test_manifests_over_the_limit_are_refused(plain: Pushed) -> None:
    options = TargetOptions(limits=Limits(max_manifest_bytes=100))
    with pytest.raises(LimitExceeded, match="100-byte limit"):
        open_target(f"registry:{plain.registry.host}/single:v1", options)


def test_client_lists_tags_and_repositories_across_pages(plain: Pushed) -> None:
    with RegistryClient(plain.registry.host) as client:
        assert sorted(client.list_tags("single", page_size=1)) == ["latest", "v1", "v2", "v3"]
        assert client.list_tags("single") == client.list_tags("single", page_size=3)
        repositories = client.catalog(page_size=1)
        assert {"single", "multi"} <= set(repositories)
        assert repositories == sorted(repositories) and len(set(repositories)) == len(repositories)


def test_client_reads_manifests_and_digests(plain: Pushed) -> None:
    with RegistryClient(plain.registry.host) as client:
        assert client.head_manifest("single", "v1") == plain.single
        assert client.head_manifest("single", "missing") is None
        index = client.get_manifest("multi", "v1")
        assert (index.media_type, index.digest) == (OCI_INDEX, plain.multi)
        child = index.document["manifests"][0]["digest"]
        assert client.get_manifest("multi", child).media_type == OCI_MANIFEST


def test_pushing_again_uploads_nothing_new(plain: Pushed) -> None:
    with RegistryClient(plain.registry.host) as client:
        manifest = _layout_manifest(plain.layouts / "single", plain.single)
        for desc in (manifest["config"], *manifest["layers"]):
            assert client.blob_exists("single", desc["digest"])
            assert not client.upload_blob("single", desc["digest"], desc["size"], b"unused")
    assert push_oci_layout(plain.layouts / "single", f"{plain.registry.host}/single:v1") \
        == plain.single


def test_blobs_are_streamed_not_held_in_memory(plain: Pushed) -> None:
    big = os.urandom(32 * 1024 * 1024)
    layout = plain.layouts / "big"
    write_oci_layout(layout, ImageSpec([layer_tar([LayerFile("big.bin", big)])], compress=False))
    push_oci_layout(layout, f"{plain.registry.host}/big:v1")
    del big
    tracemalloc.start()
    try:
        with open_target(f"registry:{plain.registry.host}/big:v1") as art:
            assert art.lstat("/big.bin").size == 32 * 1024 * 1024
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # reading the same layer from an OCI layout peaks near 8 MiB here: streaming adds ~1 MiB
    assert peak < 12 * 1024 * 1024, f"peak {peak} bytes while pulling a 32 MiB layer"


@pytest.mark.parametrize(("value", "expected"), [
    ("alpine", ImageReference(DOCKER_HUB, "library/alpine", "latest")),
    ("library/alpine", ImageReference(DOCKER_HUB, "library/alpine", "latest")),
    ("docker.io/alpine:3.20", ImageReference(DOCKER_HUB, "library/alpine", "3.20")),
    ("index.docker.io/bitnami/redis", ImageReference(DOCKER_HUB, "bitnami/redis", "latest")),
    ("localhost:5000/x", ImageReference("localhost:5000", "x", "latest")),
    ("localhost/x:y", ImageReference("localhost", "x", "y")),
    ("127.0.0.1:5000/a/b/c:v1.2_3-r4", ImageReference("127.0.0.1:5000", "a/b/c", "v1.2_3-r4")),
    ("[::1]:5000/x:1", ImageReference("[::1]:5000", "x", "1")),
    ("ghcr.io/owner/img@sha256:" + "a" * 64,
     ImageReference("ghcr.io", "owner/img", None, "sha256:" + "a" * 64)),
    ("quay.io/o/i:t@sha256:" + "b" * 64, ImageReference("quay.io", "o/i", "t", "sha256:" + "b" * 64)),
    ("my-registry.example.com:443/team/app", ImageReference("my-registry.example.com:443",
                                                            "team/app", "latest")),
    ("user/repo_name__x.y-z", ImageReference(DOCKER_HUB, "user/repo_name__x.y-z", "latest")),
])
def test_references_parse(value: str, expected: ImageReference) -> None:
    assert parse_reference(value) == expected
    assert parse_reference(str(expected)) == expected


@pytest.mark.parametrize(("value", "message"), [
    ("", "HOST/REPOSITORY"),
    ("https://ghcr.io/x/y", "without a URL scheme"),
    ("ghcr.io/Owner/img", "malformed repository name"),
    ("ghcr.io/x/y:bad/tag", "malformed repository name"),
    ("ghcr.io/x/y:-bad", "malformed tag"),
    ("ghcr.io/x/y@sha256:abc", "malformed digest"),
    ("ghcr.io/x/y@md5:" + "a" * 32, "malformed digest"),
    ("ghcr.io/x/../y", "malformed repository name"),
    ("bad_host.io:x/y", "malformed registry host"),
    ("a b/c", "HOST/REPOSITORY"),
])
def test_malformed_references_are_usage_errors(value: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_reference(value)
