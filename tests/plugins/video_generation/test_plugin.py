"""The plugin as the host sees it: the contract every plugin meets, its settings, its failures."""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import entry_points

import pytest

from builder.core.exceptions import ValidationFailed
from builder.pluginhost.configuration import validate_config
from builder.sdk import JobHandle, ToolError
from builder.sdk.testing import PluginHarness, assert_plugin_contract
from tests.plugins.video_generation.conftest import PLUGIN, TOOL, follow
from tests.support.scripted_api import ScriptedApi


def test_the_host_accepts_the_plugin() -> None:
    plugin = assert_plugin_contract(PLUGIN)

    spec = plugin.tools[TOOL]
    assert spec.long_running and spec.poll is not None and spec.cancel is not None
    assert plugin.manifest.permissions.long_running
    assert set(plugin.manifest.secret_fields) == {
        "openai_api_key",
        "ark_api_key",
        "kling_access_key",
        "kling_secret_key",
    }


def test_it_is_installed_through_its_entry_point() -> None:
    [entry_point] = [ep for ep in entry_points(group="agentloom.plugins") if ep.name == "video_generation"]
    assert entry_point.value == PLUGIN


@pytest.mark.parametrize(
    ("settings", "missing"),
    [
        ({}, set()),
        ({"provider": "storyboard"}, set()),
        ({"provider": "openai"}, {"openai_api_key"}),
        ({"provider": "ark"}, {"ark_api_key"}),
        ({"provider": "kling", "kling_access_key": "AK"}, {"kling_secret_key"}),
    ],
)
def test_the_settings_need_the_chosen_provider_s_keys(settings: dict[str, str], missing: set[str]) -> None:
    manifest = assert_plugin_contract(PLUGIN).manifest
    if not missing:
        validate_config(manifest, settings)
        return
    with pytest.raises(ValidationFailed) as caught:
        validate_config(manifest, settings)
    assert set(caught.value.fields) == missing


async def test_a_provider_without_its_key_says_so_before_calling_anyone(
    plugin_harness: Callable[..., PluginHarness], api: ScriptedApi
) -> None:
    harness = plugin_harness(PLUGIN, config={"provider": "ark", "ark_base_url": api.url})

    with pytest.raises(ToolError) as caught:
        await harness.invoke(TOOL, {"prompt": "A lighthouse"})

    assert caught.value.code == "missing_credentials" and "ark_api_key" in caught.value.message
    assert api.requests == []
    check = await harness.validate_config(harness.config)
    assert check is not None and not check.ok and "ark_api_key" in check.message


async def test_a_job_is_followed_by_the_provider_that_started_it(
    video: Callable[..., PluginHarness], api: ScriptedApi
) -> None:
    harness = video("openai")  # the workspace switched to Sora after a storyboard job started
    handle = JobHandle(
        job_id="sb-started-before",
        state={
            "provider": "storyboard",
            "prompt": "Hi.",
            "duration_s": 2.0,
            "aspect_ratio": "16:9",
            "resolution": "480p",
        },
    )

    done = (await follow(harness, handle))[-1]

    assert done.state == "succeeded" and done.output is not None and done.output["provider"] == "storyboard"
    assert api.requests == []


@pytest.mark.parametrize(
    "inputs",
    [{"prompt": ""}, {"prompt": "x", "aspect_ratio": "4:3"}, {"prompt": "x", "image_url": "file:///etc/passwd"}],
)
async def test_invalid_input_is_refused_with_the_field(
    plugin_harness: Callable[..., PluginHarness], inputs: dict[str, str]
) -> None:
    with pytest.raises(ToolError) as caught:
        await plugin_harness(PLUGIN, config={}).invoke(TOOL, inputs)

    assert caught.value.code == "invalid_tool_input"
