"""Java archives: real Debian jars and WAR/EAR/Spring Boot/shaded archives built from them,
checked against Syft's java-archive-cataloger (broken ones: test_java_bad_input.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from stackwarden.artifact import open_target
from stackwarden.artifact.build import (
    ImageSpec,
    LayerFile,
    layer_from_dir,
    layer_tar,
    write_oci_layout,
)
from stackwarden.artifact.directory import DirectoryArtifact
from stackwarden.catalog.base import CatalogContext
from stackwarden.catalog.engine import catalog_artifact
from stackwarden.catalog.java import JavaArchiveCataloger
from stackwarden.catalog.java.manifest import (
    ArchiveName,
    parse_archive_name,
    parse_manifest,
    select_name,
    select_version,
)
from stackwarden.catalog.java.maven import parse_pom_properties, pom_licenses
from stackwarden.core.models import Package
from tests.helpers.deb_root import unpacked_debs
from tests.helpers.java_archives import build_archives, catalog, identities, manifest, zip_bytes
from tests.helpers.syft import agreement, syft_packages

JAVA_DEBS = (
    "libcommons-lang3-java", "libslf4j-java", "libjackson2-core-java", "libguava-java",
    "libjackson2-databind-java", "libjackson2-annotations-java", "libcommons-io-java",
    "libcommons-codec-java", "libcommons-logging-java", "libcommons-compress-java",
    "liblog4j2-java", "libjoda-time-java", "libgoogle-gson-java", "libhttpclient-java",
    "libhttpcore-java", "libservlet-api-java", "libjsr305-java", "libxz-java", "libhamcrest-java",
    "libasm-java", "libjna-java", "libjetty9-java", "libtomcat9-java", "libspring-core-java",
    "libsnappy-java", "libaopalliance-java", "libatinject-jsr330-api-java", "libjsoup-java",
    "libjline2-java", "libjansi-java", "libosgi-core-java", "libfelix-framework-java",
    "libmail-java",
)
JAVA_TYPES = {"java-archive", "jenkins-plugin"}


@pytest.fixture(scope="module")
def debian_java() -> Path:
    """Real jars (and their symlinks) as Debian ships them under /usr/share/java."""
    return unpacked_debs("java", JAVA_DEBS)


def syft_java(root: Path) -> set[tuple[str, str, str]]:
    """Syft's Java packages; Syft prints an absent version as UNKNOWN, we leave it empty."""
    found = syft_packages(f"dir:{root}", catalogers="image", types=JAVA_TYPES)
    return {(t, n, "" if v == "UNKNOWN" else v) for t, n, v in found}


def parsed(root: Path, path: str) -> dict[str, Package]:
    """What the cataloger finds in one file (before the engine merges duplicates), keyed by
    virtual path."""
    art = DirectoryArtifact(root)
    entry = art.lstat(path)
    assert entry is not None
    found = JavaArchiveCataloger().parse(entry, CatalogContext(art))
    return {p.metadata["virtual_path"]: p for p in found}


# --- file names, manifests, pom files -------------------------------------------------------

