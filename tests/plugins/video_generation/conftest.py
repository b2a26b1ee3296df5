"""The SDK's harness, a scripted fake API on 127.0.0.1, and following a job as the host does."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from builder.sdk import JobHandle, JobStatus
from builder.sdk.execution import run_cancel, run_poll
from builder.sdk.testing import PluginHarness, plugin_config, plugin_harness  # noqa: F401  (fixtures)
from tests.support.scripted_api import ScriptedApi

PLUGIN = "plugins.video_generation"
TOOL = "generate_video"
SECRETS = {
    "openai_api_key": "sk-test-openai-0123456789",
    "ark_api_key": "ark-test-0123456789",
    "kling_access_key": "AK-test-kling-0123",
    "kling_secret_key": "SK-test-kling-secret-0123456789",
}
BASE_URLS = {"openai": "openai_base_url", "ark": "ark_base_url", "kling": "kling_base_url"}
API_PREFIX = {"openai": "/v1", "ark": "", "kling": ""}


def provider_config(provider: str, api_url: str, **settings: Any) -> dict[str, Any]:
    """The plugin's settings for ``provider`` with its API at ``api_url`` (the fake)."""
    config: dict[str, Any] = {"provider": provider}
    if provider in BASE_URLS:
        config[BASE_URLS[provider]] = api_url + API_PREFIX[provider]
        config.update({name: value for name, value in SECRETS.items() if name.startswith(f"{provider}_")})
    return {**config, **settings}


@pytest.fixture
def api() -> Iterator[ScriptedApi]:
    fake = ScriptedApi()
    yield fake
    fake.close()


@pytest.fixture(autouse=True)
def storyboard_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test's storyboard renders in its own folder."""
    folder = tmp_path / "storyboards"
    monkeypatch.setenv("AGENTLOOM_STORYBOARD_DIR", str(folder))
    return folder


@pytest.fixture
def video(
    plugin_harness: Callable[..., PluginHarness],  # noqa: F811  (the fixture imported above)
    api: ScriptedApi,
) -> Callable[..., PluginHarness]:
    """``video("ark", ark_model="...")``: the plugin as the server loads it, talking to the fake."""

    def make(provider: str, **settings: Any) -> PluginHarness:
        return plugin_harness(PLUGIN, config=provider_config(provider, api.url, **settings))

    return make


async def follow(harness: PluginHarness, handle: JobHandle, *, timeout_s: float = 60.0) -> list[JobStatus]:
    """Poll the job through the host's call path (``run_poll``) until it ends: every status."""
    spec, ctx = harness.tool(TOOL), harness.context(TOOL)
    statuses: list[JobStatus] = []
    async with asyncio.timeout(timeout_s):
        while not statuses or statuses[-1].state == "running":
            if statuses:
                await asyncio.sleep(min(handle.poll_interval_s, 0.05))
            statuses.append(await run_poll(spec, handle, ctx))
    return statuses


async def cancel(harness: PluginHarness, handle: JobHandle) -> None:
    await run_cancel(harness.tool(TOOL), handle, harness.context(TOOL))
