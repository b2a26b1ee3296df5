"""Kling against a scripted fake: JWT authentication, text/image to video, polling, errors."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from builder.sdk import ToolError
from builder.sdk.testing import PluginHarness
from tests.plugins.video_generation.conftest import SECRETS, TOOL, cancel, follow
from tests.support.scripted_api import Recorded, Reply, ScriptedApi

TEXT2VIDEO = "/v1/videos/text2video"
IMAGE2VIDEO = "/v1/videos/image2video"


def envelope(data: Any = None, *, code: int = 0, message: str = "SUCCEED") -> dict[str, Any]:
    return {"code": code, "message": message, "request_id": "req-3f2a", "data": data}


def task(status: str, **fields: Any) -> dict[str, Any]:
    return envelope({"task_id": "865172", "task_status": status, "created_at": 1722769557708, **fields})


def _unb64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def verified_claims(request: Recorded) -> dict[str, Any]:
    """The JWT of the request, checked as Kling checks it: HS256 signed with the secret key."""
    scheme, token = request.headers["authorization"].split(" ", 1)
    assert scheme == "Bearer"
    header, claims, signature = token.split(".")
    expected = hmac.new(SECRETS["kling_secret_key"].encode(), f"{header}.{claims}".encode(), hashlib.sha256).digest()
    assert hmac.compare_digest(_unb64(signature), expected)
    assert json.loads(_unb64(header)) == {"alg": "HS256", "typ": "JWT"}
    decoded: dict[str, Any] = json.loads(_unb64(claims))
    return decoded


async def test_a_text_to_video_task_is_signed_followed_and_its_video_link_handed_over(
    video: Callable[..., PluginHarness], api: ScriptedApi
) -> None:
    video_link = f"{api.url}/cdn/865172.mp4"
    api.reply("POST", TEXT2VIDEO, Reply(json=task("submitted")))
    api.reply(
        "GET",
        f"{TEXT2VIDEO}/865172",
        Reply(json=task("submitted")),
        Reply(json=task("processing")),
        Reply(json=task("succeed", task_result={"videos": [{"id": "v1", "url": video_link, "duration": "5.1"}]})),
    )
    harness = video("kling")

    handle = await harness.invoke(TOOL, {"prompt": "A red kite over the sea", "aspect_ratio": "9:16", "duration_s": 4})
    statuses = await follow(harness, handle)

    [create] = api.requests_to("POST", TEXT2VIDEO)
    assert create.json() == {
        "model_name": "kling-v1-6",
        "prompt": "A red kite over the sea",
        "duration": "5",
        "mode": "std",
        "aspect_ratio": "9:16",
    }
    claims = verified_claims(create)
    assert claims["iss"] == SECRETS["kling_access_key"]
    assert claims["nbf"] <= time.time() < claims["exp"] and claims["exp"] - claims["nbf"] == 1805
    assert all(verified_claims(request)["iss"] == SECRETS["kling_access_key"] for request in api.requests)
    running = [status for status in statuses if status.state == "running"]
    assert running[0].percent == 5 and all(0 < (status.percent or 0) < 100 for status in running)
    done = statuses[-1]
    assert done.state == "succeeded"
    assert done.output == {"provider": "kling", "model": "kling-v1-6", "duration_s": 5.1}
    assert done.files["video_url"].url == video_link


async def test_an_image_makes_an_image_to_video_task(video: Callable[..., PluginHarness], api: ScriptedApi) -> None:
    api.reply("POST", IMAGE2VIDEO, Reply(json=task("submitted")))
    api.reply(
        "GET",
        f"{IMAGE2VIDEO}/865172",
        Reply(
            json=task(
                "succeed", task_result={"videos": [{"id": "v1", "url": f"{api.url}/cdn/v.mp4", "duration": "10.0"}]}
            )
        ),
    )
    harness = video("kling", kling_model="kling-v2-1-master")

    handle = await harness.invoke(
        TOOL,
        {
            "prompt": "She turns and smiles",
            "image_url": "https://img.example/portrait.jpg",
            "duration_s": 10,
            "resolution": "1080p",
        },
    )
    statuses = await follow(harness, handle)

    [create] = api.requests_to("POST", IMAGE2VIDEO)
    assert create.json() == {
        "model_name": "kling-v2-1-master",
        "prompt": "She turns and smiles",
        "duration": "10",
        "mode": "pro",
        "image": "https://img.example/portrait.jpg",
    }
    assert statuses[-1].state == "succeeded"


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ("Failure to pass the risk control system", "content_rejected"),
        ("Internal generation error, please retry", "generation_failed"),
    ],
)
async def test_a_failed_task_reports_kling_s_message(
    video: Callable[..., PluginHarness], api: ScriptedApi, message: str, code: str
) -> None:
    api.reply("POST", TEXT2VIDEO, Reply(json=task("submitted")))
    api.reply(
        "GET",
        f"{TEXT2VIDEO}/865172",
        Reply(json=task("processing")),
        Reply(json=task("failed", task_status_msg=message)),
    )
    harness = video("kling")
    handle = await harness.invoke(TOOL, {"prompt": "A lighthouse"})

    with pytest.raises(ToolError) as caught:
        await follow(harness, handle)

    assert caught.value.code == code
    assert message in caught.value.message


@pytest.mark.parametrize(
    ("status", "kling_code", "message", "code"),
    [
        (400, 1301, "Trigger the content security policy", "content_rejected"),
        (401, 1002, "Authorization is invalid", "unauthorized"),
        (429, 1303, "parallel task over resource pack limit", "rate_limited"),
        (429, 1102, "Resource pack depleted or expired", "quota_exceeded"),
    ],
)
async def test_refusals_when_creating_map_to_error_codes(
    video: Callable[..., PluginHarness], api: ScriptedApi, status: int, kling_code: int, message: str, code: str
) -> None:
    api.reply("POST", TEXT2VIDEO, Reply(status, envelope(code=kling_code, message=message)))

    with pytest.raises(ToolError) as caught:
        await video("kling").invoke(TOOL, {"prompt": "A lighthouse"})

    assert caught.value.code == code
    assert message in caught.value.message


async def test_kling_cannot_cancel_so_cancelling_calls_nothing(
    video: Callable[..., PluginHarness], api: ScriptedApi
) -> None:
    api.reply("POST", TEXT2VIDEO, Reply(json=task("submitted")))
    harness = video("kling")
    handle = await harness.invoke(TOOL, {"prompt": "A lighthouse"})

    await cancel(harness, handle)

    assert [request.method for request in api.requests] == ["POST"]


async def test_the_credentials_check_lists_tasks(video: Callable[..., PluginHarness], api: ScriptedApi) -> None:
    api.reply("GET", TEXT2VIDEO, Reply(json=envelope([])))
    harness = video("kling")

    check = await harness.validate_config(harness.config)

    assert check is not None and check.ok
    [listing] = api.requests_to("GET", TEXT2VIDEO)
    assert listing.query == {"pageNum": "1", "pageSize": "1"}
    assert verified_claims(listing)["iss"] == SECRETS["kling_access_key"]
    api.reply("GET", TEXT2VIDEO, Reply(401, envelope(code=1000, message="Authentication failed")))
    refused = await harness.validate_config(harness.config)
    assert refused is not None and not refused.ok and "Authentication failed" in refused.message