@pytest.mark.parametrize(
    ("path", "name", "version", "extension"),
    [
        ("pkg-maven-4.3.2.jar", "pkg-maven", "4.3.2", "jar"),
        ("pkg-extra-field-maven-4.3.2-rc1.ear", "pkg-extra-field-maven", "4.3.2-rc1", "ear"),
        ("liferay-package.lpkg", "liferay-package", "", "lpkg"),
        ("/some/path-with-version-5.4.3/wagon-webdav-1.0.2-beta-2.2.3a-hudson.jar",
         "wagon-webdav", "1.0.2-beta-2.2.3a-hudson", "jar"),
        ("/hudson.war:WEB-INF/lib/jtidy-4aug2000r7-dev-hudson-1.jar", "jtidy",
         "4aug2000r7-dev-hudson-1", "jar"),
        ("trilead-ssh2-build212-hudson-5.jar", "trilead-ssh2", "build212-hudson-5", "jar"),
        ("guava-r06.jar", "guava", "r06", "jar"),
        ("BOOT-INF/lib/spring-data-r2dbc-1.1.0.RELEASE.jar", "spring-data-r2dbc",
         "1.1.0.RELEASE", "jar"),
        ("jboss-saaj-api_1.4_spec-1.0.2.Final.jar", "jboss-saaj-api_1.4_spec", "1.0.2.Final",
         "jar"),
        ("jsr305-0.1~+svn49.jar", "jsr305", "0.1~+svn49", "jar"),
        ("commons-lang3.jar", "commons-lang3", "", "jar"),
        ("foo_1.0.jar", "foo", "1.0", "jar"),  # the second pass: `_1.0` at the end
        ("foo--1.0.jar", "foo-", "1.0", "jar"),
        ("1.0.jar", "", "", "jar"),  # no word to name it by
        ("a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t.u.v.w.x.y.z-_.jar", "", "", "jar"),  # no blow-up
    ],
)
def test_archive_names_split_like_syft(path: str, name: str, version: str, extension: str) -> None:
    assert parse_archive_name(path) == ArchiveName(name, version, extension)


def test_manifest_sections_continuations_and_junk() -> None:
    text = ("Manifest-Version: 1.0\r\nImplementation-Title: Commons Lo\r\n gging\r\n"
            "no colon here\r\nImplementation-Title: second wins not\r\n\r\n"
            "Name: org/foo/\r\nImplementation-Version: 2.0\r\n")
    manifest = parse_manifest(text)
    assert manifest.get("Implementation-Title") == "Commons Logging"
    assert manifest.get("Implementation-Version") == ""
    assert manifest.anywhere("Implementation-Version") == "2.0"
    assert manifest.sections[0]["Name"] == "org/foo/"


@pytest.mark.parametrize(
    ("manifest", "file_name", "name", "version"),
    [
        # Apache's bundle plugin: Bundle-SymbolicName is groupId.artifactId
        ("Created-By: Apache Maven Bundle Plugin\nBundle-SymbolicName: org.apache.commons.logging\n"
         "Implementation-Version: 1.2\n", "commons-logging.jar", "logging", "1.2"),
        # ...unless the symbolic name is only the vendor's group id
        ("Created-By: Apache Maven Bundle Plugin\nBundle-SymbolicName: com.google.oauth-client\n"
         "Implementation-Vendor-Id: com.google.oauth-client\n", "google-oauth-client-1.25.0.jar",
         "google-oauth-client", "1.25.0"),
        ("Bundle-Version: 4.6.1\n", "org.apache.felix.framework.jar", "framework", "4.6.1"),
        ("Bundle-Version: 3.1\n", "org.eclipse.osgi.jar", "org.eclipse.osgi", "3.1"),
        ("Implementation-Title: Some Title\nSpecification-Version: 9\n", "1.jar", "Some Title",
         "9"),
    ],
)
def test_name_and_version_without_maven_data(manifest: str, file_name: str, name: str,
                                             version: str) -> None:
    parsed, archive = parse_manifest(manifest), parse_archive_name(file_name)
    assert (select_name(parsed, archive), select_version(parsed, archive)) == (name, version)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("#Generated by Maven\ngroupId=org.slf4j\nartifactId=slf4j-api\nversion=1.7.32\n",
         ("org.slf4j", "slf4j-api", "1.7.32")),
        ("groupId: g\nartifactId : a\nversion=1\nversion=2\n", ("g", "a", "2")),
        ("groupId=g\nartifactId=a\n", None),  # no version: not a package
        ("groupId=g\nartifactId=a\nversion=1\ngarbage line\n", None),
    ],
)
def test_pom_properties(text: str, expected: tuple[str, str, str] | None) -> None:
    found = parse_pom_properties("META-INF/maven/g/a/pom.properties", text)
    assert (found and (found.group_id, found.artifact_id, found.version)) == expected


