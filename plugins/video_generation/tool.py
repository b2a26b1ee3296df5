"""The ``generate_video`` tool: a long-running job with whichever provider the workspace chose.

``start`` submits the job and returns its handle; the host then calls ``poll`` until the job
succeeds or fails (storing the video file it returns), and ``cancel`` when the run is cancelled.
Each call goes to the provider named in the job's state, so a job started before the settings
changed is still followed by the service that runs it.
"""

from __future__ import annotations

from typing import Any, Final

from builder.sdk import JobHandle, PluginContext, ToolSpec
from builder.sdk.jobs import JobStatus
from plugins.video_generation import providers
from plugins.video_generation.models import VideoRequest, VideoResult

DESCRIPTION: Final = (
    "Make a short video (a few seconds) from a text prompt, optionally starting from an image. It runs in the "
    "background for seconds to minutes while progress is shown, then returns the video's URL. Describe the "
    "scene, the action, the camera and the style in the prompt. With the default storyboard provider the video "
    "is a locally rendered storyboard of title and caption cards, not generated footage."
)


async def start(data: VideoRequest, ctx: PluginContext) -> JobHandle:
    return await providers.configured(ctx).start(data, ctx)


async def poll(handle: JobHandle, ctx: PluginContext) -> JobStatus:
    return await providers.of_job(handle).poll(handle, ctx)


async def cancel(handle: JobHandle, ctx: PluginContext) -> None:
    await providers.of_job(handle).cancel(handle, ctx)


def generate_video() -> ToolSpec[Any, Any]:
    return ToolSpec(
        name="generate_video",
        title="Generate video",
        description=DESCRIPTION,
        input_model=VideoRequest,
        output_model=VideoResult,
        invoke=start,
        long_running=True,
        poll=poll,
        cancel=cancel,
        # Also the limit of each poll (the host downloads the finished files apart from it).
        timeout_s=60,
    )
