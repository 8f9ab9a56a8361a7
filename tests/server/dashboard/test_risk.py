"""The priority formula: its documented values, and the SQL form agreeing with the Python form
on generated findings (the list sorts by one and shows the other)."""

from __future__ import annotations

import random
from datetime import datetime

import pytest
from sqlalchemy import select

from tests.server.conftest import Server
from tests.server.helpers import finding, report

# (severity, cvss, kev, epss, fix, labels) -> (score, band)
CASES = [
    ("critical", 9.8, True, 0.97, True, {"internet-facing"}, 98.6, "P1"),
    ("critical", 10.0, True, 0.99, True, {"internet-facing", "monitored-host"}, 100.0, "P1"),
    ("critical", None, False, None, False, set(), 38.0, "P3"),
    ("high", 7.5, True, None, True, set(), 60.0, "P2"),
    ("medium", 5.3, False, 0.01, False, set(), 21.4, "P4"),
    ("low", None, False, None, True, {"monitored-host"}, 18.0, "P4"),
    ("unknown", None, True, 0.5, False, {"internet-facing"}, 65.0, "P2"),
    ("high", 8.8, False, 0.2, True, {"internet-facing", "monitored-host"}, 59.2, "P2"),
]


@pytest.mark.parametrize(("severity", "cvss", "kev", "epss", "fix", "labels", "score", "band"),
                         CASES)
def test_documented_values(severity: str, cvss: float | None, kev: bool, epss: float | None,
                           fix: bool, labels: set[str], score: float, band: str) -> None:
    from stackwarden.server.risk import priority

    got = priority(severity, cvss=cvss, kev=kev, epss=epss, fix_available=fix,
                   labels=frozenset(labels))
    assert (got.score, got.band) == (score, band)
    assert len(got.reasons) == 1 + kev + bool(epss) + fix + len(labels)
    assert got.reasons[0][1].startswith("CVSS" if cvss is not None else "severity")


def test_sql_and_python_agree(dash: Server) -> None:
    from stackwarden.server.db.models import FindingRow
    from stackwarden.server.db.models_dashboard import AssetLabel, FindingScore
    from stackwarden.server.risk import priority, priority_sql, row_priority
    from stackwarden.server.web.queries import labels_of

    rng = random.Random(8)
    sev = ["critical", "high", "medium", "low", "negligible", "unknown"]
    for image in range(3):
        findings = []
        for i in range(40):
            f = finding(f"{image}-{i}", vuln=f"CVE-2024-{image}{i:03}", severity=rng.choice(sev),
                        kev=rng.random() < 0.3, fixed=rng.random() < 0.5)
            if rng.random() < 0.6:
                f["cvss"] = [{"version": "3.1", "vector": "AV:N", "score": round(
                    rng.uniform(0, 10), 1), "source": "nvd"},
                    {"version": "2.0", "vector": "AV:N", "score": 10.0, "source": "old"}]
            if rng.random() < 0.5:
                f["epss"] = {"probability": round(rng.random(), 4), "percentile": 0.5}
            findings.append(f)
        r = dash.post("/api/v1/scans", json=report(findings, digest="sha256:" + str(image) * 64,
                                                   tags=(f"r.example/app{image}:1",)))
        assert r.status_code == 201
    with dash.ctx.db.transaction() as session:
        session.add(AssetLabel(asset_id=1, label="internet-facing", added_by="t",
                               added_at=datetime(2025, 1, 1)))
        session.add(AssetLabel(asset_id=2, label="monitored-host", added_by="t",
                               added_at=datetime(2025, 1, 1)))
    with dash.ctx.db.session() as session:
        rows = session.execute(select(FindingRow, FindingScore.cvss, priority_sql())
                               .outerjoin(FindingScore, FindingScore.finding_id == FindingRow.id)
                               ).all()
        labels = labels_of(session, [1, 2, 3])
        assert len(rows) == 120
        with_cvss = 0
        for row, cvss, sql_score in rows:
            py = row_priority(row, cvss, labels.get(row.asset_id, frozenset()))
            assert py.score == pytest.approx(min(100.0, float(sql_score)), abs=0.06), row.id
            with_cvss += cvss is not None
        assert 50 < with_cvss < 100  # the v3.1 score was kept, never the v2 one
        assert all(c is None or c <= 10 for _, c, _ in rows)
    assert priority("high", cvss=None, kev=False, epss=None, fix_available=False).band == "P3"
