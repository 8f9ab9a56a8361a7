"""Read SBOMs other tools wrote (CycloneDX, SPDX, Syft JSON) so they can be matched (`sbom:FILE`)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from packageurl import PackageURL

from stackwarden.catalog.sbom import sbom_from_dict
from stackwarden.core.errors import UsageError
from stackwarden.core.models import SBOM, ArtifactInfo, Location, OSRelease, Package, PackageType

MAX_SBOM_BYTES = 512 * 1024 * 1024
_PURL_TYPES = {"deb": PackageType.DEB, "apk": PackageType.APK, "rpm": PackageType.RPM,
               "pypi": PackageType.PYTHON, "npm": PackageType.NPM, "golang": PackageType.GO,
               "cargo": PackageType.RUST, "maven": PackageType.JAVA, "gem": PackageType.GEM,
               "composer": PackageType.COMPOSER, "nuget": PackageType.DOTNET}
_SRPM = re.compile(r"^(?P<name>.+)-(?P<version>[^-]+)-(?P<release>[^-]+)\.src\.rpm$")


def package_from_purl(text: str, *, found_by: str, location: str = "",
                      licenses: tuple[str, ...] = ()) -> Package | None:
    """A Package from a PURL (None for types StackWarden does not match)."""
    try:
        purl = PackageURL.from_string(text)
    except ValueError:
        return None
    kind = _PURL_TYPES.get(purl.type)
    if kind is None or not purl.version:
        return None
    quals = purl.qualifiers if isinstance(purl.qualifiers, dict) else {}
    name = purl.name
    metadata: dict[str, Any] = {}
    version = purl.version
    source_name = source_version = None
    if kind is PackageType.JAVA:
        metadata = {"groupId": purl.namespace or "", "artifactId": purl.name}
    elif kind in (PackageType.GO, PackageType.COMPOSER) and purl.namespace:
        name = f"{purl.namespace}/{purl.name}"
    elif kind is PackageType.NPM and purl.namespace:
        name = f"{purl.namespace}/{purl.name}"
    elif kind in (PackageType.DEB, PackageType.APK):
        upstream = quals.get("upstream", "")
        source_name, _, source_version = upstream.partition("@")
        source_name = source_name or name
        source_version = source_version or version
    elif kind is PackageType.RPM:
        if quals.get("epoch") and ":" not in version:
            version = f"{quals['epoch']}:{version}"
            metadata["epoch"] = quals["epoch"]
        match = _SRPM.match(quals.get("upstream", ""))
        if match:
            source_name = match.group("name")
            source_version = f"{match.group('version')}-{match.group('release')}"
    return Package(name=name, version=version, type=kind, purl=text, found_by=(found_by,),
                   locations=(Location(location),) if location else (), licenses=licenses,
                   arch=quals.get("arch"), source_name=source_name,
                   source_version=source_version, metadata=metadata)


def _os_from_purls(packages: list[Package]) -> OSRelease | None:
    for pkg in packages:
        if pkg.type.is_os:
            distro = PackageURL.from_string(pkg.purl).qualifiers.get("distro", "")  # type: ignore[union-attr]
            os_id, _, version = distro.partition("-")
            if os_id:
                return OSRelease(id=os_id, version_id=version, source="purl distro qualifier")
    return None


def _cyclonedx(doc: dict[str, Any], where: str) -> SBOM:
    packages = []
    os_release = None
    subject = (doc.get("metadata") or {}).get("component") or {}

    def walk(components: list[Any]) -> None:
        nonlocal os_release
        for comp in components or []:
            if not isinstance(comp, dict):
                continue
            if comp.get("type") == "operating-system" and comp.get("name"):
                os_release = OSRelease(id=str(comp["name"]).lower(),
                                       version_id=str(comp.get("version", "")),
                                       source="CycloneDX operating-system component")
            licenses = tuple(str((entry.get("license") or {}).get("id")
                                 or (entry.get("license") or {}).get("name")
                                 or entry.get("expression") or "")
                             for entry in comp.get("licenses") or [] if isinstance(entry, dict))
            if comp.get("purl"):
                pkg = package_from_purl(str(comp["purl"]), found_by="cyclonedx-import",
                                        licenses=tuple(x for x in licenses if x))
                if pkg is not None:
                    packages.append(pkg)
            walk(comp.get("components") or [])

    walk(doc.get("components") or [])
    info = ArtifactInfo(kind="sbom", reference=where, name=str(subject.get("name") or where))
    return SBOM(artifact=info, packages=tuple(packages),
                os=os_release or _os_from_purls(packages), catalogers=("cyclonedx-import",))


def _spdx(doc: dict[str, Any], where: str) -> SBOM:
    packages = []
    os_release = None
    for item in doc.get("packages") or []:
        if not isinstance(item, dict):
            continue
        if item.get("primaryPackagePurpose") == "OPERATING-SYSTEM" and item.get("name"):
            os_release = OSRelease(id=str(item["name"]).lower(),
                                   version_id=str(item.get("versionInfo", "")),
                                   source="SPDX operating-system package")
        for ref in item.get("externalRefs") or []:
            if isinstance(ref, dict) and ref.get("referenceType") == "purl":
                declared = item.get("licenseDeclared")
                licenses = (declared,) if isinstance(declared, str) and declared not in (
                    "NOASSERTION", "NONE") else ()
                pkg = package_from_purl(str(ref.get("referenceLocator", "")),
                                        found_by="spdx-import", licenses=licenses)
                if pkg is not None:
                    packages.append(pkg)
    info = ArtifactInfo(kind="sbom", reference=where, name=str(doc.get("name") or where))
    return SBOM(artifact=info, packages=tuple(packages),
                os=os_release or _os_from_purls(packages), catalogers=("spdx-import",))


def _syft(doc: dict[str, Any], where: str) -> SBOM:
    packages = []
    for art in doc.get("artifacts") or []:
        if not isinstance(art, dict) or not art.get("purl"):
            continue
        locations = art.get("locations") or []
        path = str(locations[0].get("path", "")) if locations and isinstance(locations[0],
                                                                             dict) else ""
        pkg = package_from_purl(str(art["purl"]), found_by="syft-import", location=path)
        if pkg is not None:
            packages.append(pkg)
    distro = doc.get("distro") or {}
    os_release = OSRelease(id=str(distro.get("id", "")).lower(),
                           version_id=str(distro.get("versionID", "")),
                           source="syft distro") if distro.get("id") else None
    source = doc.get("source") or {}
    info = ArtifactInfo(kind="sbom", reference=where, name=str(source.get("name") or where))
    return SBOM(artifact=info, packages=tuple(packages),
                os=os_release or _os_from_purls(packages), catalogers=("syft-import",))


def read_sbom_document(doc: Any, where: str) -> SBOM:
    """Recognise the SBOM format of a parsed JSON document and read it."""
    if not isinstance(doc, dict):
        raise UsageError("not an SBOM (expected a JSON object)", source=where)
    readers = {"CycloneDX": _cyclonedx, "SPDX": _spdx, "Syft": _syft}
    kind = ("CycloneDX" if doc.get("bomFormat") == "CycloneDX"
            else "SPDX" if str(doc.get("spdxVersion", "")).startswith("SPDX-")
            else "Syft" if "artifacts" in doc and "source" in doc else None)
    if kind is not None:
        try:
            return readers[kind](doc, where)
        except (TypeError, AttributeError, KeyError, ValueError) as exc:
            raise UsageError(f"malformed {kind} document: {type(exc).__name__}: {exc}",
                             source=where) from exc
    if "schema_version" in doc and "packages" in doc:
        return sbom_from_dict(doc, where=where)
    if "schema_version" in doc and isinstance(doc.get("sbom"), dict) and "findings" in doc:
        # a StackWarden scan report: its SBOM is split across artifact, os and sbom
        return sbom_from_dict({"schema_version": doc["schema_version"],
                               "artifact": doc.get("artifact"), "os": doc.get("os"),
                               "packages": doc["sbom"].get("packages", []),
                               "catalogers": doc["sbom"].get("catalogers", [])}, where=where)
    raise UsageError("unknown SBOM format (expected CycloneDX JSON, SPDX JSON, Syft JSON or "
                     "StackWarden JSON)", source=where)


def read_sbom_file(path: Path) -> SBOM:
    """Read an SBOM file in any supported format."""
    try:
        if path.stat().st_size > MAX_SBOM_BYTES:
            raise UsageError(f"larger than {MAX_SBOM_BYTES} bytes", source=str(path))
        doc = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise UsageError("no such file", source=str(path)) from None
    except (OSError, ValueError) as exc:
        raise UsageError(f"not a JSON SBOM: {str(exc)[:200]}", source=str(path)) from exc
    return read_sbom_document(doc, str(path))
