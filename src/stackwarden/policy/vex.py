"""VEX documents as input: OpenVEX (v0.0.x and v0.2) and CycloneDX VEX (`vulnerabilities[]`).

A statement applies to a vulnerability finding when one of its vulnerability names (id or
alias) is the finding's id or alias, and one of its products is the finding's package (by PURL;
version and qualifiers only when the statement gives them) or is the scanned image itself
(`pkg:oci/...`, then its subcomponents, if any, must name the package). Among several statements
for one finding the latest (statement timestamp, else the document's) wins; documents given
later win ties. `not_affected` and `fixed` suppress the finding; `affected` and
`under_investigation` (CycloneDX: `exploitable`, `in_triage`) keep it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from stackwarden.core.findings import Finding, FindingKind
from stackwarden.core.models import ArtifactInfo
from stackwarden.policy.loader import Fields, load_json
from stackwarden.policy.match import finding_ids, purl_matches

OPENVEX_STATUSES = ("not_affected", "affected", "fixed", "under_investigation")
OPENVEX_JUSTIFICATIONS = ("component_not_present", "vulnerable_code_not_present",
                          "vulnerable_code_not_in_execute_path",
                          "vulnerable_code_cannot_be_controlled_by_adversary",
                          "inline_mitigations_already_exist")
# CycloneDX analysis.state -> the OpenVEX status it means.
CYCLONEDX_STATES = {"not_affected": "not_affected", "false_positive": "not_affected",
                    "resolved": "fixed", "resolved_with_pedigree": "fixed",
                    "exploitable": "affected", "in_triage": "under_investigation"}
CYCLONEDX_JUSTIFICATIONS = ("code_not_present", "code_not_reachable", "requires_configuration",
                            "requires_dependency", "requires_environment",
                            "protected_by_compiler", "protected_at_runtime",
                            "protected_at_perimeter", "protected_by_mitigating_control")
SUPPRESSING = ("not_affected", "fixed")


@dataclass(frozen=True, slots=True)
class Product:
    """A product a statement is about, and the subcomponents (packages) inside it it names."""

    id: str  # a PURL (or the text given, which then only matches the target by name)
    subcomponents: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class VexStatement:
    """One VEX statement, normalised to OpenVEX's status vocabulary."""

    vulnerabilities: frozenset[str]  # upper-cased names and aliases
    products: tuple[Product, ...]
    status: str
    justification: str
    detail: str
    origin: str  # file:line
    timestamp: datetime | None
    order: int  # position across all documents given: later wins ties

    @property
    def suppresses(self) -> bool:
        """Whether the status takes a finding out of the problems."""
        return self.status in SUPPRESSING

    def reason(self) -> str:
        """The suppression reason shown in reports."""
        why = f" ({self.justification})" if self.justification else ""
        return f"VEX {self.status}{why}" + (f": {self.detail}" if self.detail else "")

    def applies_to(self, f: Finding, artifact: ArtifactInfo) -> bool:
        """Whether this statement is about this finding in this artifact."""
        if f.kind is not FindingKind.VULNERABILITY or not (self.vulnerabilities & finding_ids(f)):
            return False
        if not self.products:
            return True
        purl = f.package.purl if f.package else ""
        for product in self.products:
            is_target = _is_artifact(product.id, artifact)
            if product.subcomponents:
                if (is_target or purl_matches(product.id, purl)) and any(
                        purl_matches(s, purl) for s in product.subcomponents):
                    return True
            elif is_target or purl_matches(product.id, purl):
                return True
        return False


@dataclass(frozen=True, slots=True)
class VexDocument:
    """The statements of one VEX file."""

    path: Path
    format: str  # "openvex" or "cyclonedx"
    statements: tuple[VexStatement, ...]


