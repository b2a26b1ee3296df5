"""OpenAI's video API (Sora): ``POST /videos``, ``GET /videos/{id}``, ``GET /videos/{id}/content``.

The base URL is a setting (``https://api.openai.com/v1`` by default) so that an OpenAI-compatible
gateway works too; the key goes in ``Authorization: Bearer``. Sora makes clips of 4, 8 or 12
seconds, landscape or portrait only; its video object reports ``progress`` (0-100) while
``queued`` or ``in_progress``. The finished MP4 and its thumbnail need the key to download: they
are handed to the host as links with the ``Authorization`` header, which the host sends with its
download only (never stored). There is no cancel call: cancelling deletes the video
(``DELETE /videos/{id}``).
"""

from __future__ import annotations

from typing import Any, Final

from builder.engine.i18n import gettext_noop
from builder.sdk import CredentialCheck, JobHandle, PluginContext, ToolError
from builder.sdk.jobs import JobFile, JobStatus
from plugins.video_generation.models import VideoRequest
from plugins.video_generation.providers.http import (
    CONTENT_REJECTED,
    GENERATION_FAILED,
    QUOTA_EXCEEDED,
    UNAUTHORIZED,
    Reply,
    base_url,
    call,
    code_for_status,
    error_object,
    failure,
)

LABEL: Final = "OpenAI Sora"
SECONDS: Final = (4, 8, 12)
# What a moderation refusal looks like in an OpenAI error's code or type.
_MODERATION_WORDS: Final = ("moderation", "content_policy", "safety")


def seconds_for(duration_s: int) -> int:
    return min(SECONDS, key=lambda supported: (abs(supported - duration_s), supported))


def size_for(request: VideoRequest) -> str:
    if request.aspect_ratio == "1:1":
        raise ToolError.from_template(
            "unsupported_option",
            gettext_noop(
                "Sora makes landscape (16:9) or portrait (9:16) videos, not square ones: choose one of those."
            ),
        )
    # sora-2 renders 1280x720; the larger 1792x1024 is sora-2-pro's.
    landscape = (1792, 1024) if request.resolution == "1080p" else (1280, 720)
    width, height = landscape if request.aspect_ratio == "16:9" else landscape[::-1]
    return f"{width}x{height}"


def _error(reply: Reply) -> ToolError:
    error = error_object(reply)
    detail = str(error.get("message") or reply.text[:200] or f"HTTP {reply.status}")
    kind = f"{error.get('code') or ''} {error.get('type') or ''}".lower()
    if _moderation(error):
        return failure(LABEL, CONTENT_REJECTED, detail)
    if "insufficient_quota" in kind or "billing" in kind:
        return failure(LABEL, QUOTA_EXCEEDED, detail)
    if error.get("code") == "invalid_api_key":
        return failure(LABEL, UNAUTHORIZED, detail)
    return failure(LABEL, code_for_status(reply.status), detail)


class SoraProvider:
    name = "openai"
    label = LABEL

    def _headers(self, ctx: PluginContext) -> dict[str, str]:
        return {"Authorization": f"Bearer {ctx.credential('openai_api_key')}"}

    async def start(self, request: VideoRequest, ctx: PluginContext) -> JobHandle:
        model = str(ctx.config.get("openai_model") or "sora-2")
        body: dict[str, Any] = {
            "model": model,
            "prompt": request.prompt,
            "seconds": str(seconds_for(request.duration_s)),
            "size": size_for(request),
        }
        if request.image_url:
            body["input_reference"] = {"image_url": request.image_url}
        reply = await call(
            ctx, "POST", f"{base_url(ctx, 'openai_base_url')}/videos", headers=self._headers(ctx), json_body=body
        )
        if not reply.ok or not reply.field("id"):
            raise _error(reply)
        await ctx.progress(0, f"{LABEL} accepted the job")
        return JobHandle(
            job_id=str(reply.field("id")),
            state={"provider": self.name, "model": str(reply.field("model") or model), "seconds": body["seconds"]},
            poll_interval_s=10,
            deadline_s=3600,
        )

    async def poll(self, handle: JobHandle, ctx: PluginContext) -> JobStatus:
        url = f"{base_url(ctx, 'openai_base_url')}/videos/{handle.job_id}"
        reply = await call(ctx, "GET", url, headers=self._headers(ctx))
        if not reply.ok:
            raise _error(reply)
        status = str(reply.field("status") or "")
        if status == "failed":
            error = error_object(reply)
            code = CONTENT_REJECTED if _moderation(error) else GENERATION_FAILED
            raise failure(LABEL, code, str(error.get("message") or "the job failed."))
        if status != "completed":
            progress = reply.field("progress")
            percent = float(progress) if isinstance(progress, int | float) else None
            note = "waiting in Sora's queue" if status == "queued" else "Sora is generating the video"
            return JobStatus(state="running", percent=percent, note=note)
        files = {
            "video_url": self._asset(ctx, url, "video", name=f"{handle.job_id}.mp4", content_type="video/mp4"),
            # A video without its thumbnail (a gateway that has none) is still the result.
            "thumbnail_url": self._asset(
                ctx, url, "thumbnail", name=f"{handle.job_id}.webp", content_type="image/webp", optional=True
            ),
        }
        seconds = reply.field("seconds") or handle.state.get("seconds")
        return JobStatus(
            state="succeeded",
            percent=100,
            note="video ready",
            output={
                "provider": self.name,
                "model": str(reply.field("model") or handle.state.get("model") or ""),
                "duration_s": float(str(seconds or 0)),
            },
            files=files,
        )

    def _asset(
        self, ctx: PluginContext, video_url: str, variant: str, *, name: str, content_type: str, optional: bool = False
    ) -> JobFile:
        """One asset of the finished video, for the host to download with the key."""
        return JobFile(
            name=name,
            content_type=content_type,
            url=f"{video_url}/content?variant={variant}",
            headers={**self._headers(ctx), "Accept": "application/binary"},
            optional=optional,
        )

    async def cancel(self, handle: JobHandle, ctx: PluginContext) -> None:
        await call(
            ctx, "DELETE", f"{base_url(ctx, 'openai_base_url')}/videos/{handle.job_id}", headers=self._headers(ctx)
        )

    async def check(self, config: Any, ctx: PluginContext) -> CredentialCheck:
        reply = await call(
            ctx, "GET", f"{base_url(ctx, 'openai_base_url')}/videos", headers=self._headers(ctx), params={"limit": "1"}
        )
        if reply.ok:
            return CredentialCheck(ok=True, message=f"{LABEL}: the key works and can list videos.")
        return CredentialCheck(ok=False, message=_error(reply).message)


def _moderation(error: Any) -> bool:
    """Whether an OpenAI error object is a moderation refusal (its code or type says so)."""
    kind = f"{error.get('code') or ''} {error.get('type') or ''}".lower() if isinstance(error, dict) else ""
    return any(word in kind for word in _MODERATION_WORDS)
