"""Compliance: frameworks as data, controls decided from real records (findings, scans, the
audit chain), the report in JSON (stable), HTML (printable) and PDF, and the CLI."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import update

from tests.server.conftest import Server
from tests.server.dashboard.conftest import post_form, sign_in
from tests.server.helpers import finding, report
from tests.server.test_cli import run


def test_frameworks_are_data() -> None:
    from stackwarden.policy.compliance import framework_ids, load_framework

    assert framework_ids() == ["cis-controls-v8", "nist-800-53-r5", "pci-dss-4", "soc2"]
    ids = {f: [c.id for c in load_framework(f).controls] for f in framework_ids()}
    assert {"5.2.2", "6.3.3", "10.2.1", "11.3.1", "11.5.2"} <= set(ids["pci-dss-4"])
    assert set(ids["nist-800-53-r5"]) == {"CA-7", "RA-5", "SI-2", "SI-3", "SI-4", "SI-7",
                                          "AU-9", "CM-6", "CM-7", "CM-8"}
    assert ids["soc2"] == ["CC7.1", "CC7.2"]
    assert ids["cis-controls-v8"] == ["1", "2", "3", "4", "7", "8"]


@pytest.mark.parametrize(("doc", "message"), [
    ({"controls": [{"id": "1", "title": "t", "evidence": [{"check": "magic"}]}]},
     "controls[0] (1) evidence[0]: unknown check 'magic'"),
    ({"controls": [{"id": "1", "title": "t", "evidence": [
        {"check": "scanner_ran", "kind": "malware", "days": 3}]}]},
     "scanner_ran takes no days"),
    ({"controls": [{"id": "1", "title": "t"}]}, "(1): no evidence checks"),
    ({"controls": [{"title": "t"}]}, "controls[0]: a control needs `id` and `title`"),
    ({"name": "x"}, "a framework is a mapping"),
])
def test_bad_framework_files_are_named(tmp_path: Path, doc: dict, message: str) -> None:
    from stackwarden.core.errors import UsageError
    from stackwarden.policy.compliance import load_framework

    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(UsageError) as err:
        load_framework(str(path))
    assert message in str(err.value) and str(path) in str(err.value)


def _statuses(server: Server, framework: str) -> dict[str, str]:
    from stackwarden.policy.compliance import load_framework
    from stackwarden.server.compliance import evaluate

    return {r.control.id: r.status for r in evaluate(server.ctx, load_framework(framework))
            .results}


def test_controls_decided_from_records(dash: Server) -> None:
    from stackwarden.server.auth import utcnow
    from stackwarden.server.db.models import FindingRow

    assert _statuses(dash, "pci-dss-4")["6.3.3"] == "not_assessed"  # nothing scanned yet
    misconfig = finding("m1", kind="misconfiguration", vuln="DS002", severity="high")
    misconfig["controls"] = ["cis-docker-1.6.0:4.1"]
    misconfig["package"] = None
    doc = report([finding("v1", severity="critical"), misconfig],
                 scanners=("vuln", "secret", "malware", "misconfig"))
    doc["summary"]["packages"] = 12
    assert dash.post("/api/v1/scans", json=doc).status_code == 201
    with dash.ctx.db.transaction() as session:  # the critical CVE is 40 days old
        session.execute(update(FindingRow).where(FindingRow.id == 1).values(
            first_seen=utcnow() - timedelta(days=40)))
    pci = _statuses(dash, "pci-dss-4")
    assert pci["6.3.3"] == "fail" and pci["2.2.1"] == "fail"
    assert pci["11.3.1"] == "pass"  # scanned; nothing high is older than 90 days
    assert pci["5.2.2"] == "pass" and pci["8.6.2"] == "pass" and pci["6.3.2"] == "pass"
    assert pci["10.3.4"] == "pass"  # the chain verifies and a checkpoint is recent
    assert pci["10.2.1"] == "fail"  # no finding.* decision and no sign-in recorded yet
    assert pci["11.5.2"] == "not_assessed"  # no host agent reports FIM
    from stackwarden.policy.compliance import load_framework
    from stackwarden.server.compliance import evaluate

    nist = {r.control.id: r for r in evaluate(dash.ctx, load_framework("nist-800-53-r5"))
            .results}
    assert nist["CM-6"].status == "fail"
    items = [i for e in nist["CM-6"].evidence for i in e.items]
    assert "benchmark control cis-docker-1.6.0:4.1: 1 open finding(s)" in items
    # a documented risk decision handles the finding; the sign-in and the triage are audited
    client = sign_in(dash)
    post_form(client, "/findings/1", "/findings/1/triage",
              {"status": "risk_accepted", "reason": "vendor patch in testing"})
    after = {r.control.id: r for r in evaluate(dash.ctx, load_framework("pci-dss-4")).results}
    assert after["6.3.3"].status == "pass" and after["10.2.1"].status == "pass"
    assert "1 more are ignored or risk-accepted" in after["6.3.3"].evidence[0].detail
    assert after["6.3.3"].evidence[0].as_of is not None


def test_report_formats_and_cli(dash: Server, tmp_path: Path) -> None:
    assert dash.post("/api/v1/scans", json=report([finding("a", severity="critical")]))\
        .status_code == 201
    args = ["--database-url", dash.url, "--data-dir", str(dash.tmp / "data")]
    out = tmp_path / "r.json"
    done = run("compliance", "report", "--framework", "pci-dss-4", "--format", "json",
               "-o", str(out), *args)
    assert done.returncode == 0, done.stderr
    assert "PCI DSS v4.0:" in done.stderr and "pass" in done.stderr
    first = json.loads(out.read_text())
    assert first["schema_version"] == "1" and list(first) == [
        "schema_version", "framework", "generated_at", "summary", "controls", "trend"]
    assert [c["id"] for c in first["controls"]][:3] == ["2.2.1", "5.2.2", "5.3.2"]
    run("compliance", "report", "--framework", "pci-dss-4", "--format", "json",
        "-o", str(out), *args)
    second = json.loads(out.read_text())
    assert len(second["trend"]) == len(first["trend"]) + 1  # the first run was recorded
    for doc in (first, second):
        doc.pop("generated_at"), doc.pop("trend")
    assert first == second  # stable for GRC tools
    html = tmp_path / "r.html"
    assert run("compliance", "report", "--framework", "soc2", "--format", "html", "-o",
               str(html), *args).returncode == 0
    text = html.read_text()
    assert "<script" not in text and "CC7.1" in text and "@page" in text
    pdf = tmp_path / "r.pdf"
    assert run("compliance", "report", "--framework", "soc2", "--format", "pdf", "-o",
               str(pdf), *args).returncode == 0
    assert pdf.read_bytes().startswith(b"%PDF-")
    if shutil.which("pdftotext"):
        words = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True,
                               timeout=60, check=True).stdout
        assert "SOC 2 Trust Services Criteria" in words and "CC7.2" in words
    # bad input: one line, exit 2
    for bad, message in ((["--framework", "hipaa"], "unknown framework 'hipaa'"),
                         (["--framework", "soc2", "--format", "xml"], "unknown format 'xml'"),
                         (["--framework", "soc2", "--format", "pdf"], "add --output FILE.pdf")):
        done = run("compliance", "report", *bad, *args)
        assert done.returncode == 2 and message in done.stderr
        assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) <= 2
    listed = run("compliance", "frameworks")
    assert listed.returncode == 0 and "pci-dss-4\tPCI DSS v4.0\t11 controls" in listed.stdout


def test_compliance_pages(dash: Server) -> None:
    client = sign_in(dash)
    page = client.get("/compliance/pci-dss-4")
    assert page.status_code == 200 and "6.3.3" in page.text
    r = post_form(client, "/compliance/pci-dss-4", "/compliance/pci-dss-4/record", {})
    assert r.status_code == 303
    post_form(client, "/compliance/pci-dss-4", "/compliance/pci-dss-4/record", {})
    assert "controls passing over time" in client.get("/compliance/pci-dss-4").text
    row = client.get("/compliance").text.split('href="/compliance/pci-dss-4"')[1]
    assert "never recorded" not in row.split("</tr>")[0]
    got = client.get("/compliance/pci-dss-4/report.json")
    assert got.json()["framework"]["id"] == "pci-dss-4"
    assert client.get("/compliance/pci-dss-4/report.pdf").content.startswith(b"%PDF-")
    assert client.get("/compliance/nope").status_code == 404
    assert client.get("/compliance/pci-dss-4/report.docx").status_code == 404
