"""The task functions jobs run (the same code in-process and in Celery workers)."""

from __future__ import annotations

import json
import zlib
from typing import Any

from stackwarden.core.errors import StackWardenError
from stackwarden.server.context import ServerContext
from stackwarden.server.db.models import Job, Sbom
from stackwarden.server.ingest import ingest_report
from stackwarden.server.jobs import task


@task("ingest_report")
def ingest_report_task(ctx: ServerContext, job: Job) -> dict[str, Any]:
    """Ingest the report carried in the job's payload."""
    if job.payload is None:
        raise StackWardenError("the job has no report payload")
    with ctx.db.transaction() as session:
        return ingest_report(session, job.payload, job.submitted_by, ctx.audit).to_dict()


@task("rematch_sbom")
def rematch_sbom_task(ctx: ServerContext, job: Job) -> dict[str, Any]:
    """Match a stored SBOM against the server's vulnerability database and ingest the result
    (on the asset named by the `asset` parameter, e.g. an agent's host, if given)."""
    from stackwarden.catalog.sbom_import import read_sbom_document
    from stackwarden.report.json_report import dump, scan_to_dict
    from stackwarden.scan import ScanResult
    from stackwarden.vulndb.match import match_sbom
    from stackwarden.vulndb.store import VulnDB, default_db_path

    params = json.loads(job.params)
    sbom_id = int(params["sbom_id"])
    with ctx.db.session() as session:
        row = session.get(Sbom, sbom_id)
        if row is None:
            raise StackWardenError(f"SBOM {sbom_id} not found")
        doc = json.loads(zlib.decompress(row.content))
    sbom = read_sbom_document(doc, f"sbom:{sbom_id}")
    with VulnDB(ctx.settings.vulndb_path or default_db_path()) as vdb:
        matched = match_sbom(sbom, vdb)
        database = dict(vdb.meta)
    result = ScanResult(target=f"sbom:{sbom_id}", sbom=sbom, findings=list(matched.findings),
                        scanners=("vuln",), database=database)
    report = scan_to_dict(result)
    if params.get("asset"):
        report["asset"] = params["asset"]
    data = dump(report)
    with ctx.db.transaction() as session:
        return ingest_report(session, data, job.submitted_by, ctx.audit).to_dict()


@task("audit_checkpoint")
def audit_checkpoint_task(ctx: ServerContext, job: Job) -> dict[str, Any]:
    """Sign a checkpoint over the whole audit log now."""
    with ctx.db.transaction() as session:
        cp = ctx.audit.checkpoint(session)
    return {"checkpoint": None if cp is None else cp.to_dict()}
