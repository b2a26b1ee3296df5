"""Volcengine Ark (Seedance / Doubao video): ``/api/v3/contents/generations/tasks``.

``POST`` creates a task from ``content``: the prompt as text, with the generation parameters as
text commands after it (``--ratio 16:9 --dur 5 --rs 720p``), and an optional ``image_url`` item for
image-to-video. ``GET …/tasks/{id}`` reports ``queued``, ``running``, ``succeeded`` (with
``content.video_url``, a signed link valid for a day), ``failed`` (with ``error``), ``cancelled`` or
``expired``; there is no percent, so progress is estimated from the time spent. ``DELETE
…/tasks/{id}`` cancels a queued task (a running one cannot be stopped). The key goes in
``Authorization: Bearer``.
"""

from __future__ import annotations

import time
from typing import Any, Final

from builder.sdk import CredentialCheck, JobHandle, PluginContext, ToolError
from builder.sdk.jobs import JobFile, JobStatus
from plugins.video_generation.models import VideoRequest
from plugins.video_generation.providers.http import (
    CONTENT_REJECTED,
    GENERATION_FAILED,
    QUOTA_EXCEEDED,
    RATE_LIMITED,
    UNAUTHORIZED,
    Reply,
    base_url,
    call,
    code_for_status,
    error_object,
    estimated_percent,
    failure,
)

LABEL: Final = "Volcengine Ark"
TASKS_PATH: Final = "/api/v3/contents/generations/tasks"
MIN_SECONDS: Final = 2
MAX_SECONDS: Final = 12
# A 5-second Seedance clip usually takes about a minute.
EXPECTED_S: Final = 60.0


def seconds_for(duration_s: int) -> int:
    return min(max(duration_s, MIN_SECONDS), MAX_SECONDS)


def prompt_text(request: VideoRequest) -> str:
    commands = f"--ratio {request.aspect_ratio} --dur {seconds_for(request.duration_s)} --rs {request.resolution}"
    return f"{request.prompt} {commands}"


def code_for(error_code: str, status: int) -> str:
    """Ark's error codes (``InputTextSensitiveContentDetected``, ``RateLimitExceeded.EndpointRPMExceeded``…)."""
    if "Sensitive" in error_code or "RiskDetection" in error_code:
        return CONTENT_REJECTED
    if error_code.startswith(("AuthenticationError", "AccessDenied", "InvalidAccountStatus")):
        return UNAUTHORIZED
    if error_code.startswith(("AccountOverdue", "QuotaExceeded", "SetLimitExceeded")):
        return QUOTA_EXCEEDED
    if error_code.startswith(("RateLimitExceeded", "ServerOverloaded")):
        return RATE_LIMITED
    return code_for_status(status)


def _error(reply: Reply) -> ToolError:
    error = error_object(reply)
    detail = str(error.get("message") or reply.text[:200] or f"HTTP {reply.status}")
    return failure(LABEL, code_for(str(error.get("code") or ""), reply.status), detail)


class ArkProvider:
    name = "ark"
    label = LABEL

    def _headers(self, ctx: PluginContext) -> dict[str, str]:
        return {"Authorization": f"Bearer {ctx.credential('ark_api_key')}"}

    def _tasks(self, ctx: PluginContext) -> str:
        return base_url(ctx, "ark_base_url") + TASKS_PATH

    async def start(self, request: VideoRequest, ctx: PluginContext) -> JobHandle:
        model = str(ctx.config.get("ark_model") or "")
        content: list[dict[str, Any]] = [{"type": "text", "text": prompt_text(request)}]
        if request.image_url:
            content.append({"type": "image_url", "image_url": {"url": request.image_url}})
        reply = await call(
            ctx, "POST", self._tasks(ctx), headers=self._headers(ctx), json_body={"model": model, "content": content}
        )
        if not reply.ok or not reply.field("id"):
            raise _error(reply)
        await ctx.progress(0, f"{LABEL} accepted the job")
        return JobHandle(
            job_id=str(reply.field("id")),
            state={
                "provider": self.name,
                "model": model,
                "seconds": seconds_for(request.duration_s),
                "started_at": time.time(),
            },
            poll_interval_s=5,
            deadline_s=3600,
        )

    async def poll(self, handle: JobHandle, ctx: PluginContext) -> JobStatus:
        reply = await call(ctx, "GET", f"{self._tasks(ctx)}/{handle.job_id}", headers=self._headers(ctx))
        if not reply.ok:
            raise _error(reply)
        status = str(reply.field("status") or "")
        if status in ("queued", "running"):
            started_at = float(str(handle.state.get("started_at") or time.time()))
            percent = 5.0 if status == "queued" else estimated_percent(started_at, EXPECTED_S)
            note = "waiting in Ark's queue" if status == "queued" else "Seedance is generating the video (estimated)"
            return JobStatus(state="running", percent=percent, note=note)
        if status != "succeeded":
            error = error_object(reply)
            if status in ("cancelled", "expired") and not error:
                error = {"message": f"the task was {status}."}
            code = code_for(str(error.get("code") or ""), 400)
            raise failure(
                LABEL, code if code == CONTENT_REJECTED else GENERATION_FAILED, str(error.get("message") or status)
            )
        video_url = reply.field("content", "video_url")
        if not video_url:
            raise failure(LABEL, GENERATION_FAILED, "the task succeeded without a video URL.")
        files = {"video_url": JobFile(name=f"{handle.job_id}.mp4", content_type="video/mp4", url=str(video_url))}
        last_frame = reply.field("content", "last_frame_url")
        if last_frame:
            files["thumbnail_url"] = JobFile(name=f"{handle.job_id}.png", content_type="image/png", url=str(last_frame))
        duration = reply.field("duration") or handle.state.get("seconds") or 0
        return JobStatus(
            state="succeeded",
            percent=100,
            note="video ready",
            output={
                "provider": self.name,
                "model": str(reply.field("model") or handle.state.get("model") or ""),
                "duration_s": float(str(duration)),
            },
            files=files,
        )

    async def cancel(self, handle: JobHandle, ctx: PluginContext) -> None:
        await call(ctx, "DELETE", f"{self._tasks(ctx)}/{handle.job_id}", headers=self._headers(ctx))

    async def check(self, config: Any, ctx: PluginContext) -> CredentialCheck:
        reply = await call(
            ctx, "GET", self._tasks(ctx), headers=self._headers(ctx), params={"page_num": "1", "page_size": "1"}
        )
        if reply.ok:
            return CredentialCheck(ok=True, message=f"{LABEL}: the key works and can list video tasks.")
        return CredentialCheck(ok=False, message=_error(reply).message)
