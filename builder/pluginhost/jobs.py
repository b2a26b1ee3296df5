"""Long-running tools' jobs: start, poll, finish, cancel and resume them (DESIGN.md §5).

A ``long_running`` tool's ``invoke`` returns a ``JobHandle``; the ``PluginJobRunner``
(``job_runner.py``) keeps it as a ``PluginJob`` row and waits while the job is followed in the
background. The row is the truth every process shares; these are the steps that change it:

- ``job_poll(job_id, token)``: one poll. It first claims the poll with a conditional update
  (``attempts == token``), so a poll task delivered twice, or re-queued while the first copy still
  waits in the broker, polls once. It asks the plugin (``poll``), writes what it learned and
  schedules the next poll, or finishes the job: result files stored (``job_files.py``), output
  checked against the tool's output model.
- ``job_report``: a provider's callback (a webhook handler's ``job_updates``). Progress is written
  at once; a final status is applied like a poll's answer, without waiting for the next poll.
- ``job_cancel`` / ``job_expire``: the run was cancelled, or the deadline passed. The row says
  so (a poll still in flight then finds nothing to finish) and the provider is told (``cancel``).
- ``resume_stale_jobs``: jobs whose poller died (a worker restart) are polled again.

Where polls run: a Celery task (``tasks.poll_job`` on ``PLUGIN_JOBS_QUEUE``, acks_late, which
re-schedules itself with a countdown) in production; an asyncio task on the server's event loop
in the embedded default (no broker: ``CELERY_TASK_ALWAYS_EAGER``).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
from collections.abc import Coroutine, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from typing import Any, Final

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.files.storage import default_storage
from django.utils import timezone
from django.utils.translation import gettext_noop

from builder.core.crypto import SecretUnreadable
from builder.core.ssrf import SsrfSafeHttpClient
from builder.pluginhost.configuration import decrypted_config
from builder.pluginhost.contexts import plugin_context
from builder.pluginhost.job_files import delete_job_files, seal_file_headers, store_job_file
from builder.pluginhost.manager import get_host
from builder.pluginhost.models import PluginInstallation, PluginJob
from builder.sdk.context import PluginContext
from builder.sdk.errors import ToolError
from builder.sdk.execution import check_output, output_json, run_cancel, run_poll
from builder.sdk.jobs import JobCallback, JobStatus
from builder.sdk.tools import JobHandle, ToolSpec

logger = logging.getLogger(__name__)
Status = PluginJob.Status

# A claimed poll holds the job this long (more for a tool with a longer timeout; a download
# renews it): past that, the poll is presumed dead and the job may be polled again.
CLAIM_S: Final = 120.0
# Failed polls in a row (provider down, timeouts) before the job fails; the pause between them
# doubles, up to MAX_BACKOFF_S.
MAX_POLL_ERRORS: Final = 5
MAX_BACKOFF_S: Final = 300.0
# A callback may have to claim a job a poll holds; it tries this many times.
CLAIM_TRIES: Final = 5
# How long the provider gets to acknowledge a cancel.
CANCEL_TIMEOUT_S: Final = 15.0

JOB_FAILED: Final = "job_failed"
JOB_EXPIRED: Final = "job_expired"
JOB_CANCELLED: Final = "job_cancelled"
EXPIRED_MESSAGE: Final = gettext_noop(
    "The %(tool)s tool's job did not finish within %(seconds)s seconds, its deadline, and was stopped."
)
CANCELLED_MESSAGE: Final = gettext_noop("The %(tool)s tool's job was cancelled.")
FAILED_MESSAGE: Final = gettext_noop("The %(tool)s tool's job failed: %(error)s")
NO_REASON: Final = gettext_noop("the provider gave no reason")


@dataclass(frozen=True)
class NextPoll:
    """Poll again after ``delay_s`` with ``token`` (the job's ``attempts`` when it was scheduled)."""

    token: int
    delay_s: float


class _NotLoadedHere(Exception):
    """The job's plugin or tool is not loaded in this process (a worker of another version)."""


# --- waking the waiters of this process -----------------------------------------------------------

_watchers: dict[str, set[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = {}
_watchers_lock = threading.Lock()


@contextmanager
def watch_job(job_id: str) -> Iterator[asyncio.Event]:
    """An event set whenever this process changes the job (another process's changes are seen
    by reading the row)."""
    entry = (asyncio.get_running_loop(), asyncio.Event())
    with _watchers_lock:
        _watchers.setdefault(job_id, set()).add(entry)
    try:
        yield entry[1]
    finally:
        with _watchers_lock:
            watchers = _watchers.get(job_id, set())
            watchers.discard(entry)
            if not watchers:
                _watchers.pop(job_id, None)


def _notify(job_id: str) -> None:
    with _watchers_lock:
        watchers = list(_watchers.get(job_id, ()))
    for loop, event in watchers:
        if not loop.is_closed():
            loop.call_soon_threadsafe(event.set)


# --- where polls run ------------------------------------------------------------------------------

# Embedded default: the asyncio task that will poll each job next (kept referenced until it ran).
_local_polls: dict[str, asyncio.Task[None]] = {}


def _embedded() -> bool:
    return bool(settings.CELERY_TASK_ALWAYS_EAGER)


def _start_local(job_id: str, coroutine: Coroutine[Any, Any, None]) -> None:
    # A fresh context: the poll must not inherit the request's or the run's.
    task = asyncio.get_running_loop().create_task(coroutine, context=contextvars.Context())
    _local_polls[job_id] = task

    def done(finished: asyncio.Task[None]) -> None:
        if _local_polls.get(job_id) is finished:
            del _local_polls[job_id]
        if not finished.cancelled() and finished.exception() is not None:
            logger.error("polling the plugin job %s crashed", job_id, exc_info=finished.exception())

    task.add_done_callback(done)


async def schedule_poll(job_id: str, token: int, delay_s: float) -> None:
    """Poll the job after ``delay_s`` seconds: a Celery task, or (embedded) an asyncio task."""
    if _embedded():
        _start_local(job_id, _poll_later(job_id, token, delay_s))
        return
    from builder.pluginhost.tasks import poll_job

    await sync_to_async(poll_job.apply_async, thread_sensitive=False)(
        (job_id, token), countdown=max(delay_s, 0.0), queue=settings.PLUGIN_JOBS_QUEUE
    )


async def _poll_later(job_id: str, token: int, delay_s: float) -> None:
    await asyncio.sleep(max(delay_s, 0.0))
    await job_poll(job_id, token)


async def _hand_over_report(job_id: str, status: JobStatus) -> None:
    """Apply a callback's final status in the background: storing a file may take minutes, and
    the provider waits for our answer to its webhook."""
    if _embedded():
        _start_local(f"report:{job_id}", job_apply_report(job_id, status))
        return
    from builder.pluginhost.tasks import apply_job_report

    await sync_to_async(apply_job_report.apply_async, thread_sensitive=False)(
        (job_id, status.model_dump(mode="json"), seal_file_headers(status)), queue=settings.PLUGIN_JOBS_QUEUE
    )


# --- starting -------------------------------------------------------------------------------------


async def job_start(*, spec: ToolSpec[Any, Any], handle: JobHandle, ctx: PluginContext) -> PluginJob:
    """Keep the job the tool's ``invoke`` started, and schedule its first poll."""
    now = timezone.now()
    job = await PluginJob.objects.acreate(
        workspace_id=ctx.workspace_id,
        run_id=ctx.run_id,
        plugin_id=ctx.plugin_id,
        tool=spec.name,
        job_id=handle.job_id,
        handle_state=dict(handle.state),
        poll_interval_s=handle.poll_interval_s,
        deadline_s=handle.deadline_s,
        deadline_at=now + timedelta(seconds=handle.deadline_s),
        next_poll_at=now + timedelta(seconds=handle.poll_interval_s),
    )
    logger.info("plugin job %s started: %s/%s, provider id %s", job.pk, job.plugin_id, job.tool, job.job_id)
    await schedule_poll(str(job.pk), 0, handle.poll_interval_s)
    return job


# --- polling --------------------------------------------------------------------------------------


async def job_poll(job_id: str, token: int) -> None:
    """Poll the job if ``token`` is still its turn (else another poll had it: do nothing); then
    schedule the next poll, unless the job is over."""
    if not await _claim(job_id, token):
        return
    following = await _advance(job_id, token + 1, None)
    if following is not None:
        await schedule_poll(job_id, following.token, following.delay_s)


async def _claim(job_id: str, token: int) -> bool:
    claimed: int = await PluginJob.objects.filter(pk=job_id, status=Status.RUNNING, attempts=token).aupdate(
        attempts=token + 1, next_poll_at=timezone.now() + timedelta(seconds=CLAIM_S)
    )
    return claimed == 1


async def _extend_claim(job_id: str, token: int, seconds: float = CLAIM_S) -> None:
    await PluginJob.objects.filter(pk=job_id, status=Status.RUNNING, attempts=token).aupdate(
        next_poll_at=timezone.now() + timedelta(seconds=seconds)
    )


async def _advance(job_id: str, token: int, status: JobStatus | None) -> NextPoll | None:
    """The claimed step of a job (``token``: its ``attempts`` after the claim): ``status`` from a
    callback, or else the plugin's ``poll``, applied. The next poll, or None when it is over."""
    job = await PluginJob.objects.aget(pk=job_id)
    try:
        spec, ctx = await _job_context(job)
    except _NotLoadedHere:
        if timezone.now() >= job.deadline_at:
            await job_expire(job)
            return None
        logger.warning("plugin job %s: %s/%s is not loaded in this process", job_id, job.plugin_id, job.tool)
        return await _release(job, token, job.poll_interval_s)
    except ToolError as error:  # the plugin was disabled, or its settings cannot be read
        await _finish(job, token, Status.FAILED, error_code=error.code, error=error.message)
        return None
    if timezone.now() >= job.deadline_at:
        await job_expire(job, spec=spec, ctx=ctx)
        return None
    if spec.timeout_s + 30 > CLAIM_S:
        await _extend_claim(job_id, token, spec.timeout_s + 30)
    if status is None:
        try:
            status = await run_poll(spec, _handle(job), ctx)
        except ToolError as error:
            return await _poll_failed(job, token, error)
    return await _apply(job, token, spec, ctx, status)


async def _apply(
    job: PluginJob, token: int, spec: ToolSpec[Any, Any], ctx: PluginContext, status: JobStatus
) -> NextPoll | None:
    state = status.handle_state if status.handle_state is not None else job.handle_state
    if status.state == "running":
        return await _release(
            job, token, job.poll_interval_s, percent=status.percent, note=status.note, handle_state=state, poll_errors=0
        )
    if status.state == "failed":
        error = ctx.redact(status.error.strip()) or NO_REASON
        await _finish(job, token, Status.FAILED, error_code=JOB_FAILED, error=error, handle_state=state)
        return None
    stored: list[str] = []
    try:
        output: dict[str, Any] = dict(status.output or {})
        for field, file in status.files.items():
            try:
                name = await store_job_file(
                    workspace_id=job.workspace_id,
                    job_id=job.pk,
                    field=field,
                    file=file,
                    ctx=ctx,
                    heartbeat=lambda: _extend_claim(str(job.pk), token),
                )
            except ToolError as error:
                if not file.optional:
                    raise
                logger.warning("plugin job %s: left out its optional file %s (%s)", job.pk, field, error.code)
                continue
            stored.append(name)
            output[field] = default_storage.url(name)
        result = output_json(check_output(spec, output))
    except ToolError as error:
        await delete_job_files(stored)
        return await _poll_failed(job, token, error)
    except Exception as error:  # the storage failed (disk full…): try again at the next poll
        logger.exception("plugin job %s: could not keep its result", job.pk)
        await delete_job_files(stored)
        return await _poll_failed(job, token, ToolError(f"{type(error).__name__}: {error}", retryable=True))
    finished = await _finish(
        job,
        token,
        Status.SUCCEEDED,
        output=result,
        files=stored,
        percent=100.0,
        note=status.note,
        handle_state=state,
    )
    if not finished:  # cancelled meanwhile, or a callback finished it first: keep nothing twice
        await delete_job_files(stored)
    return None


async def _poll_failed(job: PluginJob, token: int, error: ToolError) -> NextPoll | None:
    """A transient failure waits and tries again (a few times); any other fails the job."""
    errors = job.poll_errors + 1
    if error.retryable and errors < MAX_POLL_ERRORS:
        logger.warning("plugin job %s: poll %s failed (%s), trying again", job.pk, errors, error.code)
        delay = min(job.poll_interval_s * 2**errors, MAX_BACKOFF_S)
        return await _release(job, token, delay, poll_errors=errors)
    await _finish(job, token, Status.FAILED, error_code=error.code, error=error.message)
    return None


async def _release(job: PluginJob, token: int, delay_s: float, **fields: Any) -> NextPoll | None:
    """Write what the poll learned and when the next one is due, if the poll still holds the job."""
    updated = await PluginJob.objects.filter(pk=job.pk, status=Status.RUNNING, attempts=token).aupdate(
        next_poll_at=timezone.now() + timedelta(seconds=delay_s), **fields
    )
    if not updated:
        return None
    if "percent" in fields or "note" in fields:
        _notify(str(job.pk))
    return NextPoll(token=token, delay_s=delay_s)


async def _finish(job: PluginJob, token: int | None, status: str, **fields: Any) -> bool:
    """End the job, if it is still running (and, for a poll, still the poll's: ``token``)."""
    rows = PluginJob.objects.filter(pk=job.pk, status=Status.RUNNING)
    if token is not None:
        rows = rows.filter(attempts=token)
    if not await rows.aupdate(status=status, finished_at=timezone.now(), **fields):
        return False
    logger.info("plugin job %s %s %s", job.pk, status, fields.get("error_code", ""))
    _notify(str(job.pk))
    return True


def _handle(job: PluginJob) -> JobHandle:
    return JobHandle(
        job_id=job.job_id, state=job.handle_state, poll_interval_s=job.poll_interval_s, deadline_s=job.deadline_s
    )


@lru_cache(maxsize=4)
def _http_client(allow: tuple[str, ...]) -> SsrfSafeHttpClient:
    return SsrfSafeHttpClient(allow=allow)


async def _job_context(job: PluginJob) -> tuple[ToolSpec[Any, Any], PluginContext]:
    """The tool and a context with the workspace's current settings of the plugin, as the tool
    call had (progress is what ``JobStatus`` reports, not ``ctx.progress``)."""
    loaded = get_host().get(job.plugin_id)
    spec = loaded.tools.get(job.tool) if loaded is not None else None
    if loaded is None or spec is None or not spec.long_running:
        raise _NotLoadedHere
    installation = await PluginInstallation.objects.filter(
        workspace_id=job.workspace_id, plugin_id=job.plugin_id
    ).afirst()
    if installation is None or not installation.enabled:
        raise ToolError.from_template(
            "plugin_disabled",
            gettext_noop("The %(plugin)s plugin was disabled in this workspace while its job ran."),
            plugin=job.plugin_id,
        )
    try:
        config = decrypted_config(loaded.manifest, installation)
    except SecretUnreadable:
        raise ToolError.from_template(
            "plugin_settings_unreadable",
            gettext_noop("The stored settings of the %(plugin)s plugin cannot be decrypted."),
            plugin=job.plugin_id,
        ) from None
    ctx = plugin_context(
        loaded,
        config=config,
        http=_http_client(tuple(settings.AGENTLOOM_HTTP_ALLOWLIST)),
        tool=job.tool,
        workspace_id=str(job.workspace_id),
        run_id=job.run_id,
    )
    return spec, ctx


# --- callbacks, cancel, deadline ------------------------------------------------------------------


async def job_report(*, plugin_id: str, updates: Sequence[JobCallback]) -> int:
    """Apply what a provider's callback said about the plugin's jobs; how many running jobs it was
    about. Progress is written here; a final status is applied in the background."""
    await resume_orphaned_jobs_once()
    matched = 0
    for update in updates:
        status = update.status
        rows = PluginJob.objects.filter(plugin_id=plugin_id, job_id=update.job_id, status=Status.RUNNING)
        async for job in rows.only("pk", "handle_state"):
            matched += 1
            job_id = str(job.pk)
            if status.state != "running":
                await _hand_over_report(job_id, status)
                continue
            fields: dict[str, Any] = {"percent": status.percent, "note": status.note}
            if status.handle_state is not None:
                fields["handle_state"] = status.handle_state
            if await PluginJob.objects.filter(pk=job.pk, status=Status.RUNNING).aupdate(**fields):
                _notify(job_id)
    return matched


async def job_apply_report(job_id: str, status: JobStatus) -> None:
    """A callback's final status, applied as a poll's answer would be: it takes the job's turn
    from whichever poll holds it (that poll then finds nothing to finish)."""
    for _attempt in range(CLAIM_TRIES):
        token = (
            await PluginJob.objects.filter(pk=job_id, status=Status.RUNNING).values_list("attempts", flat=True).afirst()
        )
        if token is None:
            return  # over already
        if await _claim(job_id, token):
            following = await _advance(job_id, token + 1, status)
            if following is not None:
                await schedule_poll(job_id, following.token, following.delay_s)
            return
    logger.warning("plugin job %s: a callback could not claim it; the next poll will see the result", job_id)


async def job_cancel(job: PluginJob, *, spec: ToolSpec[Any, Any], ctx: PluginContext) -> bool:
    """Mark the job cancelled (if it still runs) and ask the provider to stop it."""
    message = CANCELLED_MESSAGE % {"tool": job.tool}
    if not await _finish(job, None, Status.CANCELLED, error_code=JOB_CANCELLED, error=message):
        return False
    await _stop_at_provider(job, spec, ctx)
    return True


async def job_expire(
    job: PluginJob, *, spec: ToolSpec[Any, Any] | None = None, ctx: PluginContext | None = None
) -> bool:
    """Fail a job past its deadline (if it still runs), and ask the provider to stop it."""
    rows = PluginJob.objects.filter(pk=job.pk, status=Status.RUNNING, deadline_at__lte=timezone.now())
    updated = await rows.aupdate(
        status=Status.EXPIRED,
        finished_at=timezone.now(),
        error_code=JOB_EXPIRED,
        error=EXPIRED_MESSAGE % {"tool": job.tool, "seconds": f"{job.deadline_s:g}"},
    )
    if not updated:
        return False
    logger.info("plugin job %s expired", job.pk)
    _notify(str(job.pk))
    if spec is not None and ctx is not None:
        await _stop_at_provider(job, spec, ctx)
    return True


async def _stop_at_provider(job: PluginJob, spec: ToolSpec[Any, Any], ctx: PluginContext) -> None:
    try:
        async with asyncio.timeout(CANCEL_TIMEOUT_S):
            await run_cancel(spec, _handle(job), ctx)
    except (ToolError, TimeoutError) as error:
        logger.warning("plugin job %s: the provider was not told to stop: %s", job.pk, error)


# --- resuming -------------------------------------------------------------------------------------


async def resume_stale_jobs(*, orphans: bool = False) -> int:
    """Poll again the running jobs whose poll is long overdue (the beat task: its worker died),
    or, with ``orphans``, every running job this process does not follow yet (the embedded
    server's start: nothing polls them). How many were scheduled."""
    now = timezone.now()
    rows = PluginJob.objects.filter(status=Status.RUNNING)
    if not orphans:
        rows = rows.filter(next_poll_at__lt=now - timedelta(seconds=settings.PLUGIN_JOB_STALE_AFTER_S))
    scheduled = 0
    async for job in rows.only("pk", "attempts", "next_poll_at", "poll_interval_s"):
        job_id = str(job.pk)
        if job_id in _local_polls:
            continue
        due_in = (job.next_poll_at - now).total_seconds()
        await schedule_poll(job_id, job.attempts, min(max(due_in, 0.0), job.poll_interval_s))
        scheduled += 1
    if scheduled:
        logger.info("resumed polling %s plugin jobs", scheduled)
    return scheduled


_orphans_resumed = False


async def resume_orphaned_jobs_once() -> None:
    """Embedded default: the first time this process follows jobs, it resumes those a previous
    process left running (there is no beat to do it). Production leaves it to the beat task."""
    global _orphans_resumed
    if _orphans_resumed or not _embedded():
        return
    _orphans_resumed = True
    await resume_stale_jobs(orphans=True)
