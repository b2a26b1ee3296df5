"""The host's test plugin for long-running tools: ``render`` starts a job at a render API
(``tests/pluginhost/fake_render_api.py`` in the tests), polls it, cancels it, and accepts the
API's "job finished" callback at ``/api/v1/plugins/jobs_test/webhooks/finished``.

Written as a video plugin would be, against exactly the SDK's job contract.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from pydantic import BaseModel, Field

from builder.sdk import (
    JobCallback,
    JobFile,
    JobHandle,
    JobStatus,
    PluginContext,
    ToolError,
    ToolSpec,
    WebhookRequest,
    WebhookResponse,
    WebhookRoute,
    hookimpl,
)

CALLBACK_TOKEN = "callback-token-123456"


class RenderInput(BaseModel):
    prompt: str = Field(min_length=1, description="What the video shows.")


class RenderOutput(BaseModel):
    video_url: str = Field(description="The rendered video.")
    seconds: float = Field(description="How long it is.")


def _api(ctx: PluginContext) -> tuple[str, dict[str, str]]:
    return str(ctx.config["base_url"]).rstrip("/"), {"Authorization": f"Bearer {ctx.credential('api_key')}"}


def job_status(body: dict[str, Any]) -> JobStatus:
    """The API's view of a job (a poll's answer, or a callback's body) as a ``JobStatus``."""
    if body["status"] == "running":
        return JobStatus(state="running", percent=body.get("progress"), note=body.get("message", ""))
    if body["status"] == "failed":
        return JobStatus(state="failed", error=body.get("error", ""))
    if "video_base64" in body:
        video = JobFile(name="clip.mp4", content_type="video/mp4", data=base64.b64decode(body["video_base64"]))
    else:
        video = JobFile(name="clip.mp4", content_type="video/mp4", url=body["video_url"])
    output = {"seconds": body["seconds"]} if "seconds" in body else {}
    return JobStatus(state="succeeded", output=output, files={"video_url": video}, note="rendered")


async def render(data: RenderInput, ctx: PluginContext) -> JobHandle:
    base, headers = _api(ctx)
    response = await ctx.http.request("POST", f"{base}/jobs", json={"prompt": data.prompt}, headers=headers)
    if response.status_code != 201:
        raise ToolError(f"The render API refused the job ({response.status_code}).", code="render_refused")
    body = json.loads(response.body)
    return JobHandle(
        job_id=body["id"],
        state={"poll_url": body["poll_url"]},
        poll_interval_s=float(ctx.config["poll_interval_s"]),
        deadline_s=float(ctx.config["deadline_s"]),
    )


async def poll(job: JobHandle, ctx: PluginContext) -> JobStatus:
    _base, headers = _api(ctx)
    response = await ctx.http.request("GET", str(job.state["poll_url"]), headers=headers)
    if response.status_code >= 500:
        raise ToolError("The render API is unavailable.", code="render_unavailable", retryable=True)
    return job_status(json.loads(response.body))


async def cancel(job: JobHandle, ctx: PluginContext) -> None:
    base, headers = _api(ctx)
    await ctx.http.request("POST", f"{base}/jobs/{job.job_id}/cancel", headers=headers)


async def finished(request: WebhookRequest) -> WebhookResponse:
    if request.headers.get("x-callback-token") != CALLBACK_TOKEN:
        return WebhookResponse(status=403, json={"error": "unknown caller"})
    body = json.loads(request.body)
    return WebhookResponse(json={"ok": True}, job_updates=[JobCallback(job_id=body["id"], status=job_status(body))])


@hookimpl
def register_tools() -> list[ToolSpec[Any, Any]]:
    return [
        ToolSpec(
            name="render",
            description="Render a short video from a prompt (takes a while).",
            input_model=RenderInput,
            output_model=RenderOutput,
            invoke=render,
            long_running=True,
            poll=poll,
            cancel=cancel,
            timeout_s=10,
        )
    ]


@hookimpl
def register_routes() -> list[WebhookRoute]:
    return [WebhookRoute("finished", finished)]
