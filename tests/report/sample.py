"""A fixed, hand-made scan result with every kind of finding, for the report golden files.

The values a real scan makes unstable (creation time, tool version, durations, temporary paths)
are real here too, so the golden files prove that redaction works.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

from stackwarden import __version__
from stackwarden.core.findings import (
    CvssScore,
    Finding,
    FindingKind,
    FindingLocation,
    PackageRef,
    Severity,
    fingerprint,
)
from stackwarden.core.models import (
    SBOM,
    ArtifactInfo,
    LayerInfo,
    Location,
    OSRelease,
    Package,
    PackageType,
    Skipped,
)
from stackwarden.policy.model import PolicySuppressed
from stackwarden.scan import ScanResult, Suppressed

XSS = "<script>alert(1)</script>"
LAYER0 = "sha256:" + "a" * 64
LAYER1 = "sha256:" + "b" * 64


def _pkg(name: str, version: str, type_: PackageType, purl: str, path: str, layer: str,
         **extra: object) -> Package:
    return Package(name, version, type_, purl, ("test",), (Location(path, layer),),
                   layer=layer, **extra)  # type: ignore[arg-type]


PACKAGES = (
    _pkg("openssl", "3.0.2-0ubuntu1", PackageType.DEB,
         "pkg:deb/debian/openssl@3.0.2-0ubuntu1?arch=amd64&distro=debian-12",
         "/var/lib/dpkg/status", LAYER0, licenses=("Apache-2.0",), arch="amd64"),
    _pkg("libwebp7", "1.2.4-0.2", PackageType.DEB,
         "pkg:deb/debian/libwebp7@1.2.4-0.2?arch=amd64&distro=debian-12",
         "/var/lib/dpkg/status", LAYER0, source_name="libwebp", source_version="1.2.4-0.2"),
    _pkg("zlib1g", "1:1.2.13.dfsg-1", PackageType.DEB,
         "pkg:deb/debian/zlib1g@1%3A1.2.13.dfsg-1?arch=amd64&distro=debian-12",
         "/var/lib/dpkg/status", LAYER0),
    _pkg("requests", "2.25.0", PackageType.PYTHON, "pkg:pypi/requests@2.25.0",
         "/usr/lib/python3/dist-packages/requests-2.25.0.dist-info/METADATA", LAYER1,
         licenses=("Apache-2.0",)),
    _pkg(XSS, "1.0.0", PackageType.NPM, "pkg:npm/%3Cscript%3Ealert%281%29%3C/script%3E@1.0.0",
         "/app/node_modules/evil/package.json", LAYER1),
)


def _vuln(pkg: Package, vuln_id: str, severity: Severity, title: str, *,
          fixed: tuple[str, ...] = (), aliases: tuple[str, ...] = (),
          cvss: tuple[CvssScore, ...] = (), kev_due: str | None = None,
          description: str = "", references: tuple[str, ...] = ()) -> Finding:
    path = pkg.locations[0].path
    return Finding(
        kind=FindingKind.VULNERABILITY, id=vuln_id, title=title, severity=severity,
        location=FindingLocation(path=path, layer=pkg.layer),
        package=PackageRef(pkg.name, pkg.version, str(pkg.type), pkg.purl), aliases=aliases,
        description=description, fixed_versions=fixed,
        status="fixed" if fixed else "not-fixed", references=references, cvss=cvss,
        epss=(0.94, 0.99) if kev_due else None, kev_due=kev_due,
        remediation=(f"Upgrade {pkg.name} to {' or '.join(fixed)}" if fixed
                     else "No fixed version is known yet"),
        evidence={"installed_version": pkg.version},
        fingerprint=fingerprint("vulnerability", vuln_id, str(pkg.type), pkg.name, path))


OPENSSL, LIBWEBP, ZLIB, REQUESTS, EVIL = PACKAGES

VULNERABILITIES = (
    _vuln(OPENSSL, "CVE-2023-0286", Severity.HIGH, "X.400 address type confusion in X.509",
          fixed=("3.0.8-1",), aliases=("DSA-5343-1",),
          cvss=(CvssScore("3.1", "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:H", 7.4,
                          "CVE-2023-0286"),),
          description="A type confusion vulnerability relating to X.400 address processing.",
          references=("https://www.openssl.org/news/secadv/20230207.txt",)),
    _vuln(LIBWEBP, "CVE-2023-4863", Severity.HIGH, "Heap buffer overflow in libwebp",
          fixed=("1.2.4-0.2+deb12u1",),
          cvss=(CvssScore("3.1", "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H", 8.8,
                          "CVE-2023-4863"),),
          kev_due="2023-10-04",
          references=("https://security-tracker.debian.org/tracker/CVE-2023-4863",)),
    _vuln(ZLIB, "CVE-2023-45853", Severity.CRITICAL,
          "Integer overflow in zipOpenNewFileInZip4_64",
          cvss=(CvssScore("3.1", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8,
                          "CVE-2023-45853"),)),
    _vuln(EVIL, "GHSA-xxxx-yyyy-zzzz", Severity.MEDIUM, f"Prototype pollution {XSS}",
          fixed=("1.0.1",), description=f"<img src=x onerror=alert(1)> | pipes | *stars* {XSS}",
          references=("javascript:alert(1)", "https://github.com/advisories/GHSA-xxxx-yyyy-zzzz")),
)
SECRET = Finding(
    kind=FindingKind.SECRET, id="aws-access-key-id", title="AWS access key ID",
    severity=Severity.HIGH,
    location=FindingLocation(path="/app/config/settings.py", line=12, end_line=12, layer=LAYER1),
    description="An AWS access key ID was found in a file.",
    remediation="Revoke the key in AWS IAM and remove it from the image.",
    references=(("https://docs.aws.amazon.com/IAM/latest/UserGuide/"
                 "id_credentials_access-keys.html"),),
    evidence={"match": "AKIA****************", "entropy": 3.9},
    fingerprint=fingerprint("secret", "aws-access-key-id", "/app/config/settings.py", "k1"))
MALWARE = Finding(
    kind=FindingKind.MALWARE, id="EICAR-Test-File", title="EICAR anti-virus test file",
    severity=Severity.CRITICAL, location=FindingLocation(path="/tmp/eicar.com", layer=LAYER1),
    description="The EICAR test string (not a real threat, but every scanner must flag it).",
    remediation="Remove the file from the image.",
    evidence={"engine": "yara",
              "sha256": "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"},
    fingerprint=fingerprint("malware", "EICAR-Test-File", "/tmp/eicar.com", "275a"))
MISCONFIG_DOCKERFILE = Finding(
    kind=FindingKind.MISCONFIGURATION, id="DS002", title="Image user should not be root",
    severity=Severity.HIGH,
    location=FindingLocation(path="Dockerfile", line=1, end_line=9),
    description="Running containers as root widens the blast radius of a compromise.",
    remediation="Add a USER instruction with a non-root user.",
    controls=("CIS-DI-0001",), evidence={"file_type": "dockerfile"},
    fingerprint=fingerprint("misconfiguration", "DS002", "Dockerfile"))
MISCONFIG_K8S = Finding(
    kind=FindingKind.MISCONFIGURATION, id="KSV001", title="Process can elevate its privileges",
    severity=Severity.MEDIUM,
    location=FindingLocation(path="deploy/app.yaml", line=21, end_line=30,
                             resource="Deployment/default/app"),
    remediation="Set securityContext.allowPrivilegeEscalation to false.",
    evidence={"file_type": "kubernetes"},
    fingerprint=fingerprint("misconfiguration", "KSV001", "deploy/app.yaml", "app"))

FINDINGS = (*VULNERABILITIES, SECRET, MALWARE, MISCONFIG_DOCKERFILE, MISCONFIG_K8S)


def sample_result(tmp: Path) -> ScanResult:
    """The fixed scan result (tmp is where the database and skipped files "live")."""
    started = time.perf_counter()
    created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    vex_fixed = _vuln(REQUESTS, "CVE-2023-32681", Severity.MEDIUM,
                      "Unintended leak of Proxy-Authorization header", fixed=("2.31.0",),
                      aliases=("GHSA-j8r2-6x86-q33q", "PYSEC-2023-74"),
                      cvss=(CvssScore("3.1", "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:C/C:H/I:N/A:N",
                                      6.1, "GHSA-j8r2-6x86-q33q"),))
    ignored = _vuln(REQUESTS, "CVE-2024-35195", Severity.MEDIUM,
                    "Session verify=False persists", fixed=("2.32.0",))
    unfixed = _vuln(OPENSSL, "CVE-2024-0001", Severity.LOW, "A low issue without a fix")
    suppressed = [
        PolicySuppressed(vex_fixed, "VEX not_affected (vulnerable_code_not_in_execute_path): "
                         "proxies are never configured", source="vex", origin="vex.openvex.json",
                         status="not_affected",
                         justification="vulnerable_code_not_in_execute_path"),
        PolicySuppressed(ignored, "ignored: we never disable TLS verification",
                         source="ignore", origin=".stackwardenignore:3", expires="2099-12-31"),
        Suppressed(unfixed, "no fix available (--ignore-unfixed)"),
    ]
    art = ArtifactInfo(kind="oci-dir", reference=f"oci-dir:{tmp}/image", name="example/app:1.0",
                       digest="sha256:" + "1" * 64, config_digest="sha256:" + "2" * 64,
                       platform="linux/amd64",
                       layers=(LayerInfo(0, "sha256:" + "c" * 64, LAYER0, 1000),
                               LayerInfo(1, "sha256:" + "d" * 64, LAYER1, 2000)))
    os_release = OSRelease(id="debian", version_id="12", version_codename="bookworm",
                           pretty_name="Debian GNU/Linux 12 (bookworm)",
                           source="/etc/os-release")
    skipped = (Skipped(f"{tmp}/image/broken.whl", "not a zip archive",
                       "python-package-cataloger"),)
    sbom = SBOM(artifact=art, packages=PACKAGES, os=os_release, skipped=skipped,
                catalogers=("dpkg-db-cataloger", "python-installed-package-cataloger"),
                created=created, tool_version=__version__)
    elapsed = time.perf_counter() - started
    return ScanResult(
        target=f"oci-dir:{tmp}/image", sbom=sbom, findings=list(reversed(FINDINGS)),
        suppressed=suppressed, skipped=list(skipped),
        warnings=[(f"{tmp}/.stackwardenignore:7: the entry for CVE-2020-0001 expired on "
                   "2024-01-31; it no longer suppresses 0 findings")],
        scanners=("vuln", "secret", "malware", "misconfig"),
        database={"path": f"{tmp}/vulndb.sqlite", "built_at": created, "schema": "1"},
        timings={"inventory": elapsed + 0.1234, "vuln": elapsed + 0.01, "total": elapsed + 0.5},
        created=created, tool_version=__version__)
