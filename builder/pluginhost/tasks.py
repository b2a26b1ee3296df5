"""Celery entry points of the plugin host: the polls of long-running tools' jobs (``jobs.py``).

Each takes ids and calls one step of ``jobs.py``; each is safe to deliver twice (a poll claims its
turn with a conditional update). They run on ``PLUGIN_JOBS_QUEUE``, on each worker thread's own
long-lived event loop.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task

from builder.conversations.tasks import run_on_worker_loop
from builder.pluginhost.job_files import unseal_file_headers
from builder.pluginhost.jobs import job_apply_report, job_poll, resume_stale_jobs
from builder.sdk.jobs import JobStatus


@shared_task(name="pluginhost.poll_job", acks_late=True)
def poll_job(job_id: str, token: int) -> None:
    """Poll the job once, if ``token`` is still its turn; it schedules the next poll itself."""
    run_on_worker_loop(job_poll(job_id, token))


@shared_task(name="pluginhost.apply_job_report", acks_late=True)
def apply_job_report(job_id: str, status: dict[str, Any], file_headers: str = "") -> None:
    """A provider's callback said the job is over: store its result now (``file_headers``: its
    files' download headers, encrypted)."""
    run_on_worker_loop(job_apply_report(job_id, unseal_file_headers(JobStatus.model_validate(status), file_headers)))


@shared_task(name="pluginhost.resume_stale_jobs")
def resume_stale_jobs_task() -> int:
    """Beat: poll again the jobs whose poll is long overdue (the worker that had it died)."""
    return run_on_worker_loop(resume_stale_jobs())
