"""CycloneDX 1.6 JSON, built with cyclonedx-python-lib (spec-valid by construction)."""

from __future__ import annotations

import warnings
from datetime import datetime

from cyclonedx.model import HashAlgorithm, HashType, Property
from cyclonedx.model.bom import Bom
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.output.json import JsonV1Dot6
from packageurl import PackageURL

from stackwarden import __version__
from stackwarden.core.licenses import to_spdx
from stackwarden.core.models import SBOM, Package

from cyclonedx.contrib.license.factories import LicenseFactory

_LICENSES = LicenseFactory()


def _property(name: str, value: str) -> Property:
    return Property(name=f"stackwarden:{name}", value=value)


def _component(pkg: Package, layer_index: dict[str, int]) -> Component:
    props = [_property("package:type", str(pkg.type))]
    props += [_property("package:foundBy", f) for f in pkg.found_by]
    props += [_property(f"location:{i}:path", loc.path) for i, loc in enumerate(pkg.locations)]
    if pkg.layer:
        props.append(_property("layer:diffID", pkg.layer))
        if pkg.layer in layer_index:
            props.append(_property("layer:index", str(layer_index[pkg.layer])))
    if pkg.source_name:
        props.append(_property("package:sourceName", pkg.source_name))
        props.append(_property("package:sourceVersion", pkg.source_version or ""))
    if pkg.arch:
        props.append(_property("package:arch", pkg.arch))
    try:
        purl = PackageURL.from_string(pkg.purl) if pkg.purl else None
    except ValueError:
        purl = None
    return Component(
        type=ComponentType.LIBRARY,
        name=pkg.name,
        version=pkg.version,
        purl=purl,
        cpe=pkg.cpes[0] if pkg.cpes else None,
        bom_ref=f"pkg:{pkg.id}",
        licenses=[_LICENSES.make_from_string(to_spdx(text) or text) for text in pkg.licenses
                  if text],
        properties=props,
    )


def build_bom(sbom: SBOM) -> Bom:
    """The CycloneDX Bom object for an SBOM (the artifact is the metadata component)."""
    art = sbom.artifact
    image = art.digest is not None or art.config_digest is not None
    subject = Component(
        type=ComponentType.CONTAINER if image else ComponentType.FILE,
        name=art.name or art.reference,
        version=art.digest or art.config_digest or None,
        bom_ref=f"artifact:{art.digest or art.config_digest or art.reference}",
        properties=[_property("artifact:kind", art.kind),
                    _property("artifact:reference", art.reference)]
        + [_property(f"layer:{layer.index}:diffID", layer.diff_id) for layer in art.layers],
    )
    if art.config_digest and art.config_digest.startswith("sha256:"):
        subject.hashes.add(HashType(alg=HashAlgorithm.SHA_256,
                                    content=art.config_digest.split(":", 1)[1]))
    if sbom.os:
        subject.properties.add(_property("os:id", sbom.os.id))
        subject.properties.add(_property("os:versionID", sbom.os.version_id))
    bom = Bom()
    bom.metadata.component = subject
    if sbom.created:
        bom.metadata.timestamp = datetime.fromisoformat(sbom.created.replace("Z", "+00:00"))
    tool = Component(type=ComponentType.APPLICATION, name="stackwarden",
                     version=sbom.tool_version or __version__)
    bom.metadata.tools.components.add(tool)
    layer_index = {layer.diff_id: layer.index for layer in art.layers}
    components = [_component(pkg, layer_index) for pkg in sbom.packages]
    for component in components:
        bom.components.add(component)
    bom.register_dependency(subject, components)
    return bom


def render_sbom(sbom: SBOM) -> bytes:
    """CycloneDX 1.6 JSON."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return JsonV1Dot6(build_bom(sbom)).output_as_string(indent=2).encode() + b"\n"
