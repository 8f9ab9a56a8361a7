"""Configuration precedence, SBOM submission, and the metrics an operator scrapes."""

from __future__ import annotations

from pathlib import Path

import pytest

from stackwarden.core.errors import UsageError
from stackwarden.server.settings import load_settings
from tests.server.conftest import Server
from tests.server.helpers import finding, report


def test_settings_file_env_and_flags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "server.toml"
    config.write_text('port = 9000\nhost = "0.0.0.0"\ncheckpoint_every = 7\n')
    monkeypatch.delenv("STACKWARDEN_SERVER_CONFIG", raising=False)
    assert load_settings(config).port == 9000
    monkeypatch.setenv("STACKWARDEN_SERVER_PORT", "9100")
    settings = load_settings(config)
    assert (settings.port, settings.host, settings.checkpoint_every) == (9100, "0.0.0.0", 7)
    assert load_settings(config, port=9200).port == 9200  # a flag beats the environment
    settings = load_settings(None, data_dir=tmp_path)
    assert settings.resolved_database_url() == f"sqlite:///{tmp_path}/stackwarden.db"
    monkeypatch.setenv("STACKWARDEN_SERVER_MAX_REPORT_BYTES", "-1")
    with pytest.raises(UsageError, match="max_report_bytes"):
        load_settings(None)
    with pytest.raises(UsageError, match="not found"):
        load_settings(tmp_path / "missing.toml")
    (tmp_path / "broken.toml").write_text("port = \n")
    monkeypatch.delenv("STACKWARDEN_SERVER_MAX_REPORT_BYTES")
    with pytest.raises(UsageError, match="broken.toml"):
        load_settings(tmp_path / "broken.toml")


CYCLONEDX = {
    "bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1,
    "metadata": {"component": {"type": "container", "name": "app"}},
    "components": [{"type": "library", "name": "requests", "version": "2.0.0",
                    "purl": "pkg:pypi/requests@2.0.0"}],
}


def test_sbom_submission(server: Server) -> None:
    r = server.post("/api/v1/sboms", json=CYCLONEDX)
    assert r.status_code == 201, r.text
    assert (r.json()["format"], r.json()["packages"]) == ("cyclonedx", 1)
    stored = server.get(f"/api/v1/sboms/{r.json()['id']}")
    assert stored.json() == CYCLONEDX
    bad = server.post("/api/v1/sboms", json={"hello": "world"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "schema_violation"
    assert server.get("/api/v1/sboms/999").status_code == 404
    actions = [e["action"] for e in server.get("/api/v1/audit/entries").json()["items"]]
    assert "sbom.submit" in actions


def test_metrics(server: Server) -> None:
    server.post("/api/v1/scans", json=report([finding("a", severity="critical"),
                                              finding("b", severity="low")]))
    text = server.get("/metrics").text
    assert 'stackwarden_findings_open{severity="critical"} 1.0' in text
    assert 'stackwarden_jobs' in text and "stackwarden_audit_chain_length" in text
    assert 'stackwarden_http_requests_total{method="POST",route="/api/v1/scans",status="201"}' \
        in text
    assert "stackwarden_http_request_seconds_bucket" in text
