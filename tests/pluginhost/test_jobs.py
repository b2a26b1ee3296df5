"""Long-running tools: a tool call starts a job and waits while the host follows it in the background.

The node waits in this process; the polls run on an asyncio task here (embedded default) or on a
real Celery worker (production), against a fake render API on 127.0.0.1. Each test is what a user
would notice: progress, the stored video, a clear error, a cancel that reaches the provider, a
callback that finishes early, a job that survives its poller's death, and no file kept twice.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.test import AsyncClient
from django.utils import timezone

from builder.accounts.models import Workspace
from builder.core.ssrf import SsrfSafeHttpClient
from builder.engine.runtime.contract import NodeError, RuntimeServices
from builder.pluginhost import jobs
from builder.pluginhost.invoker import PluginToolInvoker
from builder.pluginhost.job_runner import PluginJobRunner
from builder.pluginhost.models import PluginJob
from tests.engine.nodes.support import StubContext
from tests.pluginhost.fake_render_api import FAILURE, FakeRenderApi, video_bytes
from tests.pluginhost.job_plugin import CALLBACK_TOKEN
from tests.pluginhost.jobs_support import (
    PLUGIN,
    JobsWorker,
    files_of,
    job_ended,
    job_row,
    jobs_workspace,
    stored_bytes,
    wait_until,
)

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("jobs_host", "jobs_mode", "async_orm_closed"),
]
Status = PluginJob.Status


def tools_for(workspace: Workspace) -> PluginToolInvoker:
    return PluginToolInvoker(
        workspace_id=workspace.pk,
        run_id="run-jobs",
        http=SsrfSafeHttpClient(allow=["127.0.0.1"]),
        job_runner=PluginJobRunner(),
    )


async def render(workspace: Workspace, prompt: str, ctx: StubContext | None = None) -> Any:
    tools = tools_for(workspace)
    return await tools.invoke(PLUGIN, "render", {"prompt": prompt}, ctx or StubContext(RuntimeServices(tools=tools)))


async def render_error(workspace: Workspace, prompt: str) -> NodeError:
    with pytest.raises(NodeError) as caught:
        await render(workspace, prompt)
    return caught.value


def progress_of(ctx: StubContext) -> list[float | None]:
    return [delta["percent"] for delta in ctx.deltas if delta.get("tool_progress") == f"{PLUGIN}/render"]


async def test_progress_reaches_the_node_and_the_video_is_stored(render_api: FakeRenderApi) -> None:
    workspace = await sync_to_async(jobs_workspace)(render_api)
    ctx = StubContext(RuntimeServices())

    result = await render(workspace, "ok a cat on a skateboard", ctx)

    fake = render_api.only_job()
    assert result["seconds"] == 3.0
    assert result["video_url"].startswith(f"{settings.MEDIA_URL}plugin-jobs/{workspace.pk}/")
    assert await stored_bytes(result["video_url"]) == video_bytes(fake.id)
    percents = progress_of(ctx)
    if settings.CELERY_TASK_ALWAYS_EAGER:  # same process: every poll's progress, at once
        assert percents == [10, 40, 80, 100]
    else:  # read from the database at least twice per poll interval, in order
        assert set(percents) <= {10, 40, 80, 100} and percents[-1] == 100
        assert percents == sorted(percent or 0 for percent in percents)
    assert ctx.deltas_with("note")[-1] == "rendered"
    # The stored video reaches the node as a file (the chat's tool.file), after the last progress.
    [file] = [delta for delta in ctx.deltas if "tool_file" in delta]
    assert file == {
        "tool_file": f"{PLUGIN}/render",
        "url": result["video_url"],
        "name": "clip.mp4",
        "content_type": "video/mp4",
        "size": len(video_bytes(fake.id)),
        "field": "video_url",
    }
    assert ctx.deltas.index(file) == len(ctx.deltas) - 1
    job = await job_row(job_id=fake.id)
    assert (job.status, job.percent, job.output) == (Status.SUCCEEDED, 100.0, result)
    assert job.workspace_id == workspace.pk and job.run_id == "run-jobs" and job.attempts == 4
    assert await files_of(job) == ["video_url-clip.mp4"]


async def _body(response: Any) -> bytes:
    return b"".join([chunk async for chunk in response.streaming_content])


async def test_the_chat_can_play_the_stored_video(render_api: FakeRenderApi) -> None:
    workspace = await sync_to_async(jobs_workspace)(render_api)
    result = await render(workspace, "instant a sunset")
    expected = video_bytes(render_api.only_job().id)
    client = AsyncClient()

    whole = await client.get(result["video_url"])
    part = await client.get(result["video_url"], headers={"Range": "bytes=4-11"})
    elsewhere = await client.get(f"{settings.MEDIA_URL}plugin-jobs/../secret_key")

    assert whole.status_code == 200 and whole["Content-Type"] == "video/mp4"
    assert await _body(whole) == expected
    assert part.status_code == 206 and part["Content-Range"] == f"bytes 4-11/{len(expected)}"
    assert await _body(part) == b"ftypmp42"
    assert elsewhere.status_code == 404


async def test_a_file_given_as_bytes_is_stored_too(render_api: FakeRenderApi) -> None:
    workspace = await sync_to_async(jobs_workspace)(render_api)

    result = await render(workspace, "inline a small clip")

    assert await stored_bytes(result["video_url"]) == video_bytes(render_api.only_job().id)
    assert render_api.downloads == {}


async def test_a_failed_job_fails_the_node_with_the_providers_message(render_api: FakeRenderApi) -> None:
    workspace = await sync_to_async(jobs_workspace)(render_api)

    error = await render_error(workspace, "fail something forbidden")

    assert error.code == "job_failed"
    assert error.message == f"The render tool's job failed: {FAILURE}"
    assert error.details["plugin"] == PLUGIN and error.details["tool"] == "render"
    job = await job_row(job_id=render_api.only_job().id)
    assert job.status == Status.FAILED and job.error == FAILURE


async def test_a_result_that_does_not_fit_the_output_is_an_error_and_keeps_no_file(render_api: FakeRenderApi) -> None:
    workspace = await sync_to_async(jobs_workspace)(render_api)

    error = await render_error(workspace, "noseconds a clip")

    assert error.code == "invalid_tool_output" and "seconds" in error.message
    assert await files_of(await job_row(job_id=render_api.only_job().id)) == []


@pytest.mark.skipif(not settings.CELERY_TASK_ALWAYS_EAGER, reason="the limit is the worker's setting")
async def test_a_file_over_the_size_limit_fails_the_job(render_api: FakeRenderApi, settings: Any) -> None:
    settings.PLUGIN_JOB_MAX_FILE_BYTES = 1024
    workspace = await sync_to_async(jobs_workspace)(render_api)

    error = await render_error(workspace, "instant too big")

    assert error.code == "job_file_too_large"
    assert error.message.startswith("The result file clip.mp4 is larger than 0.00097")
    assert await files_of(await job_row(job_id=render_api.only_job().id)) == []


async def test_a_poll_that_fails_for_a_moment_is_tried_again(render_api: FakeRenderApi) -> None:
    workspace = await sync_to_async(jobs_workspace)(render_api)

    result = await render(workspace, "flaky a storm")

    assert await stored_bytes(result["video_url"]) == video_bytes(render_api.only_job().id)
    assert render_api.only_job().polls == 5


async def test_a_job_past_its_deadline_expires_and_is_stopped_at_the_provider(render_api: FakeRenderApi) -> None:
    workspace = await sync_to_async(jobs_workspace)(render_api, deadline_s=1)
    started = asyncio.get_running_loop().time()

    error = await render_error(workspace, "forever and ever")

    assert asyncio.get_running_loop().time() - started < 5
    assert error.code == "job_expired"
    assert error.message == "The render tool's job did not finish within 1 seconds, its deadline, and was stopped."
    fake = render_api.only_job()

    async def told() -> bool:
        return fake.cancelled

    await wait_until(told, what="the provider's cancel")
    assert (await job_row(job_id=fake.id)).status == Status.EXPIRED


async def test_cancelling_the_run_cancels_the_job_at_the_provider(render_api: FakeRenderApi) -> None:
    workspace = await sync_to_async(jobs_workspace)(render_api)
    ctx = StubContext(RuntimeServices())
    node = asyncio.create_task(render(workspace, "forever a long film", ctx))

    async def rendering() -> bool:
        return bool(progress_of(ctx))

    await wait_until(rendering, what="the first progress")
    node.cancel()  # what the engine does to a running node when its run is cancelled
    with pytest.raises(asyncio.CancelledError):
        await node

    fake = render_api.only_job()
    assert fake.cancelled
    job = await job_row(job_id=fake.id)
    assert job.status == Status.CANCELLED and job.error == "The render tool's job was cancelled."


async def test_a_node_that_sees_its_run_cancelled_stops_the_job(render_api: FakeRenderApi) -> None:
    workspace = await sync_to_async(jobs_workspace)(render_api)
    ctx = StubContext(RuntimeServices())
    node = asyncio.create_task(render(workspace, "forever a long film", ctx))

    async def rendering() -> bool:
        return bool(progress_of(ctx))

    await wait_until(rendering, what="the first progress")
    ctx.is_cancelled = True

    with pytest.raises(NodeError) as caught:
        await asyncio.wait_for(node, 10)

    assert caught.value.code == "job_cancelled"
    assert render_api.only_job().cancelled


async def test_the_providers_callback_finishes_the_job_before_the_next_poll(render_api: FakeRenderApi) -> None:
    workspace = await sync_to_async(jobs_workspace)(render_api, poll_interval_s=60, deadline_s=120)
    node = asyncio.create_task(render(workspace, "callback a quick one"))

    async def started() -> bool:
        return await PluginJob.objects.filter(plugin_id=PLUGIN).aexists()

    await wait_until(started, what="the job")
    fake = render_api.only_job()
    client = AsyncClient()
    webhook = f"/api/v1/plugins/{PLUGIN}/webhooks/finished"
    forged = await client.post(webhook, render_api.finished_body(fake.id), content_type="application/json")
    called = await client.post(
        webhook,
        render_api.finished_body(fake.id),
        content_type="application/json",
        headers={"X-Callback-Token": CALLBACK_TOKEN},
    )
    result = await asyncio.wait_for(node, 20)

    assert forged.status_code == 403 and called.status_code == 200
    assert fake.polls == 0  # the first poll was a minute away
    assert await stored_bytes(result["video_url"]) == video_bytes(fake.id)
    assert (await job_row(job_id=fake.id)).status == Status.SUCCEEDED


async def test_a_callback_reports_progress_too(render_api: FakeRenderApi) -> None:
    workspace = await sync_to_async(jobs_workspace)(render_api, poll_interval_s=60, deadline_s=120)
    ctx = StubContext(RuntimeServices())
    node = asyncio.create_task(render(workspace, "callback with progress", ctx))

    async def started() -> bool:
        return await PluginJob.objects.filter(plugin_id=PLUGIN).aexists()

    await wait_until(started, what="the job")
    fake = render_api.only_job()
    client = AsyncClient()
    headers = {"X-Callback-Token": CALLBACK_TOKEN}
    webhook = f"/api/v1/plugins/{PLUGIN}/webhooks/finished"
    running = {"id": fake.id, "status": "running", "progress": 55, "message": "halfway"}
    await client.post(webhook, running, content_type="application/json", headers=headers)

    async def shown() -> bool:
        return 55 in progress_of(ctx)

    await wait_until(shown, what="the callback's progress")
    await client.post(webhook, render_api.finished_body(fake.id), content_type="application/json", headers=headers)
    await asyncio.wait_for(node, 20)

    assert progress_of(ctx) == [55, 100]


async def _orphaned_job(workspace: Workspace, api: FakeRenderApi, prompt: str, **fields: Any) -> PluginJob:
    """A job as a dead worker leaves it: running, its provider job started, nobody polling it."""
    fake = api.start(prompt)
    now = timezone.now()
    values: dict[str, Any] = {
        "workspace": workspace,
        "run_id": "run-lost",
        "plugin_id": PLUGIN,
        "tool": "render",
        "job_id": fake.id,
        "handle_state": {"poll_url": f"{api.base_url}/jobs/{fake.id}"},
        "poll_interval_s": 0.2,
        "deadline_s": 600,
        "deadline_at": now + timedelta(minutes=10),
        "next_poll_at": now - timedelta(minutes=10),
        "attempts": 3,
        **fields,
    }
    return await PluginJob.objects.acreate(**values)


async def _resume_beat() -> int:
    """The beat's task, where this mode runs it: the Celery task's function (its polls go to the
    worker), or the embedded process's own loop."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return await jobs.resume_stale_jobs()
    from builder.pluginhost.tasks import resume_stale_jobs_task

    scheduled: int = await sync_to_async(resume_stale_jobs_task, thread_sensitive=False)()
    return scheduled


