"""Kling (Kuaishou): ``POST /v1/videos/text2video`` or ``/v1/videos/image2video``, then ``GET`` the
same path with the task id.

Every request carries ``Authorization: Bearer <JWT>``: a token signed HS256 with the secret key,
issued (``iss``) by the access key, valid from 5 seconds ago for 30 minutes. Replies are
``{"code": 0, "message", "request_id", "data": {...}}``; a non-zero ``code`` says what went wrong
(1000-1004 authentication, 1101-1102 balance, 1301 content policy, 1302-1303 rate and concurrency
limits). A task is ``submitted``, ``processing``, ``succeed`` (``task_result.videos[0].url``) or
``failed`` (``task_status_msg``); there is no percent, so progress is estimated from the time
spent. Kling has no call to cancel a task: cancelling stops following it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any, Final

from builder.sdk import CredentialCheck, JobHandle, PluginContext, ToolError
from builder.sdk.jobs import JobFile, JobStatus
from plugins.video_generation.models import VideoRequest
from plugins.video_generation.providers.http import (
    CONTENT_REJECTED,
    GENERATION_FAILED,
    INVALID_REQUEST,
    QUOTA_EXCEEDED,
    RATE_LIMITED,
    UNAUTHORIZED,
    UNAVAILABLE,
    Reply,
    base_url,
    call,
    code_for_status,
    estimated_percent,
    failure,
)

LABEL: Final = "Kling"
TOKEN_LIFETIME_S: Final = 1800
# A 5-second clip in standard mode usually takes two to three minutes.
EXPECTED_S: Final = 150.0
_CODES: Final = {
    **dict.fromkeys((1000, 1001, 1002, 1003, 1004, 1100, 1103, 1304), UNAUTHORIZED),
    **dict.fromkeys((1101, 1102), QUOTA_EXCEEDED),
    **dict.fromkeys((1200, 1201, 1202, 1203, 1300), INVALID_REQUEST),
    1301: CONTENT_REJECTED,
    **dict.fromkeys((1302, 1303), RATE_LIMITED),
    **dict.fromkeys((5000, 5001, 5002), UNAVAILABLE),
}
# How a failed task's message says it was refused by moderation.
_POLICY_WORDS: Final = ("risk", "security", "policy", "sensitive", "violat", "安全", "违规", "敏感")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def api_token(access_key: str, secret_key: str, *, now: float | None = None) -> str:
    """The JWT Kling expects (RFC 7519, HS256), signed with the secret key."""
    issued = int(time.time() if now is None else now)
    header = {"alg": "HS256", "typ": "JWT"}
    claims = {"iss": access_key, "exp": issued + TOKEN_LIFETIME_S, "nbf": issued - 5}
    signing_input = ".".join(_b64(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims))
    signature = hmac.new(secret_key.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def seconds_for(duration_s: int) -> int:
    return 5 if duration_s <= 7 else 10


def _error(reply: Reply) -> ToolError:
    code = reply.field("code")
    detail = str(reply.field("message") or reply.text[:200] or f"HTTP {reply.status}")
    kind = _CODES.get(code) if isinstance(code, int) else None
    return failure(LABEL, kind or code_for_status(reply.status), detail)


class KlingProvider:
    name = "kling"
    label = LABEL

    def _headers(self, ctx: PluginContext) -> dict[str, str]:
        token = api_token(ctx.credential("kling_access_key"), ctx.credential("kling_secret_key"))
        return {"Authorization": f"Bearer {token}"}

    def _url(self, ctx: PluginContext, kind: str) -> str:
        return f"{base_url(ctx, 'kling_base_url')}/v1/videos/{kind}"

    async def start(self, request: VideoRequest, ctx: PluginContext) -> JobHandle:
        model = str(ctx.config.get("kling_model") or "")
        body: dict[str, Any] = {
            "model_name": model,
            "prompt": request.prompt,
            "duration": str(seconds_for(request.duration_s)),
            # Kling's two qualities: std renders 720p, pro 1080p.
            "mode": "pro" if request.resolution == "1080p" else "std",
        }
        if request.image_url:
            kind = "image2video"
            body["image"] = request.image_url  # the image decides the aspect ratio
        else:
            kind = "text2video"
            body["aspect_ratio"] = request.aspect_ratio
        reply = await call(ctx, "POST", self._url(ctx, kind), headers=self._headers(ctx), json_body=body)
        task_id = reply.field("data", "task_id")
        if not reply.ok or reply.field("code") != 0 or not task_id:
            raise _error(reply)
        await ctx.progress(0, f"{LABEL} accepted the job")
        return JobHandle(
            job_id=str(task_id),
            state={
                "provider": self.name,
                "kind": kind,
                "model": model,
                "seconds": body["duration"],
                "started_at": time.time(),
            },
            poll_interval_s=10,
            deadline_s=3600,
        )

    async def poll(self, handle: JobHandle, ctx: PluginContext) -> JobStatus:
        kind = str(handle.state.get("kind") or "text2video")
        reply = await call(ctx, "GET", f"{self._url(ctx, kind)}/{handle.job_id}", headers=self._headers(ctx))
        if not reply.ok or reply.field("code") != 0:
            raise _error(reply)
        status = str(reply.field("data", "task_status") or "")
        if status in ("submitted", "processing"):
            started_at = float(str(handle.state.get("started_at") or time.time()))
            percent = 5.0 if status == "submitted" else estimated_percent(started_at, EXPECTED_S)
            note = "waiting in Kling's queue" if status == "submitted" else "Kling is generating the video (estimated)"
            return JobStatus(state="running", percent=percent, note=note)
        if status != "succeed":
            message = str(reply.field("data", "task_status_msg") or f"the task is {status or 'in an unknown state'}.")
            rejected = any(word in message.lower() for word in _POLICY_WORDS)
            raise failure(LABEL, CONTENT_REJECTED if rejected else GENERATION_FAILED, message)
        videos = reply.field("data", "task_result", "videos")
        video = videos[0] if isinstance(videos, list) and videos and isinstance(videos[0], dict) else {}
        if not video.get("url"):
            raise failure(LABEL, GENERATION_FAILED, "the task succeeded without a video URL.")
        return JobStatus(
            state="succeeded",
            percent=100,
            note="video ready",
            output={
                "provider": self.name,
                "model": str(handle.state.get("model") or ""),
                "duration_s": float(str(video.get("duration") or handle.state.get("seconds") or 0)),
            },
            files={"video_url": JobFile(name=f"{handle.job_id}.mp4", content_type="video/mp4", url=str(video["url"]))},
        )

    async def cancel(self, handle: JobHandle, ctx: PluginContext) -> None:
        """Kling cannot cancel a task; the host stops following it."""

    async def check(self, config: Any, ctx: PluginContext) -> CredentialCheck:
        reply = await call(
            ctx,
            "GET",
            self._url(ctx, "text2video"),
            headers=self._headers(ctx),
            params={"pageNum": "1", "pageSize": "1"},
        )
        if reply.ok and reply.field("code") == 0:
            return CredentialCheck(ok=True, message=f"{LABEL}: the access key and secret key work.")
        return CredentialCheck(ok=False, message=_error(reply).message)
