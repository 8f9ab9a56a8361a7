"""SPDX 2.3 JSON, built and validated with spdx-tools."""

from __future__ import annotations

import hashlib
import io
import re
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from license_expression import ExpressionError
from spdx_tools.common.spdx_licensing import spdx_licensing
from spdx_tools.spdx.model import (
    Actor,
    ActorType,
    CreationInfo,
    Document,
    ExternalPackageRef,
    ExternalPackageRefCategory,
    ExtractedLicensingInfo,
    Package,
    Relationship,
    RelationshipType,
    SpdxNoAssertion,
)
from spdx_tools.spdx.writer.json.json_writer import write_document_to_stream

from stackwarden import __version__
from stackwarden.core.errors import ReportError
from stackwarden.core.licenses import to_spdx
from stackwarden.core.models import SBOM
from stackwarden.core.models import Package as SwPackage

if TYPE_CHECKING:
    from stackwarden.scan import ScanResult

_ID_UNSAFE = re.compile(r"[^A-Za-z0-9.\-]+")
NAMESPACE_BASE = "https://stackwarden.dev/spdxdocs/"


def _spdx_id(prefix: str, *parts: str) -> str:
    return "SPDXRef-" + _ID_UNSAFE.sub("-", "-".join((prefix, *parts)))[:180]


class _Licenses:
    """SPDX expressions for license strings; anything else becomes a LicenseRef."""

    def __init__(self) -> None:
        self.extracted: dict[str, ExtractedLicensingInfo] = {}

    def expression(self, texts: tuple[str, ...]):  # type: ignore[no-untyped-def]
        if not texts:
            return SpdxNoAssertion()
        parts = []
        for text in texts:
            text = text.strip()
            if not text:
                continue
            spdx = to_spdx(text)
            if spdx:
                parts.append(f"({spdx})" if " " in spdx else spdx)
                continue
            ref = "LicenseRef-" + (_ID_UNSAFE.sub("-", text).strip("-")[:60] or "unknown") \
                + "-" + hashlib.sha256(text.encode()).hexdigest()[:8]
            self.extracted.setdefault(ref, ExtractedLicensingInfo(
                license_id=ref, extracted_text=text, license_name=text[:200]))
            parts.append(ref)
        if not parts:
            return SpdxNoAssertion()
        try:
            return spdx_licensing.parse(" AND ".join(parts))
        except ExpressionError:
            return SpdxNoAssertion()


def _package(pkg: SwPackage, licenses: _Licenses, layer_index: dict[str, int]) -> Package:
    refs = [ExternalPackageRef(ExternalPackageRefCategory.PACKAGE_MANAGER, "purl", pkg.purl)] \
        if pkg.purl else []
    refs += [ExternalPackageRef(ExternalPackageRefCategory.SECURITY, "cpe23Type", cpe)
             for cpe in pkg.cpes]
    comment = f"found by {', '.join(pkg.found_by)} at {', '.join(l.path for l in pkg.locations)}"
    if pkg.layer in layer_index:
        comment += f"; introduced by layer {layer_index[pkg.layer]} ({pkg.layer})"
    source_info = (f"source package {pkg.source_name} {pkg.source_version}"
                   if pkg.source_name and pkg.source_name != pkg.name else None)
    return Package(
        spdx_id=_spdx_id("Package", str(pkg.type), pkg.name, pkg.id),
        name=pkg.name,
        download_location=SpdxNoAssertion(),
        version=pkg.version,
        files_analyzed=False,
        license_concluded=SpdxNoAssertion(),
        license_declared=licenses.expression(pkg.licenses),
        copyright_text=SpdxNoAssertion(),
        supplier=SpdxNoAssertion(),
        source_info=source_info,
        external_references=refs,
        comment=comment,
    )


def build_document(sbom: SBOM) -> Document:
    """The SPDX Document for an SBOM: the artifact as the described package, DESCRIBES/CONTAINS."""
    art = sbom.artifact
    created = (datetime.fromisoformat(sbom.created.replace("Z", "+00:00")) if sbom.created
               else datetime.now(UTC)).replace(microsecond=0)
    name = art.name or art.reference
    seed = f"{art.reference}|{art.digest}|{art.config_digest}|{sbom.created}"
    info = CreationInfo(
        spdx_version="SPDX-2.3", spdx_id="SPDXRef-DOCUMENT", name=name,
        document_namespace=NAMESPACE_BASE + _ID_UNSAFE.sub("-", name).strip("-") + "-"
        + str(uuid.uuid5(uuid.NAMESPACE_URL, seed)),
        creators=[Actor(ActorType.TOOL, f"stackwarden-{sbom.tool_version or __version__}")],
        created=created,
    )
    subject = Package(
        spdx_id=_spdx_id("Artifact", art.kind, name), name=name,
        download_location=SpdxNoAssertion(), version=art.digest or art.config_digest or None,
        files_analyzed=False, license_concluded=SpdxNoAssertion(),
        license_declared=SpdxNoAssertion(), copyright_text=SpdxNoAssertion(),
        comment=f"{art.kind} target {art.reference}",
    )
    licenses = _Licenses()
    layer_index = {layer.diff_id: layer.index for layer in art.layers}
    packages = [_package(pkg, licenses, layer_index) for pkg in sbom.packages]
    relationships = [Relationship("SPDXRef-DOCUMENT", RelationshipType.DESCRIBES, subject.spdx_id)]
    relationships += [Relationship(subject.spdx_id, RelationshipType.CONTAINS, p.spdx_id)
                      for p in packages]
    return Document(creation_info=info, packages=[subject, *packages],
                    relationships=relationships,
                    extracted_licensing_info=sorted(licenses.extracted.values(),
                                                    key=lambda e: e.license_id or ""))


def render_sbom(sbom: SBOM) -> bytes:
    """SPDX 2.3 JSON; spdx-tools validates the document while writing it."""
    out = io.StringIO()
    try:
        write_document_to_stream(build_document(sbom), out, validate=True)
    except ValueError as exc:
        raise ReportError(f"SPDX document failed validation: {str(exc)[:500]}",
                          source="spdx") from exc
    return out.getvalue().encode() + b"\n"


def render_scan(result: ScanResult) -> bytes:
    """The scan's SBOM as SPDX 2.3 JSON (SPDX 2.3 has no place for findings: use CycloneDX)."""
    return render_sbom(result.sbom)
