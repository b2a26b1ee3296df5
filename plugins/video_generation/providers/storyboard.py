"""The offline provider, and the default: a storyboard of the prompt rendered on this server.

No account and no network: title and caption cards drawn with Pillow, encoded to H.264 by the
ffmpeg of ``imageio-ffmpeg`` (``storyboard/``). The output says plainly that it is a local
render, not generated footage, and so does the video's first card.
"""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from typing import Any, Final

import imageio_ffmpeg  # type: ignore[import-untyped]  # no type hints shipped, no stubs package

from builder.sdk import CredentialCheck, JobHandle, PluginContext
from builder.sdk.jobs import JobFile, JobStatus
from plugins.video_generation.models import VideoRequest
from plugins.video_generation.providers.http import GENERATION_FAILED, failure
from plugins.video_generation.storyboard import renders
from plugins.video_generation.storyboard.fonts import FONT_ENV, cjk_font_file

LABEL: Final = "Storyboard renderer"
MODEL: Final = "local-storyboard-renderer"
NOTE: Final = (
    "A storyboard rendered locally from the prompt (title and caption cards), not AI-generated footage. "
    "An administrator can choose a video provider in the plugin's settings."
)
# The share of the progress bar the frames take; the rest is handing the file to the host.
ENCODING_SHARE: Final = 95.0


def _request(handle: JobHandle) -> renders.RenderRequest:
    return renders.RenderRequest.from_state(dict(handle.state))


class StoryboardProvider:
    name = "storyboard"
    label = LABEL

    async def start(self, request: VideoRequest, ctx: PluginContext) -> JobHandle:
        job_id = f"sb-{uuid.uuid4().hex}"
        render = renders.RenderRequest(
            prompt=request.prompt,
            duration_s=float(request.duration_s),
            aspect_ratio=request.aspect_ratio,
            resolution=request.resolution,
        )
        await asyncio.to_thread(renders.start, job_id, render)
        await ctx.progress(0, "storyboard render started (local renderer)")
        return JobHandle(
            job_id=job_id,
            state={
                "provider": self.name,
                "prompt": render.prompt,
                "duration_s": render.duration_s,
                "aspect_ratio": render.aspect_ratio,
                "resolution": render.resolution,
                "image_ignored": bool(request.image_url),
            },
            poll_interval_s=0.5,
            deadline_s=900,
        )

    async def poll(self, handle: JobHandle, ctx: PluginContext) -> JobStatus:
        status = await asyncio.to_thread(renders.status, handle.job_id, _request(handle))
        if status.state == "queued":
            return JobStatus(state="running", percent=0, note="waiting for another storyboard to finish rendering")
        if status.state == "rendering":
            done, total = status.frames_done, max(status.frames_total, 1)
            return JobStatus(
                state="running",
                percent=round(ENCODING_SHARE * done / total, 1),
                note=f"rendering frame {done} of {total}",
            )
        if status.state != "succeeded":
            await asyncio.to_thread(renders.forget, handle.job_id)
            raise failure(LABEL, GENERATION_FAILED, status.error or f"the render was {status.state}.")
        video, thumbnail = await asyncio.to_thread(renders.result, handle.job_id)
        await asyncio.to_thread(renders.forget, handle.job_id)
        note = NOTE
        if status.missing_glyphs:
            note += (
                " This server has no font for some characters of the prompt; an administrator can install a CJK font."
            )
        if handle.state.get("image_ignored"):
            note += " The storyboard renderer does not use the reference image."
        return JobStatus(
            state="succeeded",
            percent=100,
            note="storyboard ready",
            output={"provider": self.name, "model": MODEL, "duration_s": round(status.duration_s, 2), "note": note},
            files={
                "video_url": JobFile(name=f"{handle.job_id}.mp4", content_type="video/mp4", data=video),
                "thumbnail_url": JobFile(name=f"{handle.job_id}.jpg", content_type="image/jpeg", data=thumbnail),
            },
        )

    async def cancel(self, handle: JobHandle, ctx: PluginContext) -> None:
        await asyncio.to_thread(renders.cancel, handle.job_id)

    async def check(self, config: Any, ctx: PluginContext) -> CredentialCheck:
        """No account to check: that ffmpeg runs, and which font CJK text will use."""
        try:
            version = await asyncio.to_thread(_ffmpeg_version)
        except (OSError, RuntimeError, subprocess.SubprocessError) as error:
            return CredentialCheck(ok=False, message=f"{LABEL}: ffmpeg does not run on this server: {error}")
        font = await asyncio.to_thread(cjk_font_file)
        fonts = f"CJK text uses {font}." if font else f"no CJK font found (install one, or set {FONT_ENV})."
        return CredentialCheck(ok=True, message=f"{LABEL}: needs no account; ffmpeg {version} works; {fonts}")


def _ffmpeg_version() -> str:
    done = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-version"],
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
    )
    first = done.stdout.split("\n", 1)[0].split()
    return first[2] if len(first) > 2 else "?"
