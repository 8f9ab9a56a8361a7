"""Maven metadata embedded in archives: `pom.properties` (identity) and `pom.xml` (licenses)."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from stackwarden.catalog.base import purl
from stackwarden.catalog.java.manifest import Manifest, clean_group_id, group_id_from_manifest

# Group ids Maven publishers of Jenkins plugins use; Syft types those packages jenkins-plugin.
JENKINS_GROUP_PREFIXES = ("io.jenkins.plugins", "org.jenkins.plugins", "org.jenkins-ci.plugins",
                          "io.jenkins-ci.plugins", "com.cloudbees.jenkins.plugins")
_LICENSES = re.compile(r"<licenses\b[^>]*>(.*?)</licenses\s*>", re.DOTALL)
_LICENSE = re.compile(r"<license\b[^>]*>(.*?)</license\s*>", re.DOTALL)
_NAME = re.compile(r"<name\b[^>]*>(.*?)</name\s*>", re.DOTALL)
_URL = re.compile(r"<url\b[^>]*>(.*?)</url\s*>", re.DOTALL)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_CDATA = re.compile(r"<!\[CDATA\[(.*?)\]\]>", re.DOTALL)


@dataclass(frozen=True, slots=True)
class PomProperties:
    """The identity Maven writes into `META-INF/maven/<group>/<artifact>/pom.properties`."""

    path: str
    group_id: str
    artifact_id: str
    version: str

    @property
    def parent_dir(self) -> str:
        """The directory holding the file (a pom.xml beside it describes the same artifact)."""
        return self.path.rpartition("/")[0]

    @property
    def is_jenkins_plugin(self) -> bool:
        """Whether the group id says this is a Jenkins plugin."""
        group = self.group_id
        return group.startswith(JENKINS_GROUP_PREFIXES) or ".jenkins.plugin" in group


def parse_pom_properties(path: str, text: str) -> PomProperties | None:
    """Parse `key=value` / `key:value` lines; None when the file is not usable.

    Like Syft, a line without a separator makes the whole file unusable, and an entry without
    artifactId or version is ignored.
    """
    values: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", "!")):
            continue
        cut = min((i for i in (line.find("="), line.find(":")) if i >= 0), default=-1)
        if cut < 0:
            return None
        values[line[:cut].strip()] = line[cut + 1:].strip()  # the last one wins, as in Java
    artifact, version = values.get("artifactId", ""), values.get("version", "")
    if not artifact or not version:
        return None
    return PomProperties(path, values.get("groupId", ""), artifact, version)


def _xml_text(fragment: str) -> str:
    """Element text: entities resolved outside CDATA sections, CDATA kept verbatim."""
    parts, last = [], 0
    for cdata in _CDATA.finditer(fragment):
        parts += [html.unescape(fragment[last:cdata.start()]), cdata.group(1)]
        last = cdata.end()
    parts.append(html.unescape(fragment[last:]))
    return " ".join("".join(parts).split())


def pom_licenses(text: str) -> list[str]:
    """License names (else URLs) from a pom.xml's `<licenses>` block, read without an XML parser
    so that entity tricks in hostile files cannot expand."""
    block = _LICENSES.search(_COMMENT.sub("", text))
    if not block:
        return []
    found: list[str] = []
    for lic in _LICENSE.finditer(block.group(1)):
        name, url = _NAME.search(lic.group(1)), _URL.search(lic.group(1))
        value = _xml_text(name.group(1)) if name else ""
        value = value or (_xml_text(url.group(1)) if url else "")
        if value:
            found.append(value)
    return list(dict.fromkeys(found))


def group_id_for(name: str, pom: PomProperties | None, manifest: Manifest | None) -> str:
    """The group id a package's PURL uses: pom.properties, then the manifest, then the name.

    An artifactId with dots is taken as a group id a publisher put in the wrong field.
    """
    if pom is not None:
        if pom.group_id:
            return clean_group_id(pom.group_id)
        if "." in pom.artifact_id:
            return clean_group_id(pom.artifact_id)
    return group_id_from_manifest(manifest) or name


def maven_purl(group_id: str, name: str, version: str) -> str:
    """`pkg:maven/<group>/<artifact>@<version>`."""
    return purl("maven", name, version, namespace=group_id)