def _is_artifact(product: str, artifact: ArtifactInfo) -> bool:
    """Whether a product id names the scanned image: `pkg:oci/NAME[@DIGEST]` or its reference."""
    if product in (artifact.reference, artifact.name) and product:
        return True
    if not product.startswith("pkg:oci/"):
        return False
    from packageurl import PackageURL

    try:
        purl = PackageURL.from_string(product)
    except ValueError:
        return False
    if purl.version:
        return purl.version in (artifact.digest, artifact.config_digest)
    repo = (artifact.name or artifact.reference).rsplit("/", 1)[-1].split(":", 1)[0]
    return purl.name.lower() == repo.lower()


def _timestamp(fields: Fields, *keys: str) -> datetime | None:
    for key in keys:
        text = fields.text(key) if key in fields.node else ""
        if text:
            try:
                parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                fields.fail(f"{key!r} is not an RFC 3339 date-time", key)
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def _product_id(fields: Fields, raw: Any) -> str:
    if isinstance(raw, str):
        return raw.strip()
    product = Fields(fields.path, raw, "a product", fields.line)
    identifiers = product.node.get("identifiers") or {}
    purl = identifiers.get("purl") if isinstance(identifiers, dict) else None
    value = str(purl or product.node.get("@id") or "").strip()
    if not value:
        product.fail("a product needs an @id or identifiers.purl")
    return value


def _openvex_products(fields: Fields) -> tuple[Product, ...]:
    statement_subs = tuple(_product_id(fields, s) for s, _ in fields.items("subcomponents"))
    products = []
    for raw, _ in fields.items("products"):
        subs = statement_subs
        if isinstance(raw, dict):
            subs = tuple(_product_id(fields, s) for s in raw.get("subcomponents") or ()) or subs
        products.append(Product(_product_id(fields, raw), subs))
    return tuple(products)


def _openvex(path: Path, doc: Fields, order: int) -> list[VexStatement]:
    default_time = _timestamp(doc, "timestamp")
    statements: list[VexStatement] = []
    for raw, line in doc.items("statements"):
        st = Fields(path, raw, "a VEX statement", line)
        vuln = st.node.get("vulnerability")
        if isinstance(vuln, dict):
            v = Fields(path, vuln, "a statement's vulnerability", st.line)
            names = {v.text("name") or v.text("@id"), *v.texts("aliases")}
        else:
            names = {st.text("vulnerability")}
        names.discard("")
        if not names:
            st.fail("a VEX statement needs a vulnerability name")
        status = st.text("status", required=True).lower()
        if status not in OPENVEX_STATUSES:
            st.fail(f"unknown status {status!r} (choose from {', '.join(OPENVEX_STATUSES)})",
                    "status")
        justification = st.text("justification")
        if justification and justification not in OPENVEX_JUSTIFICATIONS:
            st.fail(f"unknown justification {justification!r} (choose from "
                    f"{', '.join(OPENVEX_JUSTIFICATIONS)})", "justification")
        detail = st.text("impact_statement") or st.text("status_notes")
        if status == "not_affected" and not (justification or st.text("impact_statement")):
            st.fail("a not_affected statement needs a justification or an impact_statement")
        statements.append(VexStatement(
            vulnerabilities=frozenset(n.upper() for n in names),
            products=_openvex_products(st), status=status, justification=justification,
            detail=detail, origin=st.where(),
            timestamp=_timestamp(st, "last_updated", "timestamp") or default_time,
            order=order + len(statements)))
    return statements


def _components(node: Any, refs: dict[str, str]) -> None:
    """bom-ref -> PURL for every component, nested ones included."""
    for component in node or ():
        if isinstance(component, dict):
            if component.get("bom-ref") and component.get("purl"):
                refs[str(component["bom-ref"])] = str(component["purl"])
            _components(component.get("components"), refs)


