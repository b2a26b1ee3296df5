"""The invoker's ``JobRunner``: a long-running tool's node waits here for its job's result.

``PluginJobRunner.run`` keeps the job (``jobs.job_start``, which schedules its polls) and waits
until the ``PluginJob`` row says it is over, showing each new percent and note in the chat as a
``tool.progress`` event on the way (the node's progress path, ``ctx.progress``). When the job
succeeded, each result file the poller stored (``job_files.py``) goes to ``on_file`` before the
output is returned (the chat's ``tool.file``: a video shown as a video, not as a link).

How the waiting node learns what the poller did: the row is the truth, read again whenever this
process changed it (``jobs.watch_job``: the embedded default, where polls run on the same event
loop, wakes at once) and otherwise at a short interval that backs off from 50 ms to a second (at
most half the poll interval, so no percent a poll wrote is missed). That is the production path,
where the node runs on one Celery worker and its polls on another: one primary-key read a second
per waiting job, and no second channel that could disagree with the database.

The wait is cancellable: a cancelled run (``ctx.cancelled()``, or the node's task cancelled)
marks the job cancelled and tells the provider (the tool's ``cancel``). A job still running past
its deadline is expired here too, should its poller be gone.
"""

from __future__ import annotations

import asyncio
import logging
import mimetypes
from pathlib import PurePosixPath
from typing import Any, Final

from asgiref.sync import sync_to_async
from django.core.files.storage import default_storage
from django.utils import timezone

from builder.pluginhost.invoker import FileCallback, StoredFile
from builder.pluginhost.jobs import (
    CANCEL_TIMEOUT_S,
    CANCELLED_MESSAGE,
    EXPIRED_MESSAGE,
    FAILED_MESSAGE,
    JOB_CANCELLED,
    JOB_EXPIRED,
    JOB_FAILED,
    job_cancel,
    job_expire,
    job_start,
    resume_orphaned_jobs_once,
    watch_job,
)
from builder.pluginhost.models import PluginJob
from builder.sdk.context import PluginContext
from builder.sdk.errors import ToolError
from builder.sdk.tools import JobHandle, ToolSpec

logger = logging.getLogger(__name__)
Status = PluginJob.Status
FIRST_WAIT_S: Final = 0.05
MAX_WAIT_S: Final = 1.0


class PluginJobRunner:
    """Implements ``invoker.JobRunner``: start following the job, then wait for its output."""

    async def run(self, spec: ToolSpec[Any, Any], job: JobHandle, ctx: PluginContext, *, on_file: FileCallback) -> Any:
        await resume_orphaned_jobs_once()
        record = await job_start(spec=spec, handle=job, ctx=ctx)
        return await wait_for_job(record, spec=spec, ctx=ctx, on_file=on_file)


async def wait_for_job(
    job: PluginJob, *, spec: ToolSpec[Any, Any], ctx: PluginContext, on_file: FileCallback | None = None
) -> Any:
    """The job's output once it succeeded (its stored files told to ``on_file`` first);
    ``ToolError`` (``job_failed``, ``job_expired``, ``job_cancelled``, or the code of what went
    wrong) when it did not."""
    job_id = str(job.pk)
    shown: tuple[float | None, str] = (None, "")
    wait_s = FIRST_WAIT_S
    with watch_job(job_id) as changed:
        try:
            while True:
                changed.clear()
                job = await PluginJob.objects.aget(pk=job_id)
                if (job.percent, job.note) != shown and job.status in (Status.RUNNING, Status.SUCCEEDED):
                    shown = (job.percent, job.note)
                    await ctx.progress(job.percent, job.note)
                if job.status != Status.RUNNING:
                    if job.status == Status.SUCCEEDED and on_file is not None:
                        for file in await stored_files(job):
                            await on_file(file)
                    return _outcome(job)
                if ctx.cancelled():
                    await job_cancel(job, spec=spec, ctx=ctx)
                    continue
                until_deadline = (job.deadline_at - timezone.now()).total_seconds()
                if until_deadline <= 0:
                    await job_expire(job, spec=spec, ctx=ctx)
                    continue
                try:
                    async with asyncio.timeout(min(wait_s, until_deadline)):
                        await changed.wait()
                    wait_s = FIRST_WAIT_S
                except TimeoutError:
                    wait_s = min(wait_s * 2, MAX_WAIT_S, max(job.poll_interval_s / 2, FIRST_WAIT_S))
        except asyncio.CancelledError:
            # The run was cancelled (or the node timed out): the job must not run on unseen.
            stopping = asyncio.ensure_future(job_cancel(job, spec=spec, ctx=ctx))
            try:
                await asyncio.wait_for(asyncio.shield(stopping), CANCEL_TIMEOUT_S + 5)
            except (Exception, asyncio.CancelledError):
                logger.warning("plugin job %s: could not cancel it with its run", job_id, exc_info=True)
            raise


async def stored_files(job: PluginJob) -> list[StoredFile]:
    """The result files a succeeded job keeps, with the URL its output gives each."""
    output: dict[str, Any] = job.output if isinstance(job.output, dict) else {}
    return [await _stored_file(name, output) for name in job.files]


async def _stored_file(name: str, output: dict[str, Any]) -> StoredFile:
    stored_as = PurePosixPath(name).name
    # job_files names a file "<output field>-<its own name>", and the field holds its URL; the
    # longest field wins, should one field's name start another's.
    field = max((key for key in output if stored_as.startswith(f"{key}-")), key=len, default="")
    url = output.get(field) if field else None
    if not isinstance(url, str):
        url = default_storage.url(name)
    try:
        size: int | None = await sync_to_async(default_storage.size, thread_sensitive=False)(name)
    except Exception:  # the size is a hint for the chat: a storage that cannot tell leaves it out
        logger.warning("plugin job file %s: its size is unknown", name, exc_info=True)
        size = None
    return StoredFile(
        field=field,
        url=url,
        name=stored_as.removeprefix(f"{field}-") if field else stored_as,
        # What the file is served as: the media view and storage backends go by its name too.
        content_type=mimetypes.guess_type(stored_as)[0] or "application/octet-stream",
        size=size,
    )


def _outcome(job: PluginJob) -> Any:
    if job.status == Status.SUCCEEDED:
        return job.output
    if job.status == Status.EXPIRED:
        raise ToolError.from_template(JOB_EXPIRED, EXPIRED_MESSAGE, tool=job.tool, seconds=f"{job.deadline_s:g}")
    if job.status == Status.CANCELLED:
        raise ToolError.from_template(JOB_CANCELLED, CANCELLED_MESSAGE, tool=job.tool)
    if job.error_code == JOB_FAILED:
        raise ToolError.from_template(JOB_FAILED, FAILED_MESSAGE, tool=job.tool, error=job.error)
    # Something the host found (the result did not fit the output model, a file too large…).
    raise ToolError(job.error, code=job.error_code or JOB_FAILED)
