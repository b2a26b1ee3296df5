"""Volcengine Ark (Seedance) against a scripted fake: task creation, polling, the result link, errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from builder.sdk import ToolError
from builder.sdk.testing import PluginHarness
from tests.plugins.video_generation.conftest import SECRETS, TOOL, cancel, follow
from tests.support.scripted_api import Reply, ScriptedApi

TASKS = "/api/v3/contents/generations/tasks"
TASK = f"{TASKS}/cgt-20250829-abc"


def task(status: str, **fields: Any) -> dict[str, Any]:
    return {"id": "cgt-20250829-abc", "model": "doubao-seedance-1-0-pro-250528", "status": status, **fields}


async def test_a_task_is_created_followed_and_its_video_link_handed_to_the_host(
    video: Callable[..., PluginHarness], api: ScriptedApi
) -> None:
    video_link = f"{api.url}/tos/cgt-20250829-abc.mp4?X-Tos-Signature=abc"
    api.reply("POST", TASKS, Reply(json={"id": "cgt-20250829-abc"}))
    api.reply(
        "GET",
        TASK,
        Reply(json=task("queued")),
        Reply(json=task("running")),
        Reply(json=task("succeeded", content={"video_url": video_link}, duration=5, ratio="16:9", resolution="720p")),
    )
    harness = video("ark")

    handle = await harness.invoke(
        TOOL, {"prompt": "一只小猫在阳光下打哈欠", "image_url": "https://img.example/cat.png", "duration_s": 5}
    )
    statuses = await follow(harness, handle)

    [create] = api.requests_to("POST", TASKS)
    assert create.headers["authorization"] == f"Bearer {SECRETS['ark_api_key']}"
    assert create.json() == {
        "model": "doubao-seedance-1-0-pro-250528",
        "content": [
            {"type": "text", "text": "一只小猫在阳光下打哈欠 --ratio 16:9 --dur 5 --rs 720p"},
            {"type": "image_url", "image_url": {"url": "https://img.example/cat.png"}},
        ],
    }
    running = [status for status in statuses if status.state == "running"]
    assert next(status.percent for status in running) == 5
    assert all(0 < (status.percent or 0) < 100 for status in running)
    assert "estimated" in running[-1].note
    done = statuses[-1]
    assert done.state == "succeeded"
    assert done.output == {"provider": "ark", "model": "doubao-seedance-1-0-pro-250528", "duration_s": 5.0}
    assert done.files["video_url"].url == video_link
    assert all(request.headers["authorization"] == f"Bearer {SECRETS['ark_api_key']}" for request in api.requests)


async def test_the_model_and_the_shape_come_from_settings_and_input(
    video: Callable[..., PluginHarness], api: ScriptedApi
) -> None:
    api.reply("POST", TASKS, Reply(json={"id": "cgt-20250829-abc"}))

    await video("ark", ark_model="ep-20250901-xyz").invoke(
        TOOL, {"prompt": "A city at night", "aspect_ratio": "9:16", "resolution": "1080p", "duration_s": 30}
    )

    [create] = api.requests_to("POST", TASKS)
    assert create.json() == {
        "model": "ep-20250901-xyz",
        "content": [{"type": "text", "text": "A city at night --ratio 9:16 --dur 12 --rs 1080p"}],
    }


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (
            {
                "code": "OutputVideoSensitiveContentDetected",
                "message": "The output video may contain sensitive information.",
            },
            "content_rejected",
        ),
        (
            {"code": "InternalServiceError", "message": "The service encountered an unexpected internal error."},
            "generation_failed",
        ),
    ],
)
async def test_a_failed_task_reports_ark_s_message(
    video: Callable[..., PluginHarness], api: ScriptedApi, error: dict[str, str], code: str
) -> None:
    api.reply("POST", TASKS, Reply(json={"id": "cgt-20250829-abc"}))
    api.reply("GET", TASK, Reply(json=task("running")), Reply(json=task("failed", error=error)))
    harness = video("ark")
    handle = await harness.invoke(TOOL, {"prompt": "A lighthouse"})

    with pytest.raises(ToolError) as caught:
        await follow(harness, handle)

    assert caught.value.code == code
    assert error["message"] in caught.value.message


@pytest.mark.parametrize(
    ("status", "error", "code"),
    [
        (
            400,
            {
                "code": "InputTextSensitiveContentDetected",
                "message": "The input text may contain sensitive information.",
                "type": "BadRequest",
            },
            "content_rejected",
        ),
        (
            401,
            {
                "code": "AuthenticationError",
                "message": "The API key or AK/SK in the request is missing or invalid.",
                "type": "Unauthorized",
            },
            "unauthorized",
        ),
        (
            429,
            {
                "code": "RateLimitExceeded.EndpointRPMExceeded",
                "message": "Too many requests.",
                "type": "TooManyRequests",
            },
            "rate_limited",
        ),
        (
            403,
            {"code": "AccountOverdueError", "message": "Your account has an overdue balance.", "type": "Forbidden"},
            "quota_exceeded",
        ),
    ],
)
async def test_refusals_when_creating_map_to_error_codes(
    video: Callable[..., PluginHarness], api: ScriptedApi, status: int, error: dict[str, str], code: str
) -> None:
    api.reply("POST", TASKS, Reply(status, {"error": error}))

    with pytest.raises(ToolError) as caught:
        await video("ark").invoke(TOOL, {"prompt": "A lighthouse"})

    assert caught.value.code == code
    assert error["message"] in caught.value.message


async def test_cancelling_deletes_the_task(video: Callable[..., PluginHarness], api: ScriptedApi) -> None:
    api.reply("POST", TASKS, Reply(json={"id": "cgt-20250829-abc"}))
    api.reply("DELETE", TASK, Reply(json={}))
    harness = video("ark")
    handle = await harness.invoke(TOOL, {"prompt": "A lighthouse"})

    await cancel(harness, handle)

    [delete] = api.requests_to("DELETE", TASK)
    assert delete.headers["authorization"] == f"Bearer {SECRETS['ark_api_key']}"


async def test_the_credentials_check_lists_tasks(video: Callable[..., PluginHarness], api: ScriptedApi) -> None:
    api.reply("GET", TASKS, Reply(json={"items": [], "total": 0}))
    harness = video("ark")

    check = await harness.validate_config(harness.config)

    assert check is not None and check.ok
    assert api.requests_to("GET", TASKS)[0].query == {"page_num": "1", "page_size": "1"}
    api.reply(
        "GET", TASKS, Reply(401, {"error": {"code": "AuthenticationError", "message": "The API key is invalid."}})
    )
    refused = await harness.validate_config(harness.config)
    assert refused is not None and not refused.ok and "The API key is invalid." in refused.message