def _cyclonedx(path: Path, doc: Fields, order: int) -> list[VexStatement]:
    refs: dict[str, str] = {}
    raw_metadata = doc.node.get("metadata")
    metadata: dict[str, Any] = raw_metadata if isinstance(raw_metadata, dict) else {}
    _components([metadata.get("component")] if metadata.get("component") else [], refs)
    _components(doc.node.get("components"), refs)
    default_time = _timestamp(Fields(path, metadata, "metadata", doc.line), "timestamp") \
        if metadata else None
    statements: list[VexStatement] = []
    for raw, line in doc.items("vulnerabilities"):
        v = Fields(path, raw, "a vulnerability", line)
        names = {v.text("id")} | {str(r.get("id", "")).strip() for r, _ in v.items("references")
                                  if isinstance(r, dict)}
        names.discard("")
        if not names:
            v.fail("a vulnerability needs an id")
        analysis_raw = v.node.get("analysis")
        if analysis_raw is None:
            continue  # no analysis: a plain vulnerability listing says nothing about impact
        analysis = Fields(path, analysis_raw, "an analysis", v.line)
        state = analysis.text("state").lower()
        if not state:
            continue
        if state not in CYCLONEDX_STATES:
            analysis.fail(f"unknown analysis state {state!r} (choose from "
                          f"{', '.join(CYCLONEDX_STATES)})", "state")
        justification = analysis.text("justification")
        if justification and justification not in CYCLONEDX_JUSTIFICATIONS:
            analysis.fail(f"unknown justification {justification!r}", "justification")
        products = []
        for target, _ in v.items("affects"):
            ref = str(target.get("ref", "") if isinstance(target, dict) else "").strip()
            if not ref:
                v.fail("an affects entry needs a ref", "affects")
            fragment = ref.split("#", 1)[1] if ref.startswith("urn:cdx:") and "#" in ref else ref
            products.append(Product(refs.get(fragment, fragment)))
        detail = analysis.text("detail") or ("false positive" if state == "false_positive"
                                             else "")
        statements.append(VexStatement(
            vulnerabilities=frozenset(n.upper() for n in names), products=tuple(products),
            status=CYCLONEDX_STATES[state], justification=justification, detail=detail,
            origin=v.where(),
            timestamp=_timestamp(analysis, "lastUpdated", "firstIssued")
            or _timestamp(v, "updated", "published") or default_time,
            order=order + len(statements)))
    return statements


def load_vex(path: Path, *, order: int = 0) -> VexDocument:
    """Parse an OpenVEX or CycloneDX VEX file; a bad one is a PolicyError naming file and line."""
    doc = Fields(path, load_json(path, "VEX document"), "a VEX document")
    context = str(doc.node.get("@context", ""))
    if "openvex" in context.lower() or ("statements" in doc.node and "@context" in doc.node):
        return VexDocument(path, "openvex", tuple(_openvex(path, doc, order)))
    if doc.node.get("bomFormat") == "CycloneDX":
        return VexDocument(path, "cyclonedx", tuple(_cyclonedx(path, doc, order)))
    doc.fail("not a VEX document: expected OpenVEX (@context openvex, statements) or "
             "CycloneDX (bomFormat CycloneDX, vulnerabilities)")
    raise AssertionError("unreachable")


def load_vex_files(paths: Sequence[Path]) -> list[VexDocument]:
    """Several VEX files, in order (a later file wins a tie between equally recent statements)."""
    docs: list[VexDocument] = []
    order = 0
    for path in paths:
        doc = load_vex(path, order=order)
        order += len(doc.statements) + 1
        docs.append(doc)
    return docs


def decide(f: Finding, artifact: ArtifactInfo,
           documents: Sequence[VexDocument]) -> VexStatement | None:
    """The statement that governs a finding (latest wins), or None when none applies."""
    oldest = datetime.min.replace(tzinfo=UTC)
    matching = [s for d in documents for s in d.statements if s.applies_to(f, artifact)]
    if not matching:
        return None
    return max(matching, key=lambda s: (s.timestamp or oldest, s.order))
