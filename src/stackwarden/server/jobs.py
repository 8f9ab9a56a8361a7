"""Background jobs: one set of task functions, two runners (in-process threads, Celery).

A job is a database row (kind, params, payload, state); a runner only carries its id. So the
API, `stackwarden worker` processes on other machines and the status endpoint all see the same
record, whichever runner executes it.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from stackwarden.core.errors import StackWardenError
from stackwarden.server.auth import utcnow
from stackwarden.server.context import ServerContext
from stackwarden.server.db.models import Job
from stackwarden.server.errors import ApiError

log = logging.getLogger("stackwarden.server.jobs")
Task = Callable[[ServerContext, Job], dict[str, Any]]
TASKS: dict[str, Task] = {}


def task(kind: str) -> Callable[[Task], Task]:
    """Register a task function under a job kind."""
    def register(func: Task) -> Task:
        TASKS[kind] = func
        return func
    return register


class JobRunner(Protocol):
    """Something that eventually calls `run_job(ctx, job_id)` for a submitted job."""

    def submit(self, job_id: str) -> None:
        """Schedule the job."""

    def close(self) -> None:
        """Stop accepting work."""


def create_job(session: Session, kind: str, actor: str, audit: Any, *,
               params: dict[str, Any] | None = None, payload: bytes | None = None) -> Job:
    """Record a queued job (and an audit entry) in the caller's transaction; submit after commit."""
    if kind not in TASKS:
        raise ValueError(f"unknown job kind {kind!r}")
    job = Job(id=str(uuid.uuid4()), kind=kind, state="queued", created_at=utcnow(),
              submitted_by=actor, params=json.dumps(params or {}), payload=payload, attempts=0)
    session.add(job)
    session.flush()
    audit.append(session, actor, "job.submit", f"job:{job.id}",
                 {"kind": kind, "params": params or {}})
    return job


def run_job(ctx: ServerContext, job_id: str) -> str:
    """Run one job to completion and record the outcome; returns the final state."""
    with ctx.db.transaction() as session:
        job = session.get(Job, job_id, with_for_update=True)
        if job is None or job.state not in ("queued", "running"):
            return "missing" if job is None else job.state  # already done (redelivery)
        job.state, job.started_at, job.attempts = "running", utcnow(), job.attempts + 1
    func = TASKS.get(job.kind)
    try:
        if func is None:
            raise StackWardenError(f"unknown job kind {job.kind!r}")
        result = func(ctx, job)
        state, error = "succeeded", None
    except (StackWardenError, ApiError) as exc:
        result, state, error = None, "failed", str(exc)[:2000]
    except Exception as exc:  # a job must end in a recorded state, whatever happened
        log.exception("job %s (%s) failed", job_id, job.kind)
        result, state, error = None, "failed", f"{type(exc).__name__}: {str(exc)[:500]}"
    with ctx.db.transaction() as session:
        session.execute(update(Job).where(Job.id == job_id).values(
            state=state, finished_at=utcnow(), error=error, payload=None,
            result=None if result is None else json.dumps(result)))
    return state


def mark_failed(ctx: ServerContext, job_id: str, error: str) -> None:
    """Record a job as failed without running it (e.g. it could not be handed to a runner)."""
    with ctx.db.transaction() as session:
        session.execute(update(Job).where(Job.id == job_id, Job.state == "queued").values(
            state="failed", finished_at=utcnow(), error=error, payload=None))


class InProcessRunner:
    """Embedded mode: a small thread pool in the API process."""

    def __init__(self, ctx: ServerContext, threads: int = 2) -> None:
        self.ctx = ctx
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="sw-job")

    def submit(self, job_id: str) -> None:
        """Run the job on a pool thread."""
        self.pool.submit(run_job, self.ctx, job_id)

    def resume(self) -> int:
        """After a restart: run jobs still queued; jobs cut off mid-run are run again."""
        with self.ctx.db.session() as session:
            ids = list(session.execute(select(Job.id).where(Job.state.in_(("queued", "running")))
                                       .order_by(Job.created_at)).scalars())
        for job_id in ids:
            self.submit(job_id)
        return len(ids)

    def close(self) -> None:
        """Finish running jobs, then stop."""
        self.pool.shutdown(wait=True, cancel_futures=False)


CELERY_TASK = "stackwarden.run_job"


def celery_app(broker_url: str, queue: str = "stackwarden") -> Any:
    """The Celery application shared by the API (sender) and `stackwarden worker` (consumer)."""
    from celery import Celery

    app = Celery("stackwarden", broker=broker_url)
    app.conf.update(task_ignore_result=True, task_acks_late=True,
                    task_reject_on_worker_lost=True, worker_prefetch_multiplier=1,
                    broker_connection_retry_on_startup=True, task_default_queue=queue,
                    worker_hijack_root_logger=False, broker_connection_timeout=3,
                    # a request that queues a job must not hang on a dead broker
                    task_publish_retry_policy={"max_retries": 2, "interval_start": 0,
                                               "interval_step": 0.5, "interval_max": 1})
    return app


class CeleryRunner:
    """Distributed mode: Celery on Redis; `stackwarden worker` processes run the jobs."""

    def __init__(self, broker_url: str, queue: str = "stackwarden") -> None:
        self.app = celery_app(broker_url, queue)

    def submit(self, job_id: str) -> None:
        """Send the job id to the broker."""
        self.app.send_task(CELERY_TASK, args=[job_id])

    def close(self) -> None:
        """Release broker connections."""
        self.app.close()


def make_runner(ctx: ServerContext) -> JobRunner:
    """Celery when a broker is configured, else the in-process pool."""
    if ctx.settings.broker_url:
        return CeleryRunner(ctx.settings.broker_url, ctx.settings.job_queue)
    return InProcessRunner(ctx, ctx.settings.job_threads)


def worker_app(ctx: ServerContext) -> Any:
    """The Celery app with the one task that runs any job, for `stackwarden worker`."""
    app = celery_app(ctx.settings.broker_url, ctx.settings.job_queue)

    @app.task(name=CELERY_TASK)
    def _run(job_id: str) -> str:
        return run_job(ctx, job_id)

    return app


def job_to_dict(job: Job) -> dict[str, Any]:
    """The API form of a job (never its payload)."""
    def iso(v: Any) -> str | None:
        return None if v is None else v.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"id": job.id, "kind": job.kind, "state": job.state, "submitted_by": job.submitted_by,
            "created_at": iso(job.created_at), "started_at": iso(job.started_at),
            "finished_at": iso(job.finished_at), "attempts": job.attempts,
            "params": json.loads(job.params or "{}"),
            "result": None if job.result is None else json.loads(job.result),
            "error": job.error}


from stackwarden.server import tasks as _tasks  # noqa: F401  (registers the task functions)
from stackwarden.server import registry_scan as _registry_tasks  # noqa: E402,F401