def test_pom_licenses_names_else_urls() -> None:
    text = """<project><!-- <licenses><license><name>fake</name></license></licenses> -->
      <licenses>
        <license><name>Apache License, Version 2.0</name><url>https://x/LICENSE-2.0</url></license>
        <license><url>https://www.eclipse.org/legal/epl-2.0</url></license>
        <license><name><![CDATA[GPL &amp; CE]]></name></license>
        <license><name>Q &amp; A</name></license>
      </licenses></project>"""
    assert pom_licenses(text) == ["Apache License, Version 2.0",
                                  "https://www.eclipse.org/legal/epl-2.0", "GPL &amp; CE", "Q & A"]


# --- real jars ------------------------------------------------------------------------------

@pytest.mark.network
def test_debian_jars_agree_with_syft(debian_java: Path) -> None:
    sbom = catalog(debian_java)
    ours, theirs = identities(sbom), syft_java(debian_java)
    assert len(ours) > 140
    assert agreement(ours, theirs) >= 0.99, (sorted(ours - theirs), sorted(theirs - ours))
    assert not sbom.skipped
    java = "/usr/share/java/"
    lang3 = parsed(debian_java, java + "commons-lang3.jar")[java + "commons-lang3.jar"]
    assert lang3.purl == "pkg:maven/org.apache.commons/commons-lang3@3.12.0"
    # licenses: the manifest's Bundle-License, else the embedded pom.xml's <licenses>
    guava = parsed(debian_java, java + "guava.jar")[java + "guava.jar"]
    core = parsed(debian_java, java + "jackson-core.jar")[java + "jackson-core.jar"]
    assert guava.licenses == ("http://www.apache.org/licenses/LICENSE-2.0.txt",)
    assert core.licenses == ("The Apache Software License, Version 2.0",)
    assert lang3.metadata["group_id"] == "org.apache.commons"
    assert len(lang3.metadata["sha1"]) == 40
    # an OSGi bundle embedding other artifacts: one package per pom.properties
    osgi = parsed(debian_java, "/usr/share/java/httpclient-osgi.jar")
    assert len(osgi) == 6  # itself and five embedded artifacts
    child = osgi["/usr/share/java/httpclient-osgi.jar:commons-codec:commons-codec"]
    assert (child.name, child.version) == ("commons-codec", "1.15")
    assert child.metadata["parent"] == "/usr/share/java/httpclient-osgi.jar"
    # manifest-only jars are named from the file name and versioned from the manifest
    xz = parsed(debian_java, java + "xz-1.9.jar")[java + "xz-1.9.jar"]
    assert (xz.name, xz.version, xz.metadata["group_id"]) == ("xz", "1.9", "org.tukaani.xz")


# --- archives built from real jars ----------------------------------------------------------