async def test_a_job_whose_poller_died_is_resumed_by_the_beat_task(render_api: FakeRenderApi) -> None:
    workspace = await sync_to_async(jobs_workspace)(render_api)
    lost = await _orphaned_job(workspace, render_api, "instant after a restart")
    fresh = await _orphaned_job(workspace, render_api, "instant not lost", next_poll_at=timezone.now())

    assert await _resume_beat() == 1  # only the one whose poll is long overdue

    await wait_until(lambda: job_ended(lost), what="the resumed job")
    assert lost.status == Status.SUCCEEDED
    assert await stored_bytes(lost.output["video_url"]) == video_bytes(lost.job_id)
    assert render_api.jobs[fresh.job_id].polls == 0


@pytest.mark.skipif(not settings.CELERY_TASK_ALWAYS_EAGER, reason="embedded default: no beat, resumed on first use")
async def test_the_embedded_server_resumes_left_jobs_when_it_first_follows_one(
    render_api: FakeRenderApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jobs, "_orphans_resumed", False)  # a fresh process
    workspace = await sync_to_async(jobs_workspace)(render_api)
    left = await _orphaned_job(workspace, render_api, "instant left by the last process", next_poll_at=timezone.now())

    await render(workspace, "instant a new one")

    await wait_until(lambda: job_ended(left), what="the left job")
    assert left.status == Status.SUCCEEDED


