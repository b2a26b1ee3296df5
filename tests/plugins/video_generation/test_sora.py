"""OpenAI's video API (Sora) against a scripted fake: create, poll with progress, the files, errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from builder.sdk import JobHandle, ToolError
from builder.sdk.testing import PluginHarness
from tests.plugins.video_generation.conftest import SECRETS, TOOL, cancel, follow
from tests.support.scripted_api import Reply, ScriptedApi

MP4 = b"\x00\x00\x00\x18ftypmp42fake-sora-video"
WEBP = b"RIFF\x10\x00\x00\x00WEBPVP8 fake-thumbnail"


def video_object(status: str, progress: int, **fields: Any) -> dict[str, Any]:
    return {
        "id": "video_68d7",
        "object": "video",
        "model": "sora-2",
        "status": status,
        "progress": progress,
        "created_at": 1759938772,
        "seconds": "8",
        "size": "1280x720",
        **fields,
    }


def script_success(api: ScriptedApi) -> None:
    api.reply("POST", "/v1/videos", Reply(json=video_object("queued", 0)))
    api.reply(
        "GET",
        "/v1/videos/video_68d7",
        Reply(json=video_object("queued", 0)),
        Reply(json=video_object("in_progress", 35)),
        Reply(json=video_object("in_progress", 80)),
        Reply(json=video_object("completed", 100, completed_at=1759938900)),
    )
    api.reply("GET", "/v1/videos/video_68d7/content?variant=video", Reply(body=MP4, content_type="video/mp4"))
    api.reply("GET", "/v1/videos/video_68d7/content?variant=thumbnail", Reply(body=WEBP, content_type="image/webp"))


async def test_a_video_is_created_polled_with_progress_and_its_files_handed_over_with_the_key(
    video: Callable[..., PluginHarness], api: ScriptedApi
) -> None:
    script_success(api)
    harness = video("openai")

    handle = await harness.invoke(TOOL, {"prompt": "A paper boat on a rainy street", "duration_s": 7})
    statuses = await follow(harness, handle)

    assert isinstance(handle, JobHandle) and handle.job_id == "video_68d7"
    [create] = api.requests_to("POST", "/v1/videos")
    assert create.headers["authorization"] == f"Bearer {SECRETS['openai_api_key']}"
    assert create.json() == {
        "model": "sora-2",
        "prompt": "A paper boat on a rainy street",
        "seconds": "8",
        "size": "1280x720",
    }
    assert [status.percent for status in statuses if status.state == "running"] == [0, 35, 80]
    done = statuses[-1]
    assert done.state == "succeeded"
    assert done.output == {"provider": "openai", "model": "sora-2", "duration_s": 8.0}
    # The files need the key: the host downloads them with it (test_sora_through_the_host.py).
    video_file, thumbnail = done.files["video_url"], done.files["thumbnail_url"]
    content = f"{api.url}/v1/videos/video_68d7/content"
    assert (video_file.url, video_file.optional) == (f"{content}?variant=video", False)
    assert (thumbnail.url, thumbnail.optional) == (f"{content}?variant=thumbnail", True)
    assert (video_file.content_type, thumbnail.content_type) == ("video/mp4", "image/webp")
    key = f"Bearer {SECRETS['openai_api_key']}"
    assert video_file.headers["Authorization"] == thumbnail.headers["Authorization"] == key
    assert not [request for request in api.requests if request.path.endswith("/content")]


async def test_an_image_a_portrait_and_the_model_setting_shape_the_request(
    video: Callable[..., PluginHarness], api: ScriptedApi
) -> None:
    script_success(api)
    harness = video("openai", openai_model="sora-2-pro")

    await harness.invoke(
        TOOL,
        {
            "prompt": "The cat wakes up",
            "image_url": "https://img.example/cat.png",
            "aspect_ratio": "9:16",
            "duration_s": 12,
        },
    )

    [create] = api.requests_to("POST", "/v1/videos")
    assert create.json() == {
        "model": "sora-2-pro",
        "prompt": "The cat wakes up",
        "seconds": "12",
        "size": "720x1280",
        "input_reference": {"image_url": "https://img.example/cat.png"},
    }


async def test_a_failed_job_reports_sora_s_message(video: Callable[..., PluginHarness], api: ScriptedApi) -> None:
    api.reply("POST", "/v1/videos", Reply(json=video_object("queued", 0)))
    api.reply(
        "GET",
        "/v1/videos/video_68d7",
        Reply(json=video_object("in_progress", 10)),
        Reply(
            json=video_object("failed", 10, error={"code": "video_generation_failed", "message": "The render crashed."})
        ),
    )
    harness = video("openai")
    handle = await harness.invoke(TOOL, {"prompt": "A lighthouse"})

    with pytest.raises(ToolError) as caught:
        await follow(harness, handle)

    assert caught.value.code == "generation_failed"
    assert "The render crashed." in caught.value.message


@pytest.mark.parametrize(
    ("status", "error", "code"),
    [
        (
            400,
            {
                "message": "Your request was blocked by our moderation system.",
                "type": "invalid_request_error",
                "code": "moderation_blocked",
            },
            "content_rejected",
        ),
        (
            401,
            {
                "message": "Incorrect API key provided: sk-test-o***6789.",
                "type": "invalid_request_error",
                "code": "invalid_api_key",
            },
            "unauthorized",
        ),
        (
            429,
            {"message": "Rate limit reached for sora-2.", "type": "requests", "code": "rate_limit_exceeded"},
            "rate_limited",
        ),
        (
            429,
            {"message": "You exceeded your current quota.", "type": "insufficient_quota", "code": "insufficient_quota"},
            "quota_exceeded",
        ),
    ],
)
async def test_refusals_when_creating_map_to_error_codes(
    video: Callable[..., PluginHarness], api: ScriptedApi, status: int, error: dict[str, str], code: str
) -> None:
    api.reply("POST", "/v1/videos", Reply(status, {"error": error}))

    with pytest.raises(ToolError) as caught:
        await video("openai").invoke(TOOL, {"prompt": "A lighthouse"})

    assert caught.value.code == code
    assert error["message"] in caught.value.message
    assert caught.value.retryable == (code == "rate_limited")


async def test_moderation_of_the_finished_video_is_a_content_rejection(
    video: Callable[..., PluginHarness], api: ScriptedApi
) -> None:
    api.reply("POST", "/v1/videos", Reply(json=video_object("queued", 0)))
    api.reply(
        "GET",
        "/v1/videos/video_68d7",
        Reply(
            json=video_object("failed", 90, error={"code": "moderation_blocked", "message": "The video was flagged."})
        ),
    )
    harness = video("openai")
    handle = await harness.invoke(TOOL, {"prompt": "A lighthouse"})

    with pytest.raises(ToolError) as caught:
        await follow(harness, handle)

    assert caught.value.code == "content_rejected"


async def test_square_videos_are_refused_before_calling_sora(
    video: Callable[..., PluginHarness], api: ScriptedApi
) -> None:
    with pytest.raises(ToolError) as caught:
        await video("openai").invoke(TOOL, {"prompt": "A lighthouse", "aspect_ratio": "1:1"})

    assert caught.value.code == "unsupported_option"
    assert api.requests == []


async def test_cancelling_deletes_the_video(video: Callable[..., PluginHarness], api: ScriptedApi) -> None:
    api.reply("POST", "/v1/videos", Reply(json=video_object("queued", 0)))
    api.reply(
        "DELETE", "/v1/videos/video_68d7", Reply(json={"id": "video_68d7", "object": "video.deleted", "deleted": True})
    )
    harness = video("openai")
    handle = await harness.invoke(TOOL, {"prompt": "A lighthouse"})

    await cancel(harness, handle)

    [delete] = api.requests_to("DELETE", "/v1/videos/video_68d7")
    assert delete.headers["authorization"] == f"Bearer {SECRETS['openai_api_key']}"


async def test_the_credentials_check_lists_videos(video: Callable[..., PluginHarness], api: ScriptedApi) -> None:
    api.reply("GET", "/v1/videos", Reply(json={"object": "list", "data": [], "has_more": False}))
    harness = video("openai")

    check = await harness.validate_config(harness.config)

    assert check is not None and check.ok
    [listing] = api.requests_to("GET", "/v1/videos")
    assert listing.query == {"limit": "1"}
    api.reply(
        "GET",
        "/v1/videos",
        Reply(401, {"error": {"message": "Incorrect API key provided.", "code": "invalid_api_key"}}),
    )
    refused = await harness.validate_config(harness.config)
    assert refused is not None and not refused.ok and "Incorrect API key provided." in refused.message
