"""Prometheus metrics: request counts and latencies per route, plus figures read from the
database at scrape time (job queue depth, findings by severity, audit chain length), so every
stateless API process reports the same global values."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from stackwarden.server.db import Database
from stackwarden.server.db.models import AuditHead, FindingRow, Job


class DatabaseCollector(Collector):
    """Gauges computed from the database when Prometheus scrapes."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self) -> Iterator[Any]:
        """Queue depth, open findings by severity, audit chain length."""
        queue = GaugeMetricFamily("stackwarden_jobs", "Jobs by state", labels=["state"])
        findings = GaugeMetricFamily("stackwarden_findings_open",
                                     "Findings not fixed, by severity", labels=["severity"])
        audit = GaugeMetricFamily("stackwarden_audit_chain_length", "Audit log entries")
        try:
            with self.db.session() as session:
                for state, count in session.execute(select(Job.state, func.count())
                                                    .group_by(Job.state)):
                    queue.add_metric([state], count)
                for severity, count in session.execute(
                        select(FindingRow.severity, func.count())
                        .where(FindingRow.state != "fixed").group_by(FindingRow.severity)):
                    findings.add_metric([severity], count)
                head = session.get(AuditHead, 1)
                audit.add_metric([], head.seq if head else 0)
        except Exception:  # noqa: BLE001 - a scrape during an outage still returns request metrics
            return
        yield queue
        yield findings
        yield audit


class Metrics:
    """The per-application registry (so tests with several apps do not collide)."""

    def __init__(self, db: Database) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("stackwarden_http_requests", "HTTP requests",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("stackwarden_http_request_seconds", "HTTP request latency",
                                 ["method", "route"], registry=self.registry,
                                 buckets=(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10))
        self.registry.register(DatabaseCollector(db))
