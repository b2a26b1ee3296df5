"""The SDK's job contract (builder.sdk.jobs) and the harness a plugin author tests a job with."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from builder.sdk import (
    JobCallback,
    JobFile,
    JobHandle,
    JobStatus,
    PluginContext,
    ToolError,
    ToolSpec,
    WebhookResponse,
)
from builder.sdk.testing import PluginHarness
from tests.pluginhost.fake_render_api import API_KEY, FAILURE, FakeRenderApi, serve_render_api

JOB_PLUGIN = "tests.pluginhost.job_plugin"


class In(BaseModel):
    prompt: str


class Out(BaseModel):
    video_url: str


async def start(data: In, ctx: PluginContext) -> JobHandle:
    return JobHandle(job_id="j1")


async def poll(job: JobHandle, ctx: PluginContext) -> JobStatus:
    return JobStatus(state="running")


def spec(**fields: Any) -> ToolSpec[Any, Any]:
    return ToolSpec(name="render", description="Render.", input_model=In, output_model=Out, invoke=start, **fields)


@pytest.fixture
def render_api() -> Iterator[FakeRenderApi]:
    with serve_render_api() as api:
        yield api


def test_a_file_is_a_url_or_bytes_never_both_nor_neither() -> None:
    assert JobFile(name="a.mp4", content_type="video/mp4", url="https://cdn.example/a.mp4").data is None
    assert JobFile(name="a.mp4", content_type="video/mp4", data=b"\x00\x01").url is None
    with pytest.raises(ValidationError, match="exactly one of url"):
        JobFile(name="a.mp4", content_type="video/mp4")
    with pytest.raises(ValidationError, match="exactly one of url"):
        JobFile(name="a.mp4", content_type="video/mp4", url="https://cdn.example/a.mp4", data=b"x")


def test_a_status_travels_as_json_with_its_bytes() -> None:
    status = JobStatus(
        state="succeeded",
        output={"seconds": 2},
        files={"video_url": JobFile(name="a.mp4", content_type="video/mp4", data=b"\x00\xff")},
        handle_state={"cursor": 3},
    )

    assert JobStatus.model_validate_json(status.model_dump_json()) == status
    assert JobStatus.model_validate(status.model_dump(mode="json")) == status


def test_progress_is_clamped_and_results_come_only_with_success() -> None:
    assert JobStatus(state="running", percent=140).percent == 100
    assert JobStatus(state="running", percent=-3, note="x" * 900).model_dump()["note"] == "x" * 500
    with pytest.raises(ValidationError, match="state='succeeded'"):
        JobStatus(state="running", output={"video_url": "early"})
    with pytest.raises(ValidationError, match="state='succeeded'"):
        JobStatus(state="failed", error="no", files={"v": JobFile(name="a", content_type="video/mp4", data=b"")})


def test_a_long_running_tool_must_say_how_to_poll() -> None:
    with pytest.raises(ValueError, match="render is long_running: give it poll="):
        spec(long_running=True)
    with pytest.raises(ValueError, match="poll and cancel are for long_running tools"):
        spec(poll=poll)
    with pytest.raises(TypeError, match="poll must be an async function"):
        spec(long_running=True, poll=lambda job, ctx: JobStatus(state="running"))
    assert spec(long_running=True, poll=poll).cancel is None


def test_a_webhook_reports_jobs_through_its_response() -> None:
    update = JobCallback(job_id="j1", status=JobStatus(state="failed", error="refused"))

    assert WebhookResponse().job_updates == ()
    assert WebhookResponse(json={"ok": True}, job_updates=[update]).job_updates == [update]


async def test_the_harness_follows_a_job_to_its_end(
    plugin_harness: Callable[..., PluginHarness], render_api: FakeRenderApi
) -> None:
    harness = plugin_harness(JOB_PLUGIN, config={"api_key": API_KEY, "base_url": render_api.base_url})

    done = await harness.run_job("render", {"prompt": "ok a cat"})
    failed = await harness.run_job("render", {"prompt": "fail a thing"})

    [rendered] = [job for job in render_api.jobs.values() if job.scenario == "ok"]
    assert done.state == "succeeded" and done.output == {"seconds": 3.0}
    assert done.files["video_url"].url == f"{render_api.base_url}/files/{rendered.id}.mp4"
    assert [update.percent for update in harness.progress] == [10, 40, 80, 20]
    assert (failed.state, failed.error) == ("failed", FAILURE)


async def test_the_harness_polls_and_cancels_one_step_at_a_time(
    plugin_harness: Callable[..., PluginHarness], render_api: FakeRenderApi
) -> None:
    harness = plugin_harness(JOB_PLUGIN, config={"api_key": API_KEY, "base_url": render_api.base_url})
    job = await harness.invoke("render", {"prompt": "forever"})

    first = await harness.poll("render", job)
    await harness.cancel("render", job)

    assert isinstance(job, JobHandle) and first.state == "running" and first.percent == 5
    assert render_api.jobs[job.job_id].cancelled


async def test_the_harness_checks_a_finished_jobs_output(
    plugin_harness: Callable[..., PluginHarness], render_api: FakeRenderApi
) -> None:
    harness = plugin_harness(JOB_PLUGIN, config={"api_key": API_KEY, "base_url": render_api.base_url})

    with pytest.raises(ToolError) as caught:
        await harness.run_job("render", {"prompt": "noseconds"})

    assert caught.value.code == "invalid_tool_output"
