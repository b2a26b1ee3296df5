"""Sora's finished files through the host: downloaded with the key the tool hands over, which is
kept nowhere (not in the job's row, its result, the logs, nor a status queued for a worker).

The poll runs in this process (``jobs.job_poll``) on the mode's database, with the workspace's
settings, against a scripted Sora on 127.0.0.1 that the server's allow-list lets through.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from builder.accounts.models import Workspace
from builder.pluginhost import jobs
from builder.pluginhost.job_files import seal_file_headers, unseal_file_headers
from builder.pluginhost.manager import PluginHost
from builder.pluginhost.models import PluginJob
from builder.pluginhost.services import plugin_configure, plugin_enable
from builder.sdk.jobs import JobFile, JobStatus
from plugins import video_generation
from tests.factories import make_workspace, owner_of
from tests.pluginhost.jobs_support import async_orm_closed, files_of, stored_bytes  # noqa: F401  (a fixture)
from tests.plugins.video_generation.conftest import SECRETS, TOOL, provider_config
from tests.plugins.video_generation.test_sora import MP4, WEBP, video_object
from tests.support.plugin_hosts import host_with
from tests.support.scripted_api import Reply, ScriptedApi

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("host", "loopback_allowed", "async_orm_closed"),
]
KEY = SECRETS["openai_api_key"]
CONTENT = "/v1/videos/video_68d7/content"


@pytest.fixture
def host() -> Iterator[PluginHost]:
    with host_with(video_generation) as host:
        yield host


@pytest.fixture
def loopback_allowed(settings: Any) -> None:
    """The server's AGENTLOOM_HTTP_ALLOWLIST lets the SSRF-safe client reach the fake; the
    manifest allows its host through ``config:openai_base_url``."""
    settings.AGENTLOOM_HTTP_ALLOWLIST = ["127.0.0.1"]


@sync_to_async
def sora_workspace(api: ScriptedApi) -> Workspace:
    workspace = make_workspace()
    owner = owner_of(workspace)
    config = provider_config("openai", api.url)
    plugin_configure(actor=owner, workspace=workspace, plugin_id="video_generation", config=config)
    plugin_enable(actor=owner, workspace=workspace, plugin_id="video_generation")
    return workspace


async def poll_finished_video(workspace: Workspace, api: ScriptedApi) -> PluginJob:
    """A Sora job that is done at the provider, polled once by the host."""
    api.reply("GET", "/v1/videos/video_68d7", Reply(json=video_object("completed", 100)))
    now = timezone.now()
    job = await PluginJob.objects.acreate(
        workspace=workspace,
        run_id="run-sora",
        plugin_id="video_generation",
        tool=TOOL,
        job_id="video_68d7",
        handle_state={"provider": "openai", "model": "sora-2", "seconds": "8"},
        poll_interval_s=5,
        deadline_s=600,
        deadline_at=now + timedelta(minutes=10),
        next_poll_at=now,
    )
    await jobs.job_poll(str(job.pk), 0)
    await job.arefresh_from_db()
    return job


async def test_the_host_downloads_the_files_with_the_key_and_keeps_it_nowhere(
    api: ScriptedApi, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    api.reply("GET", f"{CONTENT}?variant=video", Reply(body=MP4, content_type="video/mp4"))
    api.reply("GET", f"{CONTENT}?variant=thumbnail", Reply(body=WEBP, content_type="image/webp"))
    workspace = await sora_workspace(api)

    job = await poll_finished_video(workspace, api)

    assert job.status == PluginJob.Status.SUCCEEDED, job.error
    downloads = [request for request in api.requests if request.path == CONTENT]
    assert [request.query["variant"] for request in downloads] == ["video", "thumbnail"]
    assert all(request.headers["authorization"] == f"Bearer {KEY}" for request in downloads)
    assert await stored_bytes(job.output["video_url"]) == MP4
    assert await stored_bytes(job.output["thumbnail_url"]) == WEBP
    assert job.output["provider"] == "openai" and job.output["duration_s"] == 8.0
    row = await PluginJob.objects.filter(pk=job.pk).values().aget()
    assert KEY not in json.dumps(row, default=str)
    assert "authorization" not in json.dumps(row, default=str).lower()
    assert KEY not in caplog.text


async def test_a_thumbnail_that_cannot_be_had_leaves_the_video_as_the_result(api: ScriptedApi) -> None:
    api.reply("GET", f"{CONTENT}?variant=video", Reply(body=MP4, content_type="video/mp4"))
    api.reply("GET", f"{CONTENT}?variant=thumbnail", Reply(404, {"error": {"message": "No thumbnail."}}))
    workspace = await sora_workspace(api)

    job = await poll_finished_video(workspace, api)

    assert job.status == PluginJob.Status.SUCCEEDED, job.error
    assert job.output["thumbnail_url"] is None
    assert await stored_bytes(job.output["video_url"]) == MP4
    assert [name.split("-")[0] for name in await files_of(job)] == ["video_url"]


async def test_a_video_the_provider_refuses_to_hand_over_fails_the_job(api: ScriptedApi) -> None:
    api.reply("GET", f"{CONTENT}?variant=video", Reply(401, {"error": {"message": "Missing key."}}))
    workspace = await sora_workspace(api)

    job = await poll_finished_video(workspace, api)

    assert (job.status, job.error_code) == (PluginJob.Status.FAILED, "job_file_unavailable")
    assert await files_of(job) == []


def test_a_status_queued_for_a_worker_carries_the_headers_encrypted_only() -> None:
    video = JobFile(
        name="v.mp4",
        content_type="video/mp4",
        url="https://api.openai.com/v1/videos/v/content",
        headers={"Authorization": f"Bearer {KEY}"},
    )
    thumbnail = JobFile(name="v.webp", content_type="image/webp", data=b"webp")
    status = JobStatus(state="succeeded", output={}, files={"video_url": video, "thumbnail_url": thumbnail})

    dumped, sealed = status.model_dump(mode="json"), seal_file_headers(status)
    arrived = unseal_file_headers(JobStatus.model_validate(dumped), sealed)

    assert KEY not in json.dumps(dumped) and KEY not in sealed
    assert arrived.files["video_url"].headers == {"Authorization": f"Bearer {KEY}"}
    assert arrived.files["thumbnail_url"] == thumbnail
    assert seal_file_headers(JobStatus(state="succeeded", output={}, files={"thumbnail_url": thumbnail})) == ""