@pytest.fixture(scope="module")
def archives(debian_java: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_archives(debian_java / "usr/share/java", tmp_path_factory.mktemp("archives"))


@pytest.mark.network
def test_nested_archives_agree_with_syft(archives: Path) -> None:
    sbom = catalog(archives)
    ours, theirs = identities(sbom), syft_java(archives)
    assert agreement(ours, theirs) >= 0.99, (sorted(ours - theirs), sorted(theirs - ours))
    paths = parsed(archives, "/shop-app.ear")
    war = "/shop-app.ear:shop-2.3.0.war"
    assert (paths[war].name, paths[war].version) == ("shop", "2.3.0")
    guava = paths[f"{war}:WEB-INF/lib/guava-31.1-jre.jar"]
    assert guava.purl == "pkg:maven/com.google.guava/guava@31.1-jre"
    assert guava.metadata["parent"] == war
    assert guava.locations[0].path == "/shop-app.ear"  # the real file that holds it
    assert {p.name for p in paths.values()} == {
        "shop-app", "shop", "slf4j-api", "commons-lang3", "jackson-core", "guava", "logging",
        "httpclient-osgi", "httpclient", "httpmime", "fluent-hc", "httpclient-cache",
        "commons-codec", "jackson-databind", "jackson-annotations"}
    boot = parsed(archives, "/demo-0.0.1-SNAPSHOT.jar")[
        "/demo-0.0.1-SNAPSHOT.jar:BOOT-INF/lib/gson-2.10.jar"]
    assert (boot.name, boot.version) == ("gson", "2.10")
    shaded = {(p.name, p.version) for p in sbom.packages
              if p.metadata["virtual_path"].startswith("/tools-1.4.jar")}
    assert shaded == {("tools", "1.4"), ("gson", "2.10"), ("joda-time", "2.10.14"),
                      ("commons-io", "2.11.0")}
    plugin = parsed(archives, "/audit-trail.hpi")["/audit-trail.hpi"]
    assert (str(plugin.type), plugin.name) == ("jenkins-plugin", "audit-trail")
    assert plugin.purl == "pkg:maven/io.jenkins.plugins/audit-trail@361.v82cde86c784e"
    wrapped = parsed(archives, "/distribution.zip")
    assert wrapped["/distribution.zip:shop/shop-2.3.0.war"].name == "shop"
    assert "/distribution.zip" not in wrapped  # a plain zip is no package of its own
    assert not sbom.skipped


@pytest.mark.network
def test_layered_image_attributes_each_archive_to_its_layer(
        debian_java: Path, archives: Path, tmp_path: Path) -> None:
    base = layer_from_dir(debian_java / "usr/share/java", "/usr/share/java")
    app = layer_from_dir(archives, "/opt/app")
    write_oci_layout(tmp_path / "layout", ImageSpec([base, app], history=["ADD jars", "ADD app"]))
    with open_target(f"oci-dir:{tmp_path / 'layout'}") as art:
        sbom = catalog_artifact(art, [JavaArchiveCataloger()])
        layers = [layer.diff_id for layer in art.info.layers]
    theirs = {(t, n, "" if v == "UNKNOWN" else v) for t, n, v in syft_packages(
        f"oci-dir:{tmp_path / 'layout'}", catalogers="image", types=JAVA_TYPES)}
    assert agreement(identities(sbom), theirs) >= 0.99
    for pkg in sbom.packages:
        # a package in both layers (a jar also bundled in the app) belongs to the older one
        in_app = all(loc.path.startswith("/opt/app/") for loc in pkg.locations)
        expected = layers[1] if in_app else layers[0]
        assert pkg.layer == expected, pkg


def test_a_rebuilt_war_keeps_unchanged_libraries_in_their_first_layer(tmp_path: Path) -> None:
    def war(*libs: tuple[str, str]) -> bytes:
        return zip_bytes({"META-INF/MANIFEST.MF": manifest(), **{
            f"WEB-INF/lib/{name}-{version}.jar": zip_bytes({"META-INF/MANIFEST.MF": manifest()})
            for name, version in libs}})

    old = war(("kept", "1.0"), ("bumped", "1.0"))
    new = war(("kept", "1.0"), ("bumped", "2.0"))
    spec = ImageSpec([layer_tar([LayerFile("srv/app-1.0.war", old)]),
                      layer_tar([LayerFile("srv/app-1.0.war", new)])])
    write_oci_layout(tmp_path / "layout", spec)
    with open_target(f"oci-dir:{tmp_path / 'layout'}") as art:
        sbom = catalog_artifact(art, [JavaArchiveCataloger()])
        first, second = (layer.diff_id for layer in art.info.layers)
    layers = {(p.name, p.version): p.layer for p in sbom.packages}
    assert layers == {("app", "1.0"): first, ("kept", "1.0"): first, ("bumped", "2.0"): second}
