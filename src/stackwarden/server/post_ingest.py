"""What happens after a scan is stored, in the same transaction: the priority inputs only the
finding JSON holds (CVSS), the pipeline gate's decision, and the notifications the scan
triggers (new critical or KEV findings, gate failure, new threat on a golden image).

Notifications are only queued here (rows in the same transaction); sending happens later in
the dispatcher, so no channel can slow or block ingestion.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from stackwarden.core.findings import Severity
from stackwarden.server.auth import utcnow
from stackwarden.server.db.models import Asset, FindingRow, Scan
from stackwarden.server.db.models_dashboard import AssetLabel, FindingScore, ScanGate
from stackwarden.server.notify import notify
from stackwarden.server.risk import GOLDEN, max_cvss_of

if TYPE_CHECKING:
    from stackwarden.server.ingest import Submission

GOLDEN_MIN_RANK = Severity.MEDIUM.rank


def after_ingest(session: Session, scan: Scan, asset: Asset, parsed: Submission) -> None:
    """Scores, gate and notifications for one ingested scan."""
    ids = {fp: fid for fp, fid in session.execute(select(
        FindingRow.fingerprint, FindingRow.id).where(FindingRow.asset_id == asset.id,
                                                     FindingRow.last_scan_id == scan.id))}
    _store_scores(session, ids, parsed.raw_findings)
    gate = (parsed.report.model_extra or {}).get("gate")
    if isinstance(gate, dict) and isinstance(gate.get("passed"), bool):
        _store_gate(session, scan, asset, gate)
    _notify_findings(session, scan, asset)


def _store_scores(session: Session, ids: dict[str, int], raws: list[dict[str, Any]]) -> None:
    scores = {}
    for raw in raws:
        cvss = max_cvss_of(raw)
        fid = ids.get(str(raw.get("fingerprint")))
        if cvss is not None and fid is not None:
            scores[fid] = cvss
    if not ids:
        return
    chunk = list(ids.values())
    for i in range(0, len(chunk), 2000):
        session.execute(delete(FindingScore).where(FindingScore.finding_id.in_(chunk[i:i + 2000])))
    if scores:
        session.execute(FindingScore.__table__.insert(),  # type: ignore[attr-defined]
                        [{"finding_id": k, "cvss": v} for k, v in scores.items()])


def _store_gate(session: Session, scan: Scan, asset: Asset, gate: dict[str, Any]) -> None:
    failed = [f"{r.get('rule', '?')}: {r.get('message', '')}" if isinstance(r, dict) else str(r)
              for r in gate.get("failed") or []][:50]
    session.add(ScanGate(scan_id=scan.id, passed=gate["passed"], rules="\n".join(failed)[:5000],
                         at=utcnow()))
    if not gate["passed"]:
        notify(session, "gate_failure", {
            "title": f"Gate failed: {asset.name}", "severity": "high",
            "summary": f"scan {scan.id} of {scan.target} failed the pipeline gate "
                       f"({len(failed)} rule(s))",
            "items": [{"text": line} for line in failed], "path": f"/assets/{asset.id}",
            "asset": asset.name, "scan_id": scan.id}, group_key=f"scan:{scan.id}")


def _item(row: FindingRow) -> dict[str, Any]:
    subject = f"{row.package_name} {row.package_version}".strip() or row.path
    kev = " [KEV]" if row.kev else ""
    return {"id": row.id, "vuln_id": row.vuln_id, "severity": row.severity, "kev": row.kev,
            "package": row.package_name, "title": row.title,
            "text": f"{row.severity.upper()}{kev} {row.vuln_id} {subject}".strip()}


def _notify_findings(session: Session, scan: Scan, asset: Asset) -> None:
    arrived = (FindingRow.asset_id == asset.id, FindingRow.last_scan_id == scan.id,
               FindingRow.state.in_(("new", "reopened")))
    urgent = list(session.execute(select(FindingRow).where(
        *arrived, or_(FindingRow.severity == "critical", FindingRow.kev.is_(True)))
        .order_by(FindingRow.severity_rank.desc(), FindingRow.id)).scalars())
    if urgent:
        kev = sum(1 for r in urgent if r.kev)
        notify(session, "new_critical_finding", {
            "title": f"{len(urgent)} new critical/KEV finding(s) on {asset.name}",
            "severity": "critical",
            "summary": f"scan {scan.id} of {scan.target}: {len(urgent)} new critical or "
                       f"known-exploited finding(s), {kev} in CISA KEV",
            "items": [_item(r) for r in urgent], "path": f"/findings?asset_id={asset.id}",
            "asset": asset.name, "scan_id": scan.id}, group_key=f"scan:{scan.id}")
    golden = session.get(AssetLabel, (asset.id, GOLDEN))
    if golden is None:
        return
    threats = list(session.execute(select(FindingRow).where(
        *arrived, FindingRow.severity_rank >= GOLDEN_MIN_RANK)
        .order_by(FindingRow.severity_rank.desc(), FindingRow.id)).scalars())
    if threats:
        worst = threats[0].severity
        notify(session, "golden_image_threat", {
            "title": f"New threat on golden image {asset.name}", "severity": worst,
            "summary": f"{len(threats)} new finding(s) (worst: {worst}) on a golden image; "
                       "every image built from it inherits them",
            "items": [_item(r) for r in threats], "path": f"/assets/{asset.id}",
            "asset": asset.name, "scan_id": scan.id}, group_key=f"golden:{asset.id}")