async def test_a_poll_delivered_twice_stores_the_file_once(render_api: FakeRenderApi) -> None:
    workspace = await sync_to_async(jobs_workspace)(render_api)
    job = await _orphaned_job(workspace, render_api, "instant twice", attempts=0, next_poll_at=timezone.now())
    job_id = str(job.pk)

    if settings.CELERY_TASK_ALWAYS_EAGER:
        await asyncio.gather(jobs.job_poll(job_id, 0), jobs.job_poll(job_id, 0))
    else:
        from builder.pluginhost.tasks import poll_job

        for _copy in range(2):  # a broker redelivery: the same message again
            await sync_to_async(poll_job.apply_async)((job_id, 0), queue=settings.PLUGIN_JOBS_QUEUE)
        await wait_until(lambda: job_ended(job), what="the job")
        await asyncio.sleep(1)  # the second copy has had its turn too

    await job.arefresh_from_db()
    assert job.status == Status.SUCCEEDED and job.attempts == 1
    assert await files_of(job) == ["video_url-clip.mp4"]
    assert render_api.downloads == {job.job_id: 1}
    assert render_api.jobs[job.job_id].polls == 1


@pytest.mark.production
async def test_polls_run_on_the_worker_that_has_the_plugin(
    render_api: FakeRenderApi, jobs_mode: JobsWorker | None
) -> None:
    assert jobs_mode is not None
    workspace = await sync_to_async(jobs_workspace)(render_api)

    await render(workspace, "instant on the worker")

    assert jobs_mode.queue == settings.PLUGIN_JOBS_QUEUE
    assert jobs._local_polls == {}  # nothing was polled in this process
