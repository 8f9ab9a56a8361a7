"""SBOM formats: CycloneDX 1.6 and SPDX 2.3 validate against their schemas; JSON round-trips."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from spdx_tools.spdx.parser.parse_anything import parse_file
from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

from stackwarden.catalog.sbom import generate_sbom, sbom_from_dict, sbom_to_dict
from stackwarden.core.models import SBOM
from stackwarden.report import render_sbom

STATUS = """\
Package: bash
Status: install ok installed
Architecture: amd64
Version: 5.2.15-2+b2

Package: <script>alert(1)</script>
Status: install ok installed
Architecture: all
Version: 1.0

Package: libc6
Status: install ok installed
Architecture: amd64
Multi-Arch: same
Source: glibc (2.36-9)
Version: 2.36-9+b1
"""


@pytest.fixture(scope="module")
def sbom(tmp_path_factory: pytest.TempPathFactory) -> SBOM:
    root = tmp_path_factory.mktemp("root")
    files = {
        "var/lib/dpkg/status": STATUS,
        "etc/os-release": 'ID=debian\nVERSION_ID="12"\nPRETTY_NAME="Debian GNU/Linux 12"\n',
        "usr/share/doc/bash/copyright": "License: GPL-3+\n",
        "usr/share/doc/libc6/copyright": "License: LGPL-2.1+\nLicense: some weird (text)\n",
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return generate_sbom(f"rootfs:{root}")


def test_cyclonedx_is_valid_1_6(sbom: SBOM) -> None:
    data = render_sbom(sbom, "cyclonedx")
    errors = JsonStrictValidator(SchemaVersion.V1_6).validate_str(data.decode())
    assert errors is None, errors
    doc = json.loads(data)
    assert doc["specVersion"] == "1.6"
    purls = {c["purl"] for c in doc["components"]}
    assert "pkg:deb/debian/libc6@2.36-9%2Bb1?arch=amd64&distro=debian-12&upstream=glibc%402.36-9" \
        in purls
    assert len(doc["components"]) == 3


def test_spdx_is_valid_2_3(sbom: SBOM, tmp_path: Path) -> None:
    path = tmp_path / "sbom.spdx.json"
    path.write_bytes(render_sbom(sbom, "spdx"))
    document = parse_file(str(path))
    assert validate_full_spdx_document(document) == []
    names = {p.name for p in document.packages}
    assert {"bash", "libc6", "<script>alert(1)</script>"} <= names
    doc = json.loads(path.read_bytes())
    assert doc["spdxVersion"] == "SPDX-2.3"
    assert any(ref["referenceLocator"].startswith("pkg:deb/debian/bash@")
               for p in doc["packages"] for ref in p.get("externalRefs", []))


def test_json_round_trips(sbom: SBOM) -> None:
    doc = json.loads(render_sbom(sbom, "json"))
    assert doc["schema_version"] == "1.0"
    assert doc["summary"]["by_type"] == {"deb": 3}
    again = sbom_from_dict(doc)
    assert again.packages == sbom.packages
    assert again.os == sbom.os
    assert sbom_to_dict(again)["packages"] == doc["packages"]


def test_table_escapes_markup(sbom: SBOM) -> None:
    text = render_sbom(sbom, "table").decode()
    assert "<script>alert(1)</script>" in text
    assert "3 packages (3 deb)" in text


@pytest.mark.parametrize(
    ("text", "expected"),
    [("GPL-2+", "GPL-2.0-or-later"), ("GPL-2", "GPL-2.0-only"), ("Expat", "MIT"),
     ("LGPL-2.1+", "LGPL-2.1-or-later"), ("MIT OR Apache-2.0", "MIT OR Apache-2.0"),
     ("BSD-3-clause", "BSD-3-Clause"), ("Apache 2.0", "Apache-2.0"), ("GPL-3.0+",
     "GPL-3.0-or-later"), ("GPL-2+ or Artistic", "GPL-2.0-or-later OR Artistic-1.0-Perl"),
     ("some weird (text)", None), ("public-domain", None), ("", None)],
)
def test_license_strings_become_spdx(text: str, expected: str | None) -> None:
    from stackwarden.core.licenses import to_spdx

    assert to_spdx(text) == expected


def test_spdx_output_uses_spdx_ids_and_license_refs(sbom: SBOM) -> None:
    doc = json.loads(render_sbom(sbom, "spdx"))
    declared = {p["name"]: p["licenseDeclared"] for p in doc["packages"]}
    assert declared["bash"] == "GPL-3.0-or-later"
    assert declared["libc6"].startswith("LGPL-2.1-or-later AND LicenseRef-some-weird-text")
    assert [e["extractedText"] for e in doc["hasExtractedLicensingInfos"]] == ["some weird (text)"]
