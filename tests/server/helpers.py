"""Helpers for server tests: PostgreSQL databases, and scan reports built like `scan -f json`."""

from __future__ import annotations

import json
import os
from typing import Any

import psycopg

PG_HOST = os.environ.get("STACKWARDEN_TEST_PG_HOST", "127.0.0.1")
PG_ADMIN_URL = os.environ.get("STACKWARDEN_TEST_PG_URL", f"postgresql://{PG_HOST}:5432/test")


def _base() -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0]


def pg_create(name: str, template: str | None = None) -> str:
    """Create database `name` (optionally from a template); returns its SQLAlchemy URL."""
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        suffix = f" TEMPLATE {template}" if template else ""
        conn.execute(f"CREATE DATABASE {name}{suffix}")  # type: ignore[arg-type]
    return _base().replace("postgresql://", "postgresql+psycopg://") + f"/{name}"


def pg_drop(name: str) -> None:
    """Drop database `name`, disconnecting whoever is still connected."""
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")  # type: ignore[arg-type]


def finding(fp: str, *, vuln: str = "CVE-2024-0001", severity: str = "high",
            kind: str = "vulnerability", package: str = "openssl", fixed: bool = True,
            kev: bool = False) -> dict[str, Any]:
    """One finding in report/findings_dict.py's shape."""
    return {
        "kind": kind, "id": vuln, "aliases": [], "title": f"{vuln} in {package}",
        "severity": severity,
        "package": {"name": package, "version": "1.0", "type": "deb",
                    "purl": f"pkg:deb/debian/{package}@1.0"},
        "fixed_versions": ["1.1"] if fixed else [], "status": "fixed" if fixed else "not-fixed",
        "location": {"path": "/var/lib/dpkg/status", "line": None, "end_line": None,
                     "layer": None, "commit": None, "resource": None},
        "cvss": [], "epss": None, "kev": {"due_date": "2024-01-01"} if kev else None,
        "references": [], "description": "", "remediation": "", "controls": [],
        "fingerprint": fp, "evidence": {},
    }


def report(findings: list[dict[str, Any]], *, digest: str = "sha256:" + "a" * 64,
           tags: tuple[str, ...] = ("registry.example/app:1.0",), scanners: tuple[str, ...] =
           ("vuln",), **extra: Any) -> dict[str, Any]:
    """A scan report in report/findings_dict.py's shape."""
    return {
        "schema_version": "1.0", "tool": {"name": "stackwarden", "version": "0.1.0"},
        "created": "2025-01-01T00:00:00Z", "target": f"registry:{tags[0] if tags else digest}",
        "artifact": {"kind": "registry", "reference": tags[0] if tags else digest,
                     "name": tags[0] if tags else "", "digest": digest, "config_digest": None,
                     "platform": "linux/amd64", "repo_tags": list(tags), "layers": []},
        "os": None, "scanners": list(scanners), "database": {},
        "summary": {"findings": len(findings)}, "findings": findings, "suppressed": [],
        "skipped": [], "warnings": [], "timings": {}, "sbom": {"packages": [], "catalogers": []},
        **extra,
    }


def body(doc: Any) -> bytes:
    """JSON bytes for a request body."""
    return json.dumps(doc).encode()
