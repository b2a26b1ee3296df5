"""validate_config, the settings form's Test button: one real search with the chosen provider, and a
message an admin can act on when it fails."""

from __future__ import annotations

import socket
from collections.abc import Callable

import pytest

import plugins.web_search
from builder.sdk import CredentialCheck
from builder.sdk.testing import PluginHarness
from tests.plugins.web_search.conftest import KEYS, PLUGIN, provider_config
from tests.plugins.web_search.test_providers import BOCHA_ANSWER, BRAVE_ANSWER, ROUTES, SEARXNG_ANSWER, TAVILY_ANSWER
from tests.support.scripted_api import Reply, ScriptedApi

Harness = Callable[..., PluginHarness]

ANSWERS = {"searxng": SEARXNG_ANSWER, "tavily": TAVILY_ANSWER, "brave": BRAVE_ANSWER, "bocha": BOCHA_ANSWER}
LABELS = {"searxng": "SearXNG", "tavily": "Tavily", "brave": "Brave Search", "bocha": "Bocha"}


@pytest.mark.parametrize("provider", ["searxng", "tavily", "brave", "bocha"])
async def test_working_settings_pass_with_a_real_search(web_search: Harness, api: ScriptedApi, provider: str) -> None:
    api.reply(*ROUTES[provider], Reply(json=ANSWERS[provider]))

    check = await web_search(provider).validate_config()

    assert check == CredentialCheck(ok=True, message=f"{LABELS[provider]} answered a test search: the settings work.")
    [request] = api.requests
    assert "weather" in (request.query.get("q", "") + request.body.decode())


@pytest.mark.parametrize(
    ("provider", "reply", "message"),
    [
        (
            "brave",
            Reply(422, {"type": "ErrorResponse", "error": {"code": "SUBSCRIPTION_TOKEN_INVALID", "detail": "Bad."}}),
            "Brave Search refused the API key (HTTP 422: Bad.). Check the key in the web search plugin's settings.",
        ),
        (
            "tavily",
            Reply(401, {"detail": {"error": "Unauthorized"}}),
            "Tavily refused the API key (HTTP 401: Unauthorized). Check the key in the web search plugin's settings.",
        ),
        (
            "bocha",
            Reply(403, {"code": "403", "message": "You do not have enough money"}),
            "The Bocha account has used up its quota or credit (HTTP 403: You do not have enough money).",
        ),
        (
            "tavily",
            Reply(429, {"detail": {"error": "Slow down"}}),
            "Tavily is limiting the rate of searches (HTTP 429: Slow down). Try again in a moment.",
        ),
        (
            "searxng",
            Reply(403, body="Forbidden", content_type="text/plain"),
            "The SearXNG instance refuses JSON results (HTTP 403): add json to search.formats in its settings.yml.",
        ),
    ],
)
async def test_failing_settings_say_what_is_wrong(
    web_search: Harness, api: ScriptedApi, provider: str, reply: Reply, message: str
) -> None:
    api.reply(*ROUTES[provider], reply)

    check = await web_search(provider).validate_config()

    assert check == CredentialCheck(ok=False, message=message)


async def test_an_unreachable_instance_is_named(plugin_harness: Harness) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    check = await plugin_harness(
        PLUGIN, config=provider_config("searxng", f"http://127.0.0.1:{port}")
    ).validate_config()

    assert check is not None and not check.ok
    assert check.message.startswith(f"Could not reach SearXNG at http://127.0.0.1:{port}/search: ")


async def test_a_private_instance_needs_the_servers_allow_list(plugin_harness: Harness) -> None:
    harness = plugin_harness(PLUGIN, config=provider_config("searxng", "http://10.255.255.1:8080"), allow_hosts=())

    check = await harness.validate_config()

    assert check == CredentialCheck(
        ok=False,
        message="SearXNG at http://10.255.255.1:8080/search is on a private or local network, which this server "
        "only reaches when its operator lists the host in AGENTLOOM_HTTP_ALLOWLIST.",
    )


async def test_a_missing_key_is_named(plugin_harness: Harness) -> None:
    check = await plugin_harness(PLUGIN, config={"provider": "bocha"}).validate_config()

    assert check is not None and not check.ok
    assert check.message.startswith("The web_search plugin needs bocha_api_key")


async def test_the_check_answers_only_for_this_plugin(plugin_harness: Harness) -> None:
    ctx = plugin_harness(PLUGIN, config={"provider": "tavily", "tavily_api_key": KEYS["tavily"]}).context()

    assert plugins.web_search.validate_config(plugin_id="another", config=ctx.config, ctx=ctx) is None
